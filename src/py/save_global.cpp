// References to module attributes (classes, functions, stdlib helpers) by
// qualified name, with the stdlib's lookup rules and error messages.
#include <string>
#include <unordered_map>
#include <vector>

#include "internals.hpp"
#include "pickler.hpp"
#include "writers.hpp"
#include "runtime.hpp"

namespace webpickle::py {
namespace {

// Raises PicklingError(format % args) with the error being handled as its context.
template <typename... Args>
[[noreturn]] void raise_chained(const char* format, Args... args) {
    PyObject* cause = PyErr_GetRaisedException();
    PyErr_Format(runtime().PicklingError, format, args...);
    if (cause != nullptr) {
        PyObject* error = PyErr_GetRaisedException();
        PyException_SetContext(error, cause);  // steals cause
        PyErr_SetRaisedException(error);
    }
    raise_error();
}

Ref split_dotted(PyObject* name) {
    return Ref::check(PyUnicode_Split(name, name_of("."), -1));
}

// getattr along a dotted path; null (error set) on failure.
PyObject* get_dotted(PyObject* root, PyObject* parts) {
    Ref current = Ref::borrow(root);
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(parts); ++i) {
        PyObject* next = PyObject_GetAttr(current.get(), PyList_GET_ITEM(parts, i));
        if (next == nullptr) return nullptr;
        current = Ref::steal(next);
    }
    return current.release();
}

Ref import_module(PyObject* module_name) {
    // Loaded already (nearly always): sys.modules has it, and the import
    // machinery's own checks cost more than the rest of writing a global.
    PyObject* loaded = nullptr;
    if (PyDict_GetItemRef(runtime().sys_modules, module_name, &loaded) < 0) raise_error();
    if (loaded != nullptr && loaded != Py_None) return Ref::steal(loaded);
    Py_XDECREF(loaded);
    Ref imported = Ref::steal(PyImport_ImportModuleLevelObject(module_name, nullptr, nullptr, nullptr, 0));
    if (!imported) return imported;
    return Ref::steal(PyObject_GetItem(runtime().sys_modules, module_name));
}

}  // namespace

// The stdlib's whichmodule(): where obj can be imported from as `name`.
// With raise_errors false, returns null instead of raising when it cannot.
Ref find_module_name(PyObject* obj, PyObject* name, bool raise_errors) {
    const Runtime& rt = runtime();
    GlobalNameCache& cache = internals().global_names;
    if (PyObject* known = cache.find(obj, name, rt.sys_modules)) return Ref::borrow(known);
    Ref parts = split_dotted(name);
    int local = PySequence_Contains(parts.get(), name_of("<locals>"));
    if (local < 0) raise_error();
    if (local) {
        if (!raise_errors) return Ref();
        raise_format(rt.PicklingError, "Can't pickle local object %R", obj);
    }
    PyObject* module_attr = nullptr;
    if (PyObject_GetOptionalAttr(obj, rt.s_module, &module_attr) < 0) raise_error();
    Ref module_name = Ref::steal(module_attr);
    if (!module_name || module_name.get() == Py_None) {
        // Search every loaded module, as the stdlib does for objects without __module__.
        Ref modules = Ref::check(PyDict_Copy(rt.sys_modules));
        Py_ssize_t pos = 0;
        PyObject *key, *module;
        while (PyDict_Next(modules.get(), &pos, &key, &module)) {
            if (module == Py_None || !PyUnicode_Check(key) || PyUnicode_CompareWithASCIIString(key, "__main__") == 0 ||
                PyUnicode_CompareWithASCIIString(key, "__mp_main__") == 0)
                continue;
            PyObject* found = get_dotted(module, parts.get());
            if (found == nullptr) {
                if (!PyErr_ExceptionMatches(PyExc_AttributeError)) raise_error();
                PyErr_Clear();
                continue;
            }
            Py_DECREF(found);
            if (found == obj) return Ref::borrow(key);
        }
        module_name = Ref::borrow(rt.s_main);
    }
    Ref module = import_module(module_name.get());
    if (!module) {
        if (!PyErr_ExceptionMatches(PyExc_ImportError) && !PyErr_ExceptionMatches(PyExc_ValueError) &&
            !PyErr_ExceptionMatches(PyExc_KeyError))
            raise_error();
        if (!raise_errors) {
            PyErr_Clear();
            return Ref();
        }
        PyObject* error = PyErr_GetRaisedException();
        PyErr_SetRaisedException(error);
        Ref text = Ref::check(PyObject_Str(error));
        raise_chained("Can't pickle %R: %U", obj, text.get());
    }
    PyObject* found = get_dotted(module.get(), parts.get());
    if (found == nullptr) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError)) raise_error();
        if (!raise_errors) {
            PyErr_Clear();
            return Ref();
        }
        raise_chained("Can't pickle %R: it's not found as %U.%U", obj, module_name.get(), name);
    }
    Py_DECREF(found);
    if (found == obj) {
        cache.add(obj, name, module_name.get(), module.get());
        return module_name;
    }
    if (!raise_errors) return Ref();
    raise_format(rt.PicklingError, "Can't pickle %R: it's not the same object as %U.%U", obj, module_name.get(), name);
}

void Pickler::save_global(PyObject* obj, PyObject* name_arg) {
    const Runtime& rt = runtime();
    Ref name = Ref::borrow(name_arg);
    if (!name) {
        PyObject* qualname = nullptr;
        if (PyObject_GetOptionalAttr(obj, rt.s_qualname, &qualname) < 0) raise_error();
        name = qualname ? Ref::steal(qualname) : Ref::check(PyObject_GetAttr(obj, rt.s_name));
    }
    Ref module_name = find_module_name(obj, name.get(), true);

    // copyreg's extension codes: nearly always none registered.
    PyObject* code_obj = nullptr;
    if (PyDict_GET_SIZE(rt.extension_registry) != 0) {
        Ref key = Ref::check(PyTuple_Pack(2, module_name.get(), name.get()));
        if (PyDict_GetItemRef(rt.extension_registry, key.get(), &code_obj) < 0) raise_error();
    }
    if (code_obj != nullptr) {
        Ref owned = Ref::steal(code_obj);
        long value = PyLong_AsLong(code_obj);  // TypeError or OverflowError for a corrupt registry
        if (value == -1 && PyErr_Occurred()) raise_error();
        if (value <= 0 || value > 0x7fffffff) raise_format(PyExc_RuntimeError, "extension code %ld is out of range", value);
        writer_.extension(static_cast<std::uint32_t>(value));
        return;
    }
    write_global_reference(module_name.get(), name.get());
    memoize(obj);
}

void Pickler::write_global_reference(PyObject* module_name, PyObject* name) {
    if (protocol() >= 4) {
        save(module_name);
        save(name);
        writer_.opcode(op::STACK_GLOBAL);
        return;
    }
    // Protocols 2 and 3 name only top-level objects: reach nested ones with getattr.
    Ref parts = split_dotted(name);
    Py_ssize_t depth = PyList_GET_SIZE(parts.get());
    for (Py_ssize_t i = 1; i < depth; ++i) save_global_as(runtime().builtin_getattr, "builtins", "getattr");
    write_toplevel_global(module_name, PyList_GET_ITEM(parts.get(), 0));
    for (Py_ssize_t i = 1; i < depth; ++i) {
        save(PyList_GET_ITEM(parts.get(), i));
        writer_.opcode(op::TUPLE2);
        writer_.opcode(op::REDUCE);
    }
}

void Pickler::write_toplevel_global(PyObject* module_name, PyObject* name) {
    const Runtime& rt = runtime();
    Ref module = Ref::borrow(module_name), top = Ref::borrow(name);
    const char* encoding = "utf-8";
    if (protocol() < 3) {
        // fix_imports: name the Python 2 module, as pickle.Pickler does by default.
        Ref pair = Ref::check(PyTuple_Pack(2, module_name, name));
        PyObject* mapped = nullptr;
        if (PyDict_GetItemRef(rt.reverse_name_mapping, pair.get(), &mapped) < 0) raise_error();
        if (mapped != nullptr) {
            Ref owned = Ref::steal(mapped);
            module = Ref::borrow(PyTuple_GET_ITEM(mapped, 0));
            top = Ref::borrow(PyTuple_GET_ITEM(mapped, 1));
        } else {
            if (PyDict_GetItemRef(rt.reverse_import_mapping, module_name, &mapped) < 0) raise_error();
            if (mapped != nullptr) module = Ref::steal(mapped);
        }
        encoding = "ascii";
    }
    Ref module_bytes = Ref::steal(PyUnicode_AsEncodedString(module.get(), encoding, "strict"));
    if (!module_bytes) {
        if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) raise_error();
        raise_chained("can't pickle module identifier %R using pickle protocol %d", module.get(), protocol());
    }
    Ref name_bytes = Ref::steal(PyUnicode_AsEncodedString(top.get(), encoding, "strict"));
    if (!name_bytes) {
        if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) raise_error();
        raise_chained("can't pickle global identifier %R using pickle protocol %d", top.get(), protocol());
    }
    writer_.global_text(std::string_view(PyBytes_AS_STRING(module_bytes.get()),
                                         static_cast<std::size_t>(PyBytes_GET_SIZE(module_bytes.get()))),
                        std::string_view(PyBytes_AS_STRING(name_bytes.get()),
                                         static_cast<std::size_t>(PyBytes_GET_SIZE(name_bytes.get()))));
}

void Pickler::save_global_as(PyObject* obj, const char* module, const char* qualname) {
    if (memo_get_if_present(obj)) return;
    write_global_reference(name_of(module), name_of(qualname));
    memoize(obj);
}

// The name in the types module of a built-in type that builtins lacks
// (types.FunctionType for <class 'function'>), or null.
static const char* types_module_name(PyObject* type) {
    std::unordered_map<PyObject*, const char*>*& table = internals().types_module_names;
    if (table == nullptr) {
        std::unordered_map<PyObject*, const char*> built;
        Ref types_module = Ref::check(PyImport_ImportModule("types"));
        Ref builtins = Ref::check(PyImport_ImportModule("builtins"));
        for (const char* name :
             {"FunctionType", "CodeType", "CellType", "MethodType", "BuiltinFunctionType", "WrapperDescriptorType",
              "MethodWrapperType", "MethodDescriptorType", "ClassMethodDescriptorType", "ModuleType",
              "MappingProxyType", "GeneratorType", "CoroutineType", "AsyncGeneratorType", "FrameType",
              "TracebackType", "GetSetDescriptorType", "MemberDescriptorType", "SimpleNamespace", "CapsuleType"}) {
            PyObject* value = nullptr;
            if (PyObject_GetOptionalAttrString(types_module.get(), name, &value) < 0) raise_error();
            if (value == nullptr || !PyType_Check(value)) {
                Py_XDECREF(value);
                continue;
            }
            // Only types builtins has no name for: `int` stays builtins.int.
            PyObject* same = nullptr;
            Ref qualname = Ref::check(PyObject_GetAttr(value, runtime().s_qualname));
            if (PyObject_GetOptionalAttr(builtins.get(), qualname.get(), &same) < 0) raise_error();
            Ref owned_same = Ref::steal(same);
            if (same != value) built.emplace(value, name);  // the reference is kept for the process's life
            else Py_DECREF(value);
        }
        table = new std::unordered_map<PyObject*, const char*>(std::move(built));
    }
    auto found = table->find(type);
    return found == table->end() ? nullptr : found->second;
}

void Pickler::save_type(PyObject* obj) {
    // The types of the singletons have no importable name: type(None) etc.
    PyObject* singleton = nullptr;
    if (obj == reinterpret_cast<PyObject*>(Py_TYPE(Py_None))) singleton = Py_None;
    else if (obj == reinterpret_cast<PyObject*>(Py_TYPE(Py_NotImplemented))) singleton = Py_NotImplemented;
    else if (obj == reinterpret_cast<PyObject*>(Py_TYPE(Py_Ellipsis))) singleton = Py_Ellipsis;
    if (singleton != nullptr) {
        Ref args = Ref::check(PyTuple_Pack(1, singleton));
        save_reduce(reinterpret_cast<PyObject*>(&PyType_Type), args.get(), nullptr, nullptr, nullptr, nullptr, obj);
        return;
    }
    // Built-in types without a name in builtins (function, code, cell, ...)
    // have one in the types module: types.FunctionType.
    if (const char* name = types_module_name(obj)) {
        save_global_as(obj, "types", name);
        return;
    }
    py::save_class(*this, obj);
}

}  // namespace webpickle::py
