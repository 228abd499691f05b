// Which functions and classes are pickled by value: those the loading side
// could not import by name (lambdas, locals, anything of __main__), and those
// of modules registered with register_pickle_by_value().
#include "by_value_policy.hpp"

#include "pickler.hpp"
#include "pyref.hpp"
#include "runtime.hpp"

namespace webpickle::py {
namespace {

PyObject* g_registered_modules = nullptr;  // a set of module names

bool is_main_module_name(PyObject* name) {
    return PyUnicode_Check(name) && (PyUnicode_CompareWithASCIIString(name, "__main__") == 0 ||
                                     PyUnicode_CompareWithASCIIString(name, "__mp_main__") == 0);
}

}  // namespace

PyObject* registered_by_value_modules() {
    if (g_registered_modules == nullptr) g_registered_modules = Ref::check(PySet_New(nullptr)).release();
    return g_registered_modules;
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

bool pickle_by_value(PyObject* obj) {
    PyObject* qualname = nullptr;
    if (PyObject_GetOptionalAttr(obj, runtime().s_qualname, &qualname) < 0) raise_error();
    Ref name = qualname ? Ref::steal(qualname) : Ref::check(PyObject_GetAttr(obj, runtime().s_name));
    if (PyUnicode_Check(name.get())) {
        // The common answers first, without imports or exceptions: a local
        // object, or one of __main__, always travels by value ...
        Py_ssize_t found = PyUnicode_Find(name.get(), name_of("<locals>"), 0, PY_SSIZE_T_MAX, 1);
        if (found == -2) raise_error();
        if (found >= 0) return true;
        PyObject* module_attr = nullptr;
        if (PyObject_GetOptionalAttr(obj, runtime().s_module, &module_attr) < 0) raise_error();
        Ref module_name = Ref::steal(module_attr);
        if (module_name && PyUnicode_Check(module_name.get())) {
            if (is_main_module_name(module_name.get())) return true;
            // ... as does one whose module is not loaded (made at run time:
            // importing it on the other side would fail too) or that is not
            // found under its name there. One found travels by reference,
            // unless its module was registered.
            PyObject* module = nullptr;
            if (PyDict_GetItemRef(runtime().sys_modules, module_name.get(), &module) < 0) raise_error();
            if (module == nullptr) return true;
            Ref current = Ref::steal(module);
            Ref parts = Ref::check(PyUnicode_Split(name.get(), name_of("."), -1));
            for (Py_ssize_t i = 0; i < PyList_GET_SIZE(parts.get()); ++i) {
                PyObject* next = nullptr;
                if (PyObject_GetOptionalAttr(current.get(), PyList_GET_ITEM(parts.get(), i), &next) < 0) raise_error();
                if (next == nullptr) return true;
                current = Ref::steal(next);
            }
            if (current.get() != obj) return true;
            return module_is_registered(module_name.get());
        }
    }
    // Everything else takes the stdlib's full lookup.
    Ref module_name = find_module_name(obj, name.get(), false);
    if (!module_name) return true;
    return is_main_module_name(module_name.get()) || module_is_registered(module_name.get());
}

}  // namespace webpickle::py
