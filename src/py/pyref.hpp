// Small helpers for the CPython C API: an owning reference and an exception
// that means "a Python error is set; unwind and let the caller report it".
#pragma once
#include <Python.h>

#include <utility>

namespace webpickle::py {

// Thrown after a CPython call failed and left an exception set. It carries
// nothing: the Python error indicator is the payload.
struct PythonError {};

[[noreturn]] inline void raise_error() { throw PythonError{}; }

// Sets a Python exception and unwinds.
[[noreturn]] inline void raise(PyObject* type, const char* message) {
    PyErr_SetString(type, message);
    throw PythonError{};
}

template <typename... Args>
[[noreturn]] void raise_format(PyObject* type, const char* format, Args... args) {
    PyErr_Format(type, format, args...);
    throw PythonError{};
}

// An owned strong reference; null means "no object".
class Ref {
public:
    Ref() = default;
    static Ref steal(PyObject* p) { return Ref(p); }
    static Ref borrow(PyObject* p) {
        Py_XINCREF(p);
        return Ref(p);
    }
    // Takes a new reference from a C API call; unwinds if it returned NULL.
    static Ref check(PyObject* p) {
        if (p == nullptr) raise_error();
        return Ref(p);
    }
    Ref(const Ref& other) : p_(other.p_) { Py_XINCREF(p_); }
    Ref(Ref&& other) noexcept : p_(std::exchange(other.p_, nullptr)) {}
    Ref& operator=(Ref other) noexcept {
        std::swap(p_, other.p_);
        return *this;
    }
    ~Ref() { Py_XDECREF(p_); }

    PyObject* get() const { return p_; }
    PyObject* release() { return std::exchange(p_, nullptr); }
    explicit operator bool() const { return p_ != nullptr; }

private:
    explicit Ref(PyObject* p) : p_(p) {}
    PyObject* p_ = nullptr;
};

// a == b for two objects, either of which may be null (equal only to null).
inline bool objects_equal(PyObject* a, PyObject* b) {
    if (a == b) return true;
    if (a == nullptr || b == nullptr) return false;
    int same = PyObject_RichCompareBool(a, b, Py_EQ);
    if (same < 0) raise_error();
    return same != 0;
}

// Calls exc.add_note(note), ignoring an exception type that refuses notes.
void add_note(PyObject* exc, PyObject* note);

// Adds a note, formatted with PyUnicode_FromFormat, to the exception being
// raised, which stays raised. Only the failure path calls it.
template <typename... Args>
void note_current_error(const char* format, Args... args) {
    PyObject* exc = PyErr_GetRaisedException();
    if (exc == nullptr) return;
    PyObject* note = PyUnicode_FromFormat(format, args...);  // may call repr()
    if (note != nullptr) {
        add_note(exc, note);
        Py_DECREF(note);
    } else {
        PyErr_Clear();
    }
    PyErr_SetRaisedException(exc);
}

// Runs write(); when it raises, runs add_notes() (which calls
// note_current_error, once or more, or not at all) and lets the error go on:
// for notes that depend on how far write() got.
template <typename Write, typename AddNotes>
void on_failure(Write&& write, AddNotes&& add_notes) {
    try {
        write();
    } catch (PythonError&) {
        add_notes();
        throw;
    }
}

// Runs write(); when it raises, notes where on the error (formatted only
// then, by note_current_error) and lets it go on: the one way the walker
// says "when serializing ..." on the way out of a failure.
template <typename Write, typename... Args>
void with_note(Write&& write, const char* format, Args... args) {
    on_failure(write, [&] { note_current_error(format, args...); });
}

}  // namespace webpickle::py
