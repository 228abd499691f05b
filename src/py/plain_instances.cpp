// A fast path for instances of plain classes: when nothing overrides how
// they pickle, object.__reduce_ex__(2+) would return
//   (copyreg.__newobj__, (cls,), obj.__dict__ or None)
// (with __slots__ and no __dict__: (None, {slot: value}) as the state), and
// the stdlib writes cls () NEWOBJ, then the state and BUILD. We write those
// bytes directly, without the call and the tuple it builds. Whether a class
// qualifies is decided once per class and cached under its version tag,
// which CPython changes whenever the class or one of its bases is modified
// (a __reduce__ added later is noticed).
#include <initializer_list>
#include <unordered_map>
#include <vector>

#include "internals.hpp"
#include "pickler.hpp"
#include "recursion_guard.hpp"
#include "runtime.hpp"
#include "writers.hpp"

namespace webpickle::py {
namespace {

// How instances of a class pickle when nothing overrides it.
enum class Layout : unsigned char {
    other,    // the general path decides
    dict,     // attributes in a managed __dict__
    slotted,  // attributes in __slots__ only: state (None, {slot: value})
};

struct Verdict {
    unsigned int version = 0;
    Layout layout = Layout::other;
    Ref slotnames;  // copyreg._slotnames(cls), for Layout::slotted
    // Where each slot's value sits in the instance, when every name is a
    // plain slot descriptor found by the ordinary attribute lookup; else
    // empty, and the values are read with getattr as object.__getstate__ does.
    std::vector<Py_ssize_t> slot_offsets;
};

}  // namespace

struct PlainInstanceVerdicts {
    std::unordered_map<PyTypeObject*, Verdict> by_type;
    // The last type asked about, checked first: instances mostly come in
    // runs of one class, and a hash-map lookup per instance showed in wasm
    // profiles.
    PyTypeObject* last_type = nullptr;
    const Verdict* last = nullptr;
    const Verdict uncacheable;  // Layout::other, for a type without a version tag
};

namespace {

PlainInstanceVerdicts& verdicts() {
    PlainInstanceVerdicts*& cache = internals().plain_instance_verdicts;
    if (cache == nullptr) cache = new PlainInstanceVerdicts();
    return *cache;
}

bool lookup_is(PyTypeObject* type, const char* name, PyObject* expected) {
    PyObject* found = nullptr;
    if (PyObject_GetOptionalAttr(reinterpret_cast<PyObject*>(type), name_of(name), &found) < 0) raise_error();
    Ref owned = Ref::steal(found);
    return found == expected;
}

// Every class above type but object is a Python class without a __class__
// or a reduce hook of its own (a built-in base pickles differently);
// `has_slots` tells whether one of them declares __slots__.
bool python_classes_only(PyTypeObject* type, bool& has_slots) {
    PyObject* mro = type->tp_mro;
    Py_ssize_t n = PyTuple_GET_SIZE(mro);
    if (PyTuple_GET_ITEM(mro, n - 1) != reinterpret_cast<PyObject*>(&PyBaseObject_Type)) return false;
    has_slots = false;
    for (Py_ssize_t i = 0; i + 1 < n; ++i) {
        auto* base = reinterpret_cast<PyTypeObject*>(PyTuple_GET_ITEM(mro, i));
        if (!PyType_HasFeature(base, Py_TPFLAGS_HEAPTYPE)) return false;
        for (const char* key : {"__class__", "__reduce_ex__", "__reduce__", "__getstate__", "__getnewargs_ex__",
                                "__getnewargs__"}) {
            int has = PyDict_Contains(base->tp_dict, name_of(key));
            if (has < 0) raise_error();
            if (has) return false;
        }
        int slots = PyDict_Contains(base->tp_dict, name_of("__slots__"));
        if (slots < 0) raise_error();
        has_slots |= slots != 0;
    }
    return lookup_is(type, "__reduce_ex__", runtime().object_reduce_ex) &&
           lookup_is(type, "__reduce__", runtime().object_reduce);
}

// getattr(obj, name) for each slot name reads the slot's descriptor when
// (with the generic getattr, which decide() requires) the first class along the MRO that
// defines the name defines it as an object slot: the offsets of those slots,
// or none when one name is anything else.
std::vector<Py_ssize_t> slot_offsets(PyTypeObject* type, PyObject* names) {
    std::vector<Py_ssize_t> offsets;
    PyObject* mro = type->tp_mro;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(names); ++i) {
        PyObject* name = PyList_GET_ITEM(names, i);
        PyObject* found = nullptr;
        for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(mro) && found == nullptr; ++j) {
            PyObject* dict = reinterpret_cast<PyTypeObject*>(PyTuple_GET_ITEM(mro, j))->tp_dict;
            if (PyDict_GetItemRef(dict, name, &found) < 0) raise_error();
        }
        Ref owned = Ref::steal(found);
        if (found == nullptr || Py_TYPE(found) != &PyMemberDescr_Type) return {};
        PyMemberDef* member = reinterpret_cast<PyMemberDescrObject*>(found)->d_member;
        if (member->type != Py_T_OBJECT_EX) return {};
        offsets.push_back(member->offset);
    }
    return offsets;
}

// The verdict for type (version left for the caller). May add
// __slotnames__ to the class, as copyreg does on first use.
Verdict decide(PyTypeObject* type) {
    Verdict verdict;
    // A class made by a class statement, its instances made by
    // object.__new__ (C types, even heap ones like _thread.lock, fail one of these).
    if (!PyType_HasFeature(type, Py_TPFLAGS_HEAPTYPE) || type->tp_itemsize != 0 ||
        type->tp_new != PyBaseObject_Type.tp_new)
        return verdict;
    // The stdlib asks the instance for __reduce_ex__: a __getattribute__ or
    // __getattr__ of the class could answer otherwise than the class does.
    if (type->tp_getattro != PyObject_GenericGetAttr) return verdict;
    bool has_slots = false;
    if (!python_classes_only(type, has_slots)) return verdict;
    bool has_dict = PyType_HasFeature(type, Py_TPFLAGS_MANAGED_DICT) || type->tp_dictoffset != 0;
    if (!has_slots) {
        if (PyType_HasFeature(type, Py_TPFLAGS_MANAGED_DICT)) verdict.layout = Layout::dict;
        return verdict;
    }
    // Slots and no __dict__: object.__getstate__ gives (None, {slot: value})
    // for the slots in copyreg._slotnames order that are set, or None.
    if (has_dict) return verdict;
    PyObject* slotnames_of = stdlib_attr("copyreg", "_slotnames");
    Ref names = Ref::check(PyObject_CallOneArg(slotnames_of, reinterpret_cast<PyObject*>(type)));
    if (!PyList_CheckExact(names.get())) return verdict;
    // object.__getstate__ refuses a layout larger than its slots explain.
    Py_ssize_t expected = PyBaseObject_Type.tp_basicsize + (type->tp_weaklistoffset > 0 ? sizeof(PyObject*) : 0) +
                          PyList_GET_SIZE(names.get()) * static_cast<Py_ssize_t>(sizeof(PyObject*));
    if (type->tp_basicsize > expected) return verdict;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(names.get()); ++i)
        if (!PyUnicode_CheckExact(PyList_GET_ITEM(names.get(), i))) return verdict;
    verdict.layout = Layout::slotted;
    verdict.slot_offsets = slot_offsets(type, names.get());
    verdict.slotnames = std::move(names);
    return verdict;
}

// The cached verdict for type; borrowed until the next call.
const Verdict& verdict_of(PyTypeObject* type) {
    PlainInstanceVerdicts& cache = verdicts();
    unsigned int version = PyUnstable_Type_AssignVersionTag(type) ? type->tp_version_tag : 0;
    if (version != 0 && type == cache.last_type && cache.last->version == version) return *cache.last;
    if (version != 0) {
        auto found = cache.by_type.find(type);
        if (found != cache.by_type.end() && found->second.version == version) {
            cache.last_type = type;
            cache.last = &found->second;
            return *cache.last;
        }
    }
    Verdict verdict = decide(type);
    // Read after deciding: copyreg may just have set __slotnames__.
    version = PyUnstable_Type_AssignVersionTag(type) ? type->tp_version_tag : 0;
    if (version == 0) return cache.uncacheable;  // the general path
    verdict.version = version;
    Verdict& stored = cache.by_type[type] = std::move(verdict);
    cache.last_type = type;
    cache.last = &stored;
    return stored;
}

}  // namespace

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

// cls () NEWOBJ, memoized: what save_reduce writes for copyreg.__newobj__.
// The class is a memo GET for every instance but the first; then nothing
// can have memoized obj meanwhile, so its memo entry needs no lookup (a
// class written here might have: a class attribute holding an instance).
void write_instance_header(Pickler& p, PyObject* obj) {
    PyObject* type = reinterpret_cast<PyObject*>(Py_TYPE(obj));
    p.writer().commit_point();
    bool class_known = p.overrides().persistent_id == nullptr && p.memo_get_if_present(type);
    if (!class_known) with_note([&] { p.save_object(type); }, "when serializing %T class", obj);
    p.writer().commit_point();  // the stdlib saves the () below as an object: a frame may end here
    p.writer().opcode(op::EMPTY_TUPLE);
    p.writer().opcode(op::NEWOBJ);
    if (class_known) p.memoize(obj);
    else p.memoize_built(obj);
}

// The header, then (if has_state) the state and BUILD, with the notes that
// save_reduce would add on failure.
template <typename WriteState>
void write_instance(Pickler& p, PyObject* obj, bool has_state, WriteState&& write_state) {
    with_note(
        [&] {
            write_instance_header(p, obj);
            if (!has_state) return;
            with_note([&] { write_state(); }, "when serializing %T state", obj);
            p.writer().opcode(op::BUILD);
        },
        "when serializing %T object", obj);
}

// What save_dict writes for a dict whose keys are shape's: the keys are
// memo GETs known in advance, the values (owned by the caller) are saved.
void write_shaped_dict(Pickler& p, PyObject* dict, const InstanceShapes::Shape& shape, PyObject* const* values) {
    p.writer().opcode(op::EMPTY_DICT);
    p.memoize(dict);
    RecursionGuard guard;
    const Py_ssize_t size = shape.size;
    if (size > 1) p.writer().opcode(op::MARK);
    for (Py_ssize_t i = 0; i < size; ++i) {
        p.writer().commit_point();
        p.writer().memo_get(shape.indices[i]);
        with_note([&] { p.save(values[i]); }, "when serializing %T item %R", dict, shape.keys[i]);
        if (PyDict_GET_SIZE(dict) != size) raise(PyExc_RuntimeError, "dictionary changed size during iteration");
    }
    p.writer().opcode(size > 1 ? op::SETITEMS : op::SETITEM);
}

// Instances of classes with __slots__ and no __dict__: object.__reduce_ex__
// would return (copyreg.__newobj__, (cls,), (None, {slot: value}) or None),
// the slots read in copyreg._slotnames order, unset ones left out. The same
// bytes, without the call, its tuple and save_reduce's checks of it.
bool save_slotted_instance(Pickler& p, PyObject* obj, PyObject* slotnames, const std::vector<Py_ssize_t>& offsets) {
    Ref names = Ref::borrow(slotnames);
    Ref slots = Ref::check(PyDict_New());
    // Read before anything runs Python code (the verdict may be replaced then).
    const bool direct = !offsets.empty();
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(names.get()); ++i) {
        PyObject* name = PyList_GET_ITEM(names.get(), i);
        PyObject* value = nullptr;
        if (direct) {
            char* slot = reinterpret_cast<char*>(obj) + offsets[static_cast<std::size_t>(i)];
            value = Py_XNewRef(*reinterpret_cast<PyObject**>(slot));
        } else if (PyObject_GetOptionalAttr(obj, name, &value) < 0) {
            raise_error();
        }
        if (value == nullptr) continue;
        Ref owned = Ref::steal(value);
        if (PyDict_SetItem(slots.get(), name, value) < 0) raise_error();
    }
    write_instance(p, obj, PyDict_GET_SIZE(slots.get()) > 0, [&] {
        Ref state = Ref::check(PyTuple_Pack(2, Py_None, slots.get()));
        p.save(state.get());
    });
    return true;
}

}  // namespace

bool save_plain_instance(Pickler& p, PyObject* obj) {
    PyTypeObject* type = Py_TYPE(obj);
    const Verdict& verdict = verdict_of(type);
    if (verdict.layout == Layout::slotted)
        return save_slotted_instance(p, obj, verdict.slotnames.get(), verdict.slot_offsets);
    if (verdict.layout != Layout::dict) return false;
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
                        p.overrides().persistent_id == nullptr && !p.unmemoized() && PyDict_GET_SIZE(state.get()) > 0;
    InstanceShapes& shapes = p.session().instance_shapes();
    OwnedValues values;
    const InstanceShapes::Shape* shape = private_dict ? shapes.match(type, state.get(), values.items) : nullptr;
    if (shape != nullptr) values.count = shape->size;
    else if (has_reduce_hook(state.get())) return false;
    write_instance(p, obj, PyDict_GET_SIZE(state.get()) > 0, [&] {
        p.writer().commit_point();
        if (shape != nullptr) {
            write_shaped_dict(p, state.get(), *shape, values.items);
        } else if (private_dict) {
            p.save_dict(state.get());
            shapes.record(type, state.get(), p.session().contents());
        } else {
            p.save_object(state.get());
        }
    });
    return true;
}

}  // namespace webpickle::py
