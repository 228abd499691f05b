// A fast path for instances of plain classes: when nothing overrides how
// they pickle, object.__reduce_ex__(2+) would return
//   (copyreg.__newobj__, (cls,), obj.__dict__ or None)
// and the stdlib writes cls () NEWOBJ, then the dict and BUILD. We write
// those bytes directly, without the Python-level call and the tuple it
// builds. Whether a class qualifies is decided once per class and cached
// under its version tag, which CPython changes whenever the class or one of
// its bases is modified (a __reduce__ added later is noticed).
#include <unordered_map>

#include <initializer_list>

#include "pickler.hpp"
#include "recursion_guard.hpp"
#include "runtime.hpp"

namespace webpickle::py {
namespace {

struct Verdict {
    unsigned int version;
    bool plain;
};

std::unordered_map<PyTypeObject*, Verdict>& verdicts() {
    static std::unordered_map<PyTypeObject*, Verdict> cache;
    return cache;
}

bool lookup_is(PyTypeObject* type, const char* name, PyObject* expected) {
    PyObject* found = nullptr;
    if (PyObject_GetOptionalAttr(reinterpret_cast<PyObject*>(type), name_of(name), &found) < 0) raise_error();
    Ref owned = Ref::steal(found);
    return found == expected;
}

bool decide(PyTypeObject* type) {
    // A class made by a class statement: its instances are made by
    // object.__new__ and keep their attributes in a managed __dict__ (C
    // types, even heap ones like _thread.lock, fail one of these).
    if (!PyType_HasFeature(type, Py_TPFLAGS_HEAPTYPE) || !PyType_HasFeature(type, Py_TPFLAGS_MANAGED_DICT) ||
        type->tp_itemsize != 0 || type->tp_new != PyBaseObject_Type.tp_new)
        return false;
    // Every class above it but object is a Python class without __slots__
    // or a __class__ of its own (a built-in base pickles differently).
    PyObject* mro = type->tp_mro;
    Py_ssize_t n = PyTuple_GET_SIZE(mro);
    if (PyTuple_GET_ITEM(mro, n - 1) != reinterpret_cast<PyObject*>(&PyBaseObject_Type)) return false;
    for (Py_ssize_t i = 0; i + 1 < n; ++i) {
        auto* base = reinterpret_cast<PyTypeObject*>(PyTuple_GET_ITEM(mro, i));
        if (!PyType_HasFeature(base, Py_TPFLAGS_HEAPTYPE)) return false;
        for (const char* key : {"__slots__", "__class__", "__reduce_ex__", "__reduce__", "__getstate__",
                                "__getnewargs_ex__", "__getnewargs__"}) {
            int has = PyDict_Contains(base->tp_dict, name_of(key));
            if (has < 0) raise_error();
            if (has) return false;
        }
    }
    return lookup_is(type, "__reduce_ex__", runtime().object_reduce_ex) &&
           lookup_is(type, "__reduce__", runtime().object_reduce);
}

}  // namespace

bool is_plain_instance_type(PyTypeObject* type) {
    unsigned int version = PyUnstable_Type_AssignVersionTag(type) ? type->tp_version_tag : 0;
    // The last type asked about first: instances mostly come in runs of one
    // class, and a hash-map lookup per instance showed in wasm profiles.
    static PyTypeObject* last_type = nullptr;
    static Verdict last{0, false};
    if (version != 0 && type == last_type && last.version == version) return last.plain;
    auto& cache = verdicts();
    if (version != 0) {
        auto found = cache.find(type);
        if (found != cache.end() && found->second.version == version) {
            last_type = type;
            last = found->second;
            return last.plain;
        }
    }
    bool plain = decide(type);
    if (version != 0) {
        cache[type] = Verdict{version, plain};
        last_type = type;
        last = Verdict{version, plain};
    }
    return plain;
}

namespace {

// An instance attribute named like a reduce hook would be found first by
// the stdlib's getattr(obj, "__reduce_ex__"): such objects are left to it.
bool has_reduce_hook(PyObject* state) {
    if (PyDict_GET_SIZE(state) == 0) return false;
    for (PyObject* key : {runtime().s_reduce_ex, runtime().s_reduce}) {
        int has = PyDict_Contains(state, key);
        if (has < 0) raise_error();
        if (has) return true;
    }
    return false;
}

// The new references InstanceShapes::match took, released on every way out.
struct OwnedValues {
    PyObject* items[InstanceShapes::kMaxKeys];
    Py_ssize_t count = 0;
    ~OwnedValues() {
        for (Py_ssize_t i = 0; i < count; ++i) Py_DECREF(items[i]);
    }
};

}  // namespace

bool Pickler::save_plain_instance(PyObject* obj) {
    PyTypeObject* type = Py_TYPE(obj);
    if (!is_plain_instance_type(type)) return false;
    PyObject** dict_ptr = _PyObject_GetDictPtr(obj);
    PyObject* dict = dict_ptr ? *dict_ptr : nullptr;
    Ref state;
    if (dict_ptr == nullptr || dict == nullptr) {
        // Inline values (3.12+): materialise the dict as object.__getstate__ does.
        state = Ref::check(PyObject_GenericGetDict(obj, nullptr));
    } else {
        state = Ref::borrow(dict);
    }
    // Held only by the instance and by `state`, the dict cannot be in the
    // memo (which holds a reference to everything in it): it is written
    // without a memo lookup, a likely cache miss in a large memo, and its
    // keys may be checked against the last dict of this class.
    bool private_dict = Py_REFCNT(state.get()) == 2 && PyDict_CheckExact(state.get()) &&
                        overrides_.persistent_id == nullptr && !unmemoized_ && PyDict_GET_SIZE(state.get()) > 0;
    InstanceShapes& shapes = session_.instance_shapes();
    OwnedValues values;
    const InstanceShapes::Shape* shape = private_dict ? shapes.match(type, state.get(), values.items) : nullptr;
    if (shape != nullptr) values.count = shape->size;
    else if (has_reduce_hook(state.get())) return false;
    try {
        // The class: a memo GET for every instance but the first. Then
        // nothing can have memoized obj meanwhile, so its memo entry needs
        // no lookup; a class written here might have (a class attribute
        // holding an instance).
        writer_.commit_point();
        bool class_known = overrides_.persistent_id == nullptr && memo_get_if_present(reinterpret_cast<PyObject*>(type));
        if (!class_known) {
            try {
                save_object(reinterpret_cast<PyObject*>(type));
            } catch (PythonError&) {
                note_current_error("when serializing %T class", obj);
                throw;
            }
        }
        writer_.commit_point();  // the stdlib saves the () below as an object: a frame may end here
        writer_.opcode(op::EMPTY_TUPLE);
        writer_.opcode(op::NEWOBJ);
        if (class_known) memoize(obj);
        else memoize_built(obj);
        if (PyDict_GET_SIZE(state.get()) > 0) {
            try {
                writer_.commit_point();
                if (shape != nullptr) {
                    write_shaped_dict(state.get(), *shape, values.items);
                } else if (private_dict) {
                    save_dict(state.get());
                    shapes.record(type, state.get(), session_.contents());
                } else {
                    save_object(state.get());
                }
            } catch (PythonError&) {
                note_current_error("when serializing %T state", obj);
                throw;
            }
            writer_.opcode(op::BUILD);
        }
    } catch (PythonError&) {
        note_current_error("when serializing %T object", obj);
        throw;
    }
    return true;
}

// What save_dict writes for a dict whose keys are shape's: the keys are
// memo GETs known in advance, the values (owned by the caller) are saved.
void Pickler::write_shaped_dict(PyObject* dict, const InstanceShapes::Shape& shape, PyObject* const* values) {
    writer_.opcode(op::EMPTY_DICT);
    memoize(dict);
    RecursionGuard guard;
    const Py_ssize_t size = shape.size;
    if (size > 1) writer_.opcode(op::MARK);
    for (Py_ssize_t i = 0; i < size; ++i) {
        writer_.commit_point();
        writer_.memo_get(shape.indices[i]);
        try {
            save(values[i]);
        } catch (PythonError&) {
            note_current_error("when serializing %T item %R", dict, shape.keys[i]);
            throw;
        }
        if (PyDict_GET_SIZE(dict) != size) raise(PyExc_RuntimeError, "dictionary changed size during iteration");
    }
    writer_.opcode(size > 1 ? op::SETITEMS : op::SETITEM);
}

}  // namespace webpickle::py
