#include "pickler.hpp"

#include "runtime.hpp"

namespace webpickle::py {

Session::Session(int protocol, PyObject* buffer_callback)
    : protocol_(protocol), buffer_callback_(buffer_callback == Py_None ? nullptr : buffer_callback) {
    Py_XINCREF(buffer_callback_);
}

Session::~Session() {
    clear_memo();
    Py_XDECREF(buffer_callback_);
}

void Session::clear_memo() {
    memo_.clear();
    contents_.clear();
    instance_shapes_.clear();
    globals_copies_.clear();
    registry_index_ = IdentityMemo::kMissing;
    namespaces_.clear();
    // Release last: a decref may run arbitrary code that touches this session.
    decltype(kept_alive_) released;
    released.swap(kept_alive_);
    for (PyObject* obj : released) Py_DECREF(obj);
}

std::uint32_t Session::memo_add(PyObject* obj) {
    if (memo_.size() >= 0xfffffff0u) raise(PyExc_OverflowError, "too many objects to memoize in one pickle");
    std::uint32_t index = memo_.add(reinterpret_cast<std::uintptr_t>(obj));
    hold(obj);
    return index;
}

std::uint32_t Session::memo_reserve() {
    if (memo_.size() >= 0xfffffff0u) raise(PyExc_OverflowError, "too many objects to memoize in one pickle");
    return memo_.reserve();
}

std::vector<std::pair<std::uint32_t, PyObject*>> Session::memo_entries() const {
    std::vector<std::pair<std::uint32_t, PyObject*>> entries;
    // Identity-memo keys are addresses of objects the session keeps alive.
    memo_.for_each([&](std::uintptr_t key, std::uint32_t index) {
        entries.emplace_back(index, reinterpret_cast<PyObject*>(key));
    });
    contents_.for_each([&](PyObject* obj, std::uint32_t index) {
        if (memo_find(obj) == IdentityMemo::kMissing) entries.emplace_back(index, obj);
    });
    return entries;
}

void Session::memo_prime(std::uint32_t index, PyObject* obj) {
    if (index >= 0xfffffff0u) raise(PyExc_OverflowError, "memo index too large");
    hold(obj);
    // str and bytes are looked up by content when written (content_memo.hpp).
    if ((PyUnicode_CheckExact(obj) || PyBytes_CheckExact(obj)) &&
        contents_.find(obj) == ContentMemo::kMissing)
        contents_.add(obj, index);
    if (memo_find(obj) == IdentityMemo::kMissing) memo_.add_at(reinterpret_cast<std::uintptr_t>(obj), index);
}

Pickler::Pickler(Session& session, const Overrides& overrides)
    : session_(session), overrides_(overrides), writer_(buffer_, session.protocol()) {}

Ref Pickler::dump(PyObject* obj) {
    writer_.begin();
    save(obj);
    writer_.finish();
    return buffer_.take();
}

// The hot path: exact built-in types in order of how often they appear in
// real data, then everything else out of line.
bool Pickler::save_object(PyObject* obj) {
    if (overrides_.persistent_id != nullptr && save_persistent(obj)) return false;
    PyTypeObject* type = Py_TYPE(obj);
    if (obj == Py_None) {
        writer_.none();
        return true;
    }
    if (type == &PyBool_Type) {
        writer_.boolean(obj == Py_True);
        return true;
    }
    if (type == &PyLong_Type) {
        save_long(obj);
        return true;
    }
    if (type == &PyFloat_Type) {
        save_float(obj);
        return true;
    }
    if (type == &PyUnicode_Type) {
        save_str(obj);
        return true;
    }
    if (type == &PyBytes_Type) {
        save_bytes(obj);
        return true;
    }
    if (type == &PyTuple_Type) return save_tuple(obj);
    if (memo_get_if_present(obj)) return false;
    if (type == &PyList_Type) {
        save_list(obj);
        return false;
    }
    if (type == &PyDict_Type) {
        save_dict(obj);
        return false;
    }
    return save_uncommon(obj);
}

}  // namespace webpickle::py
