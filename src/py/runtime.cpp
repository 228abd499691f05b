#include "runtime.hpp"

#include "internals.hpp"

#include <cstring>
#include <string>
#include <unordered_map>
#include <utility>

#include "pyref.hpp"

namespace webpickle::py {
namespace {

// A new strong reference to module.attr, kept for the life of the process.
PyObject* attribute_of(const char* module, const char* attr) {
    Ref mod = Ref::check(PyImport_ImportModule(module));
    return Ref::check(PyObject_GetAttrString(mod.get(), attr)).release();
}

PyObject* interned(const char* text) {
    PyObject* s = PyUnicode_InternFromString(text);
    if (s == nullptr) raise_error();
    return s;
}

int opcode_number(PyObject* opmap, const char* name) {
    PyObject* value = PyDict_GetItemString(opmap, name);  // borrowed
    if (value == nullptr) return -1;
    return static_cast<int>(PyLong_AsLong(value));
}

GlobalOpcodes read_global_opcodes() {
    Ref opmap = Ref::steal(attribute_of("dis", "opmap"));
    GlobalOpcodes ops;
    // LOAD_GLOBAL keeps a flag in its lowest bit since Python 3.11.
    const struct {
        const char* name;
        int shift;
    } name_ops[] = {{"LOAD_GLOBAL", 1},  {"STORE_GLOBAL", 0}, {"DELETE_GLOBAL", 0},
                    {"LOAD_NAME", 0},    {"STORE_NAME", 0},   {"DELETE_NAME", 0},
                    {"LOAD_FROM_DICT_OR_GLOBALS", 0}};
    for (const auto& op : name_ops) {
        int number = opcode_number(opmap.get(), op.name);
        if (number >= 0) ops.name_ops.push_back(NameOpcode{number, op.shift});
    }
    ops.extended_arg = opcode_number(opmap.get(), "EXTENDED_ARG");
    return ops;
}

}  // namespace

const Runtime& runtime() { return internals().runtime; }

PyObject* name_of(const char* literal) {
    LiteralCache& cache = internals().names;
    if (PyObject* found = cache.find(literal)) return found;
    PyObject* s = interned(literal);
    cache.add(s, literal);
    return s;
}

PyObject* stdlib_attr(const char* module, const char* attr) {
    LiteralCache& cache = internals().stdlib_attributes;
    if (PyObject* found = cache.find(module, attr)) return found;
    Ref value = Ref::check(PyImport_ImportModule(module));
    const char* start = attr;
    while (true) {
        const char* dot = std::strchr(start, '.');
        std::string part = dot ? std::string(start, dot) : std::string(start);
        value = Ref::check(PyObject_GetAttrString(value.get(), part.c_str()));
        if (!dot) break;
        start = dot + 1;
    }
    PyObject* kept = value.release();
    cache.add(kept, module, attr);
    return kept;
}

void init_runtime() {
    Runtime& r = internals().runtime;
    r.sys_modules = PyImport_GetModuleDict();
    Py_INCREF(r.sys_modules);
    r.copyreg_dispatch_table = attribute_of("copyreg", "dispatch_table");
    internals().dispatch_table.start(r.copyreg_dispatch_table);  // optional: without it, a lookup per object
    r.extension_registry = attribute_of("copyreg", "_extension_registry");
    r.reverse_name_mapping = attribute_of("_compat_pickle", "REVERSE_NAME_MAPPING");
    r.reverse_import_mapping = attribute_of("_compat_pickle", "REVERSE_IMPORT_MAPPING");
    r.import_module = attribute_of("importlib", "import_module");
    r.functools_partial = attribute_of("functools", "partial");
    r.PicklingError = attribute_of("pickle", "PicklingError");
    r.PickleBuffer_type = attribute_of("pickle", "PickleBuffer");
    r.cell_type = reinterpret_cast<PyTypeObject*>(attribute_of("types", "CellType"));
    r.method_type = reinterpret_cast<PyTypeObject*>(attribute_of("types", "MethodType"));
    r.builtin_getattr = attribute_of("builtins", "getattr");
    Ref object_type = Ref::borrow(reinterpret_cast<PyObject*>(&PyBaseObject_Type));
    r.object_reduce_ex = Ref::check(PyObject_GetAttrString(object_type.get(), "__reduce_ex__")).release();
    r.object_reduce = Ref::check(PyObject_GetAttrString(object_type.get(), "__reduce__")).release();
    r.newobj_name = interned("__newobj__");
    r.newobj_ex_name = interned("__newobj_ex__");
    r.global_opcodes = read_global_opcodes();
    {
        Ref opmap = Ref::steal(attribute_of("dis", "opmap"));
        r.import_name_opcode = opcode_number(opmap.get(), "IMPORT_NAME");
        r.import_from_opcode = opcode_number(opmap.get(), "IMPORT_FROM");
    }
    r.python_hexversion = PY_VERSION_HEX;

    r.s_reduce_ex = interned("__reduce_ex__");
    r.s_reduce = interned("__reduce__");
    r.s_qualname = interned("__qualname__");
    r.s_name = interned("__name__");
    r.s_module = interned("__module__");
    r.s_main = interned("__main__");
    r.s_dict = interned("__dict__");
    r.s_new = interned("__new__");
    r.s_raw = interned("raw");
    r.s_add_note = interned("add_note");
}

void add_note(PyObject* exc, PyObject* note) {
    PyObject* result = PyObject_CallMethodOneArg(exc, internals().runtime.s_add_note, note);
    if (result == nullptr) {
        PyErr_Clear();  // add_note was overridden and failed: keep the original error
    } else {
        Py_DECREF(result);
    }
}

}  // namespace webpickle::py
