// An OutputBuffer that grows a bytes object in place, so dumps() returns the
// bytes it wrote without a final copy.
#pragma once
#include <Python.h>

#include <new>

#include "../core/output_buffer.hpp"
#include "pyref.hpp"

namespace webpickle::py {

class PyBytesBuffer final : public OutputBuffer {
public:
    PyBytesBuffer() = default;
    PyBytesBuffer(const PyBytesBuffer&) = delete;
    PyBytesBuffer& operator=(const PyBytesBuffer&) = delete;
    ~PyBytesBuffer() override { Py_XDECREF(bytes_); }

    // Shrinks the bytes object to what was written and hands it over.
    Ref take() {
        if (bytes_ == nullptr) return Ref::check(PyBytes_FromStringAndSize(nullptr, 0));
        if (_PyBytes_Resize(&bytes_, static_cast<Py_ssize_t>(size())) < 0) raise_error();
        PyObject* out = bytes_;
        bytes_ = nullptr;
        return Ref::steal(out);
    }

protected:
    std::uint8_t* reallocate(std::size_t min_capacity, std::size_t& capacity) override {
        auto n = static_cast<Py_ssize_t>(min_capacity);
        if (bytes_ == nullptr) {
            bytes_ = PyBytes_FromStringAndSize(nullptr, n);
            if (bytes_ == nullptr) raise_error();
        } else if (_PyBytes_Resize(&bytes_, n) < 0) {
            raise_error();  // _PyBytes_Resize freed the object and set MemoryError
        }
        capacity = min_capacity;
        return reinterpret_cast<std::uint8_t*>(PyBytes_AS_STRING(bytes_));
    }

private:
    PyObject* bytes_ = nullptr;
};

}  // namespace webpickle::py
