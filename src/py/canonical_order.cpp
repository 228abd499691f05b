#include "canonical_order.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <string>

namespace webpickle::py {
namespace {

void put_size(std::string& out, std::size_t n) {
    for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((static_cast<std::uint64_t>(n) >> (8 * i)) & 0xff));
}

void put_raw(std::string& out, const void* data, std::size_t n) {
    put_size(out, n);
    out.append(static_cast<const char*>(data), n);
}

// Appends an injective encoding of obj's value; false when obj is not plain data.
bool encode_value(PyObject* obj, std::string& out, int depth);

bool encode_children(PyObject* container, std::string& out, int depth, bool sort) {
    std::vector<std::string> parts;
    Ref iterator = Ref::check(PyObject_GetIter(container));
    while (PyObject* item = PyIter_Next(iterator.get())) {
        Ref owned = Ref::steal(item);
        std::string part;
        if (!encode_value(item, part, depth + 1)) return false;
        parts.push_back(std::move(part));
    }
    if (PyErr_Occurred()) raise_error();
    if (sort) std::sort(parts.begin(), parts.end());
    put_size(out, parts.size());
    for (const std::string& part : parts) put_raw(out, part.data(), part.size());
    return true;
}

bool encode_value(PyObject* obj, std::string& out, int depth) {
    if (depth > 64) return false;  // give up on pathological nesting: keep iteration order
    PyTypeObject* type = Py_TYPE(obj);
    if (obj == Py_None) {
        out.push_back('N');
    } else if (type == &PyBool_Type) {
        out.push_back(obj == Py_True ? 'T' : 'F');
    } else if (type == &PyLong_Type) {
        Ref text = Ref::check(PyObject_Str(obj));
        Py_ssize_t n;
        const char* s = PyUnicode_AsUTF8AndSize(text.get(), &n);
        if (s == nullptr) raise_error();
        out.push_back('i');
        put_raw(out, s, static_cast<std::size_t>(n));
    } else if (type == &PyFloat_Type) {
        double v = PyFloat_AS_DOUBLE(obj);
        out.push_back('f');
        out.append(reinterpret_cast<const char*>(&v), sizeof v);
    } else if (type == &PyComplex_Type) {
        Py_complex v = PyComplex_AsCComplex(obj);
        out.push_back('c');
        out.append(reinterpret_cast<const char*>(&v.real), sizeof v.real);
        out.append(reinterpret_cast<const char*>(&v.imag), sizeof v.imag);
    } else if (type == &PyUnicode_Type) {
        out.push_back('s');
        out.push_back(static_cast<char>(PyUnicode_KIND(obj)));
        put_raw(out, PyUnicode_DATA(obj),
                static_cast<std::size_t>(PyUnicode_GET_LENGTH(obj)) * static_cast<std::size_t>(PyUnicode_KIND(obj)));
    } else if (type == &PyBytes_Type) {
        out.push_back('y');
        put_raw(out, PyBytes_AS_STRING(obj), static_cast<std::size_t>(PyBytes_GET_SIZE(obj)));
    } else if (type == &PyTuple_Type) {
        out.push_back('t');
        return encode_children(obj, out, depth, false);
    } else if (type == &PyFrozenSet_Type) {
        out.push_back('z');
        return encode_children(obj, out, depth, true);
    } else {
        return false;
    }
    return true;
}

}  // namespace

std::vector<Ref> canonical_items(PyObject* set) {
    std::vector<Ref> items;
    items.reserve(static_cast<std::size_t>(PySet_GET_SIZE(set)));
    Ref iterator = Ref::check(PyObject_GetIter(set));
    while (PyObject* item = PyIter_Next(iterator.get())) items.push_back(Ref::steal(item));
    if (PyErr_Occurred()) raise_error();
    if (items.size() < 2) return items;

    std::vector<std::string> keys(items.size());
    for (std::size_t i = 0; i < items.size(); ++i)
        if (!encode_value(items[i].get(), keys[i], 0)) return items;  // not plain data
    std::vector<std::size_t> order(items.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::sort(order.begin(), order.end(), [&keys](std::size_t a, std::size_t b) { return keys[a] < keys[b]; });
    std::vector<Ref> sorted;
    sorted.reserve(items.size());
    for (std::size_t i : order) sorted.push_back(std::move(items[i]));
    return sorted;
}

}  // namespace webpickle::py
