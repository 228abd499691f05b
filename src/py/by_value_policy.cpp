// Which functions and classes are pickled by value: those the loading side
// could not import by name (lambdas, locals, anything of __main__), and those
// of modules registered with register_pickle_by_value().
#include "by_value_policy.hpp"

#include "internals.hpp"
#include "pickler.hpp"
#include "pyref.hpp"
#include "runtime.hpp"

namespace webpickle::py {
namespace {

bool is_main_module_name(PyObject* name) {
    return PyUnicode_Check(name) && (PyUnicode_CompareWithASCIIString(name, "__main__") == 0 ||
                                     PyUnicode_CompareWithASCIIString(name, "__mp_main__") == 0);
}

}  // namespace

PyObject* registered_by_value_modules() {
    PyObject*& modules = internals().registered_modules;
    if (modules == nullptr) modules = Ref::check(PySet_New(nullptr)).release();
    return modules;
}

bool module_is_registered(PyObject* module_name) {
    if (!PyUnicode_Check(module_name)) return false;
    PyObject* registered = registered_by_value_modules();
    if (PySet_GET_SIZE(registered) == 0) return false;
    // The module or any package above it: "pkg.sub.mod" matches "pkg".
    Ref name = Ref::borrow(module_name);
    while (true) {
        int found = PySet_Contains(registered, name.get());
        if (found < 0) raise_error();
        if (found) return true;
        Py_ssize_t dot = PyUnicode_FindChar(name.get(), '.', 0, PyUnicode_GET_LENGTH(name.get()), -1);
        if (dot < 0) return false;
        name = Ref::check(PyUnicode_Substring(name.get(), 0, dot));
    }
}

namespace {

// obj's __qualname__ (or __name__) and __module__, read from the object
// itself for functions and classes (most of what reaches here), by getattr
// otherwise. The module may come back null.
void names_of(PyObject* obj, Ref& qualname, Ref& module_name) {
    if (PyFunction_Check(obj)) {
        auto* f = reinterpret_cast<PyFunctionObject*>(obj);
        qualname = Ref::borrow(f->func_qualname);
        module_name = Ref::borrow(f->func_module);
        return;
    }
    if (PyType_Check(obj) && PyType_HasFeature(reinterpret_cast<PyTypeObject*>(obj), Py_TPFLAGS_HEAPTYPE)) {
        auto* type = reinterpret_cast<PyHeapTypeObject*>(obj);
        PyObject* module = nullptr;
        if (PyDict_GetItemRef(type->ht_type.tp_dict, runtime().s_module, &module) < 0) raise_error();
        if (module != nullptr) {  // a class statement's: else __module__ comes from the metaclass
            qualname = Ref::borrow(type->ht_qualname);
            module_name = Ref::steal(module);
            return;
        }
    }
    PyObject* found = nullptr;
    if (PyObject_GetOptionalAttr(obj, runtime().s_qualname, &found) < 0) raise_error();
    qualname = found ? Ref::steal(found) : Ref::check(PyObject_GetAttr(obj, runtime().s_name));
    if (PyObject_GetOptionalAttr(obj, runtime().s_module, &found) < 0) raise_error();
    module_name = Ref::steal(found);
}

}  // namespace

bool pickle_by_value(PyObject* obj) {
    Ref name, module_name;
    names_of(obj, name, module_name);
    if (PyUnicode_Check(name.get())) {
        // The common answers first, without imports or exceptions: an object
        // of __main__, or a local one, always travels by value ...
        if (module_name && is_main_module_name(module_name.get())) return true;
        Py_ssize_t found = PyUnicode_Find(name.get(), name_of("<locals>"), 0, PY_SSIZE_T_MAX, 1);
        if (found == -2) raise_error();
        if (found >= 0) return true;
        if (module_name && PyUnicode_Check(module_name.get())) {
            // ... one found where it was found before travels by reference,
            // unless its module was registered since ...
            if (internals().global_names.find(obj, name.get(), runtime().sys_modules))
                return module_is_registered(module_name.get());
            // ... as does one whose module is not loaded (made at run time:
            // importing it on the other side would fail too) or that is not
            // found under its name there. One found travels by reference,
            // unless its module was registered.
            PyObject* module = nullptr;
            if (PyDict_GetItemRef(runtime().sys_modules, module_name.get(), &module) < 0) raise_error();
            if (module == nullptr) return true;
            Ref loaded = Ref::steal(module);
            Ref current = loaded;
            Ref parts = Ref::check(PyUnicode_Split(name.get(), name_of("."), -1));
            for (Py_ssize_t i = 0; i < PyList_GET_SIZE(parts.get()); ++i) {
                PyObject* next = nullptr;
                if (PyObject_GetOptionalAttr(current.get(), PyList_GET_ITEM(parts.get(), i), &next) < 0) raise_error();
                if (next == nullptr) return true;
                current = Ref::steal(next);
            }
            if (current.get() != obj) return true;
            internals().global_names.add(obj, name.get(), module_name.get(), loaded.get());
            return module_is_registered(module_name.get());
        }
    }
    // Everything else takes the stdlib's full lookup.
    Ref found_in = find_module_name(obj, name.get(), false);
    if (!found_in) return true;
    return is_main_module_name(found_in.get()) || module_is_registered(found_in.get());
}

}  // namespace webpickle::py
