// The entry points of the per-feature writers: free functions in their own
// files that take the Pickler, with their helpers private to those files.
// (The writers of the special-types table are in special_writers.hpp.)
#pragma once
#include <Python.h>

#include <cstdint>

namespace webpickle::py {

class Pickler;
struct FunctionParts;

// A class by value, or by reference when it can be imported (save_class.cpp).
void save_class(Pickler& p, PyObject* cls);
// Registers the object just built at memo `index` under cls's class id
// (class_registry.hpp), in save_class.cpp.
void write_class_registration(Pickler& p, PyObject* cls, std::uint32_t index);

// A function: by value when the loading side could not import it, else by
// reference (save_function.cpp); a code object and a cell, by value
// (save_code.cpp, save_function.cpp).
bool save_function(Pickler& p, PyObject* func);
void save_code(Pickler& p, PyObject* code);
void save_cell(Pickler& p, PyObject* cell);

// An instance of a plain class written as the stdlib would (cls () NEWOBJ,
// state, BUILD) without calling __reduce_ex__; false, with nothing written,
// when the class does not qualify (plain_instances.cpp).
bool save_plain_instance(Pickler& p, PyObject* obj);

// A module: by reference when importable, else by value (save_module.cpp).
void save_module(Pickler& p, PyObject* module);
// Before a function by value: the imports its body needs on the loading
// side (submodules reached through a package's attributes, registered
// modules it imports), in save_module.cpp.
void install_imported_modules(Pickler& p, const FunctionParts& parts);
// True when a function's copy of its globals needs __package__: its module
// is in a package and its code imports (relative imports resolve against
// __package__). In save_module.cpp.
bool needs_package_name(PyObject* code, PyObject* globals);

// A closure of a stdlib factory (dataclasses' __annotate__, reprlib's
// recursive_repr wrapper, functools.singledispatch), rebuilt by calling the
// factory; false, with nothing written, for any other function
// (save_stdlib_closure.cpp).
bool save_stdlib_closure(Pickler& p, const FunctionParts& parts);

}  // namespace webpickle::py
