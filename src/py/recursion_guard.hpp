// Bounds every recursive step of the walk: a stack overflow in wasm kills the
// whole page, so deep nesting must end in RecursionError like the stdlib's.
#pragma once
#include <Python.h>

#include "pyref.hpp"

namespace webpickle::py {

class RecursionGuard {
public:
    RecursionGuard() {
        if (Py_EnterRecursiveCall(" while pickling an object")) raise_error();
    }
    ~RecursionGuard() { Py_LeaveRecursiveCall(); }
    RecursionGuard(const RecursionGuard&) = delete;
    RecursionGuard& operator=(const RecursionGuard&) = delete;
};

}  // namespace webpickle::py
