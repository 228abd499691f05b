// The rule for pickling by value (see by_value_policy.cpp).
#pragma once
#include <Python.h>

namespace webpickle::py {

// True when obj (a function or class) must travel by value.
bool pickle_by_value(PyObject* obj);
// True when the module, or a package above it, was registered for by-value pickling.
bool module_is_registered(PyObject* module_name);
// The set of registered module names, shared with the Python API.
PyObject* registered_by_value_modules();

}  // namespace webpickle::py
