// Objects of the running interpreter that the pickler needs again and again
// (copyreg's tables, the stdlib types that rebuild functions, interned
// attribute names), looked up once when the extension is imported and
// kept in Internals (internals.hpp).
#pragma once
#include <Python.h>

#include "../core/bytecode_scan.hpp"

namespace webpickle::py {

struct Runtime {
    // Modules and tables.
    PyObject* sys_modules;            // sys.modules
    PyObject* copyreg_dispatch_table; // copyreg.dispatch_table
    PyObject* extension_registry;     // copyreg._extension_registry
    PyObject* reverse_name_mapping;   // _compat_pickle.REVERSE_NAME_MAPPING
    PyObject* reverse_import_mapping; // _compat_pickle.REVERSE_IMPORT_MAPPING
    PyObject* import_module;          // importlib.import_module
    PyObject* functools_partial;

    // Exception and special types.
    PyObject* PicklingError;
    PyObject* PickleBuffer_type;
    PyTypeObject* cell_type;
    PyTypeObject* method_type;

    // Callables and objects written into streams by identity.
    PyObject* builtin_getattr;
    PyObject* object_reduce_ex;       // object.__reduce_ex__, to spot overrides
    PyObject* object_reduce;
    PyObject* newobj_name;            // "__newobj__"
    PyObject* newobj_ex_name;         // "__newobj_ex__"

    GlobalOpcodes global_opcodes;     // read from `dis` at import
    int import_name_opcode;
    int import_from_opcode;
    unsigned long python_hexversion;

    // Interned attribute names.
    PyObject* s_reduce_ex;
    PyObject* s_reduce;
    PyObject* s_qualname;
    PyObject* s_name;
    PyObject* s_module;
    PyObject* s_main;
    PyObject* s_dict;
    PyObject* s_new;
    PyObject* s_raw;
    PyObject* s_add_note;
};

// An interned str for a string literal, made on first use and kept. Keyed by
// the literal's address, so call it with literals only.
PyObject* name_of(const char* literal);

// module.attr (a dotted attr is followed) of a stdlib module, imported on
// first use and kept. Literals only, as for name_of.
PyObject* stdlib_attr(const char* module, const char* attr);

// The runtime (kept in Internals), initialised by init_runtime() when the
// module is imported (init_internals() calls it).
const Runtime& runtime();
// Looks everything up; raises (PythonError) if the interpreter lacks something.
void init_runtime();

}  // namespace webpickle::py
