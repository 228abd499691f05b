// The key sequences of recently written plain-instance dicts. Instances of
// one class come in runs and share their keys (the same interned str
// objects, in the same order), so after the first instance of a run the
// pickler can check a dict's keys by pointer, while it collects the values,
// and write each key as a memo GET it already knows: no content-memo lookup
// per key, and no search of the dict for __reduce__/__reduce_ex__ (a dict
// with the keys of one that was checked has none). A few classes at once,
// for lists that interleave them.
#pragma once
#include <Python.h>

#include <cstdint>

#include "content_memo.hpp"

namespace webpickle::py {

class InstanceShapes {
public:
    static constexpr Py_ssize_t kMaxKeys = 16;

    struct Shape {
        PyTypeObject* type = nullptr;  // owned while the slot is in use
        Py_ssize_t size = 0;
        PyObject* keys[kMaxKeys];              // owned: compared by address
        std::uint32_t indices[kMaxKeys];       // their memo indices
    };

    InstanceShapes() = default;
    InstanceShapes(const InstanceShapes&) = delete;
    InstanceShapes& operator=(const InstanceShapes&) = delete;
    ~InstanceShapes() { clear(); }

    // The shape recorded for type if dict's keys are exactly its keys, in
    // order; values then holds a new reference to each value. Null (and no
    // references taken) otherwise.
    const Shape* match(PyTypeObject* type, PyObject* dict, PyObject** values) const {
        const Shape* shape = find(type);
        if (shape == nullptr || shape->size != PyDict_GET_SIZE(dict)) return nullptr;
        Py_ssize_t pos = 0, i = 0;
        PyObject *key, *value;
        while (PyDict_Next(dict, &pos, &key, &value)) {
            if (i >= shape->size || key != shape->keys[i]) {
                for (Py_ssize_t j = 0; j < i; ++j) Py_DECREF(values[j]);
                return nullptr;
            }
            values[i++] = Py_NewRef(value);
        }
        return shape;
    }

    // Records dict's keys for type, after the dict was written with them
    // (every key an exact str, so the content memo knows its index).
    void record(PyTypeObject* type, PyObject* dict, const ContentMemo& contents) {
        Py_ssize_t size = PyDict_GET_SIZE(dict);
        if (size == 0 || size > kMaxKeys) return;
        Shape fresh;
        Py_ssize_t pos = 0, i = 0;
        PyObject *key, *value;
        while (PyDict_Next(dict, &pos, &key, &value)) {
            if (!PyUnicode_CheckExact(key) || i >= size) return;
            std::uint32_t index = contents.find(key);
            if (index == ContentMemo::kMissing) return;
            fresh.keys[i] = key;
            fresh.indices[i++] = index;
        }
        if (i != size) return;
        Shape* slot = const_cast<Shape*>(find(type));
        if (slot == nullptr) {
            slot = &slots_[next_];
            next_ = (next_ + 1) % kSlots;
        }
        release(*slot);
        *slot = fresh;
        slot->type = type;
        slot->size = size;
        Py_INCREF(type);
        for (Py_ssize_t j = 0; j < size; ++j) Py_INCREF(slot->keys[j]);
    }

    // Forget everything: the memo indices are void once the memo is cleared.
    void clear() {
        for (Shape& shape : slots_) release(shape);
    }

private:
    static constexpr int kSlots = 4;

    const Shape* find(PyTypeObject* type) const {
        for (const Shape& shape : slots_)
            if (shape.type == type) return &shape;
        return nullptr;
    }

    static void release(Shape& shape) {
        if (shape.type == nullptr) return;
        PyTypeObject* type = shape.type;
        Py_ssize_t size = shape.size;
        shape.type = nullptr;
        shape.size = 0;
        // Decrefs last: they may run arbitrary code.
        for (Py_ssize_t j = 0; j < size; ++j) Py_DECREF(shape.keys[j]);
        Py_DECREF(type);
    }

    Shape slots_[kSlots];
    int next_ = 0;
};

}  // namespace webpickle::py
