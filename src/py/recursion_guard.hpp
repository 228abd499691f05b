// Bounds every recursive step of the walk. Natively, CPython's own check
// (Py_EnterRecursiveCall, based on the C stack) raises RecursionError in
// time. In WebAssembly that check does not see the engine's call stack,
// where wasm frames live: about 8,000 nested lists overflow it in Node and
// kill the whole runtime (the stdlib's pickler too). So there we also count
// levels and stop well before. A level costs 2 to 5 engine frames (a list
// 2, a frozenset 3, an object rebuilt by __reduce__ 5): 2,500 levels of
// frozensets overflowed on a loaded machine, so the cap is 1,000 (CPython's
// own default recursion limit).
#pragma once
#include <Python.h>

#include "pyref.hpp"

namespace webpickle::py {

#ifdef __EMSCRIPTEN__
inline constexpr int kMaxNesting = 1000;
#endif

class RecursionGuard {
public:
    RecursionGuard() {
#ifdef __EMSCRIPTEN__
        if (depth_ >= kMaxNesting)
            raise_format(PyExc_RecursionError,
                         "maximum recursion depth exceeded while pickling an object "
                         "(WebAssembly's call stack allows %d nested levels)",
                         kMaxNesting);
        ++depth_;
#endif
        if (Py_EnterRecursiveCall(" while pickling an object")) {
#ifdef __EMSCRIPTEN__
            --depth_;
#endif
            raise_error();
        }
    }
    ~RecursionGuard() {
        Py_LeaveRecursiveCall();
#ifdef __EMSCRIPTEN__
        --depth_;
#endif
    }
    RecursionGuard(const RecursionGuard&) = delete;
    RecursionGuard& operator=(const RecursionGuard&) = delete;

private:
#ifdef __EMSCRIPTEN__
    static inline thread_local int depth_ = 0;
#endif
};

}  // namespace webpickle::py
