// The general path: persistent ids, reducer_override, dispatch tables and
// __reduce_ex__, and writing what a reduction returns, with the stdlib's
// checks, messages and notes.
#include "internals.hpp"
#include "pickler.hpp"
#include "writers.hpp"
#include "recursion_guard.hpp"
#include "runtime.hpp"
#include "special_types.hpp"

namespace webpickle::py {
namespace {

// mapping.get(key), for a dict or any other mapping; null when missing.
Ref mapping_get(PyObject* mapping, PyObject* key) {
    PyObject* found = nullptr;
    if (PyDict_CheckExact(mapping)) {
        if (PyDict_GetItemRef(mapping, key, &found) < 0) raise_error();
        return Ref::steal(found);
    }
    found = PyObject_GetItem(mapping, key);
    if (found == nullptr) {
        if (!PyErr_ExceptionMatches(PyExc_KeyError)) raise_error();
        PyErr_Clear();
    }
    return Ref::steal(found);
}

PyObject* none_to_null(PyObject* obj) { return obj == Py_None ? nullptr : obj; }

}  // namespace

bool Pickler::save_persistent(PyObject* obj) {
    if (skip_persistent_once_) {
        skip_persistent_once_ = false;
        return false;
    }
    Ref pid = Ref::check(PyObject_CallOneArg(overrides_.persistent_id, obj));
    if (pid.get() == Py_None) return false;
    skip_persistent_once_ = true;  // the id itself is not looked up again
    save(pid.get());
    skip_persistent_once_ = false;
    writer_.opcode(op::BINPERSID);
    return true;
}

bool Pickler::save_uncommon(PyObject* obj) {
    PyTypeObject* type = Py_TYPE(obj);
    if (type == &PySet_Type) {
        save_set(obj);
        return false;
    }
    if (type == &PyFrozenSet_Type) return save_frozenset(obj);
    if (type == &PyComplex_Type) {
        save_complex(obj);
        return true;
    }
    if (type == &PyByteArray_Type) {
        save_bytearray(obj);
        return false;
    }
    if (reinterpret_cast<PyObject*>(type) == runtime().PickleBuffer_type) {
        save_picklebuffer(obj);
        return false;
    }
    RecursionGuard guard;
    if (overrides_.reducer_override != nullptr) {
        Ref value = Ref::check(PyObject_CallOneArg(overrides_.reducer_override, obj));
        if (value.get() != Py_NotImplemented) {
            save_by_reduce(obj, value.get());
            return false;
        }
    }
    if (type == &PyType_Type) {
        save_type(obj);
        return false;
    }
    if (type == &PyFunction_Type) {
        py::save_function(*this, obj);
        return false;
    }
    if (type == &PyCode_Type) {
        py::save_code(*this, obj);
        return false;
    }
    if (type == runtime().cell_type) {
        py::save_cell(*this, obj);
        return false;
    }
    if (type == &PyModule_Type) {
        py::save_module(*this, obj);
        return false;
    }
    // The special-types table (special_types.cpp) is consulted at two
    // steps: singletons that must stay themselves before anything else,
    // the other special types after the plain-instance fast path (instances
    // of plain classes, the common case, never have an entry).
    const SpecialType* special = find_special_type(type);
    if (special != nullptr && special->stage == SpecialStage::identity && special->write(*this, obj)) return false;
    const bool default_table = overrides_.dispatch_table == nullptr;
    Ref reducer;
    if (!default_table || !internals().dispatch_table.known_absent(type)) {
        PyObject* table = default_table ? runtime().copyreg_dispatch_table : overrides_.dispatch_table;
        reducer = mapping_get(table, reinterpret_cast<PyObject*>(type));
        if (!reducer && default_table) internals().dispatch_table.remember_absent(type);
    }
    if (!reducer && py::save_plain_instance(*this, obj)) return false;
    if (special != nullptr && special->stage == SpecialStage::before_reducer && special->write(*this, obj))
        return false;
    if (reducer) {
        Ref value = Ref::check(PyObject_CallOneArg(reducer.get(), obj));
        save_by_reduce(obj, value.get());
        return false;
    }
    if (PyType_IsSubtype(type, &PyType_Type)) {
        py::save_class(*this, obj);  // a class with a custom metaclass
        return false;
    }
    PyObject* reduce_ex = nullptr;
    if (PyObject_GetOptionalAttr(obj, runtime().s_reduce_ex, &reduce_ex) < 0) raise_error();
    Ref value;
    if (reduce_ex != nullptr) {
        Ref method = Ref::steal(reduce_ex);
        Ref proto = Ref::check(PyLong_FromLong(protocol()));
        value = Ref::check(PyObject_CallOneArg(method.get(), proto.get()));
    } else {
        PyObject* reduce = nullptr;
        if (PyObject_GetOptionalAttr(obj, runtime().s_reduce, &reduce) < 0) raise_error();
        if (reduce == nullptr) raise_format(runtime().PicklingError, "Can't pickle %T object", obj);
        Ref method = Ref::steal(reduce);
        value = Ref::check(PyObject_CallNoArgs(method.get()));
    }
    save_by_reduce(obj, value.get());
    return false;
}

void Pickler::save_by_reduce(PyObject* obj, PyObject* value) {
    if (PyUnicode_Check(value)) {
        save_global(obj, value);
        return;
    }
    with_note(
        [&] {
            if (!PyTuple_Check(value))
                raise_format(runtime().PicklingError, "__reduce__ must return a string or tuple, not %T", value);
            Py_ssize_t n = PyTuple_GET_SIZE(value);
            if (n < 2 || n > 6)
                raise(runtime().PicklingError, "tuple returned by __reduce__ must contain 2 through 6 elements");
            auto item = [value, n](Py_ssize_t i) { return i < n ? none_to_null(PyTuple_GET_ITEM(value, i)) : nullptr; };
            save_reduce(PyTuple_GET_ITEM(value, 0), PyTuple_GET_ITEM(value, 1), item(2), item(3), item(4), item(5),
                        obj);
        },
        "when serializing %T object", obj);
}

}  // namespace webpickle::py
