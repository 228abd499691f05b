// The writers of the special-types table (special_types.cpp), one per kind
// of object, each in the file of its feature. Only the table and those files
// include this header.
#pragma once
#include <Python.h>

#include <vector>

namespace webpickle::py {

class Pickler;

// save_descriptors.cpp: what class bodies hold.
bool write_method_descriptor(Pickler& p, PyObject* obj);  // classmethod, staticmethod, their abc subclasses
bool write_property(Pickler& p, PyObject* obj);           // property, abc.abstractproperty
bool write_mappingproxy(Pickler& p, PyObject* obj);
bool write_slot_descriptor(Pickler& p, PyObject* obj);    // getset and member descriptors
bool write_identity_singleton(Pickler& p, PyObject* obj);
// The types of the singletons write_identity_singleton keeps as themselves.
std::vector<PyTypeObject*> identity_singleton_types();

// save_special.cpp: containers and typing objects.
bool write_weakset(Pickler& p, PyObject* obj);
bool write_dict_view(Pickler& p, PyObject* obj);
bool write_typing_variable(Pickler& p, PyObject* obj);

// save_io.cpp: files and buffers.
bool write_text_file(Pickler& p, PyObject* obj);
bool write_memoryview(Pickler& p, PyObject* obj);

// save_stdlib_closure.cpp: functools.lru_cache and functools.cache wrappers.
bool write_lru_cache_wrapper(Pickler& p, PyObject* obj);

}  // namespace webpickle::py
