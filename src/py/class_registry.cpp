#include "class_registry.hpp"

#include <algorithm>
#include <unordered_map>
#include <vector>

#include "internals.hpp"
#include "pickler.hpp"
#include "runtime.hpp"

namespace webpickle::py {
namespace {

// Classes whose id is being computed.
std::vector<PyObject*>& in_progress() { return internals().class_ids_in_progress; }


// Stands in for a class defined in this process when a stream sets the
// class's state (see class_registry.hpp): attributes set or deleted on it
// are dropped, reading any attribute gives the stand-in again (an enum
// member's attributes are set on getattr(target, member_name)), and calling
// it does nothing (BUILD calls the __setstate__ it finds).
PyObject* stand_in_getattro(PyObject* self, PyObject*) { return Py_NewRef(self); }
int stand_in_setattro(PyObject*, PyObject*, PyObject*) { return 0; }
PyObject* stand_in_call(PyObject*, PyObject*, PyObject*) { Py_RETURN_NONE; }

PyObject* stand_in() {
    PyObject*& instance = internals().class_stand_in;
    if (instance != nullptr) return instance;
    instance = [] {
        PyType_Slot slots[] = {
            {Py_tp_getattro, reinterpret_cast<void*>(stand_in_getattro)},
            {Py_tp_setattro, reinterpret_cast<void*>(stand_in_setattro)},
            {Py_tp_call, reinterpret_cast<void*>(stand_in_call)},
            {Py_tp_doc, const_cast<char*>("Drops the state that streams carry for a class defined in this process.")},
            {0, nullptr},
        };
        PyType_Spec spec = {"webpickle.DefinedHere", sizeof(PyObject), 0, Py_TPFLAGS_DEFAULT, slots};
        Ref type = Ref::check(PyType_FromSpec(&spec));
        return Ref::check(PyObject_CallNoArgs(type.get())).release();
    }();
    return instance;
}

struct Registry {
    Ref by_id;  // id -> class (weak values), also what streams register into
    Ref ids;    // class -> (id, skeleton, names sent) (weak keys), only in this process
    Ref own;    // class defined here -> stand_in() (weak keys); streams read it
};

Ref new_instance(const char* module, const char* name) {
    Ref factory = Ref::check(PyImport_ImportModuleAttrString(module, name));
    return Ref::check(PyObject_CallNoArgs(factory.get()));
}

// module.name, made with factory() if missing (or, with replace_exact, if
// it is exactly of the type replace_exact: a stream leaves a plain dict).
Ref attribute_or_new(PyObject* module, const char* name, const char* factory_module, const char* factory,
                     PyTypeObject* replace_exact = nullptr) {
    PyObject* attr = nullptr;
    if (PyObject_GetOptionalAttrString(module, name, &attr) < 0) raise_error();
    Ref value = Ref::steal(attr);
    if (!value || (replace_exact != nullptr && Py_IS_TYPE(value.get(), replace_exact))) {
        value = new_instance(factory_module, factory);
        if (PyObject_SetAttrString(module, name, value.get()) < 0) raise_error();
    }
    return value;
}

// sys.modules["__webpickle_classes__"], created if no stream created it yet.
Registry registry() {
    PyObject* found = nullptr;
    if (PyDict_GetItemStringRef(runtime().sys_modules, kRegistryModule, &found) < 0) raise_error();
    Ref module = Ref::steal(found);
    if (!module) {
        module = Ref::check(PyModule_New(kRegistryModule));
        if (PyDict_SetItemString(runtime().sys_modules, kRegistryModule, module.get()) < 0) raise_error();
    }
    Registry r;
    r.by_id = attribute_or_new(module.get(), "by_id", "weakref", "WeakValueDictionary");
    r.ids = attribute_or_new(module.get(), "ids", "weakref", "WeakKeyDictionary");
    // Streams make `own` an empty dict (no call to load); a process that
    // pickles classes needs weak keys.
    r.own = attribute_or_new(module.get(), "own", "weakref", "WeakKeyDictionary", &PyDict_Type);
    return r;
}

// mapping.get(key) for any mapping; null when missing.
Ref lookup(PyObject* mapping, PyObject* key) {
    PyObject* value = PyObject_GetItem(mapping, key);
    if (value == nullptr) {
        if (!PyErr_ExceptionMatches(PyExc_KeyError)) raise_error();
        PyErr_Clear();
    }
    return Ref::steal(value);
}

// A short hex digest of the class pickled alone, in a fresh session.
Ref content_digest(PyObject* cls) {
    Session session(kHighestProtocol, nullptr);
    Pickler pickler(session, Overrides{});
    in_progress().push_back(cls);
    Ref stream;
    try {
        stream = pickler.dump(cls);
    } catch (...) {
        in_progress().pop_back();
        throw;
    }
    in_progress().pop_back();
    Ref sha256 = Ref::check(PyImport_ImportModuleAttrString("hashlib", "sha256"));
    Ref hash = Ref::check(PyObject_CallOneArg(sha256.get(), stream.get()));
    Ref hex = Ref::check(PyObject_CallMethod(hash.get(), "hexdigest", nullptr));
    return Ref::check(PyUnicode_Substring(hex.get(), 0, 20));
}

// What a receiver cannot change on the class it has: (metaclass, bases,
// __slots__); None for type variables.
Ref skeleton_of(PyObject* obj) {
    if (!PyType_Check(obj)) return Ref::borrow(Py_None);
    auto* type = reinterpret_cast<PyTypeObject*>(obj);
    PyObject* slots = nullptr;
    if (PyDict_GetItemRef(type->tp_dict, name_of("__slots__"), &slots) < 0) raise_error();
    Ref owned = Ref::steal(slots);
    return Ref::check(PyTuple_Pack(3, Py_TYPE(obj), type->tp_bases, slots ? slots : Py_None));
}

// The id under which a stream registered cls in this process, if one did:
// streams fill only by_id (id -> class), so search its values. Runs once
// per class and version tag (class_identity caches the answer).
Ref registered_id(PyObject* by_id, PyObject* cls) {
    Ref items = Ref::check(PyObject_CallMethod(by_id, "items", nullptr));
    Ref pairs = Ref::check(PySequence_List(items.get()));
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(pairs.get()); ++i) {
        PyObject* pair = PyList_GET_ITEM(pairs.get(), i);
        if (PyTuple_Check(pair) && PyTuple_GET_SIZE(pair) == 2 && PyTuple_GET_ITEM(pair, 1) == cls)
            return Ref::borrow(PyTuple_GET_ITEM(pair, 0));
    }
    return Ref();
}

// A new id for obj, a class (or type variable) made in this process.
Ref new_id(const Registry& r, PyObject* obj) {
    Ref digest = content_digest(obj);
    PyObject* found = nullptr;
    if (PyObject_GetOptionalAttr(obj, runtime().s_qualname, &found) < 0) raise_error();
    Ref qualname = found ? Ref::steal(found) : Ref::check(PyObject_GetAttr(obj, name_of("__name__")));
    // Distinct live classes with the same content (made by one factory) take
    // the next free number; the first one gets none.
    for (long n = 0;; ++n) {
        Ref id = n == 0 ? Ref::check(PyUnicode_FromFormat("%U-%U", qualname.get(), digest.get()))
                        : Ref::check(PyUnicode_FromFormat("%U-%U-%ld", qualname.get(), digest.get(), n));
        Ref holder = lookup(r.by_id.get(), id.get());
        if (holder && holder.get() != obj) continue;
        if (PyObject_SetItem(r.by_id.get(), id.get(), obj) < 0) raise_error();
        if (PyType_Check(obj) && PyObject_SetItem(r.own.get(), obj, stand_in()) < 0) raise_error();
        return id;
    }
}

struct Record {
    Ref id;
    Ref skeleton;
    Ref sent;  // frozenset of the attribute names streams of this id have set
};

// obj's id and what was sent under it, from the registry; a new id if obj
// is new to it or its skeleton changed.
Record identify(const Registry& r, PyObject* obj) {
    Record record{Ref(), skeleton_of(obj), Ref()};
    Ref entry = lookup(r.ids.get(), obj);
    if (entry && objects_equal(PyTuple_GET_ITEM(entry.get(), 1), record.skeleton.get())) {
        record.id = Ref::borrow(PyTuple_GET_ITEM(entry.get(), 0));
        record.sent = Ref::borrow(PyTuple_GET_ITEM(entry.get(), 2));
        return record;
    }
    // A class loaded from a stream keeps the id it came with, so sending it
    // back gives the sender its own class object again.
    if (!entry) record.id = registered_id(r.by_id.get(), obj);
    if (!record.id) record.id = new_id(r, obj);
    record.sent = Ref::check(PyFrozenSet_New(nullptr));
    return record;
}

void remember(const Registry& r, PyObject* obj, const Record& record) {
    Ref entry = Ref::check(PyTuple_Pack(3, record.id.get(), record.skeleton.get(), record.sent.get()));
    if (PyObject_SetItem(r.ids.get(), obj, entry.get()) < 0) raise_error();
}

// Ids already known in this process, keyed by the class and its version
// tag: a class modified since (or a new class at a freed one's address)
// has another tag, so a stale entry is never used.
struct KnownIdentity {
    unsigned int version;
    PyTypeObject* metaclass;  // assigning __class__ keeps the version tag
    ClassIdentity identity;
};

}  // namespace

struct KnownClassIdentities {
    std::unordered_map<PyObject*, KnownIdentity> by_class;
};

namespace {

std::unordered_map<PyObject*, KnownIdentity>& known_identities() {
    KnownClassIdentities*& known = internals().known_class_identities;
    if (known == nullptr) known = new KnownClassIdentities();
    return known->by_class;
}

}  // namespace

bool class_id_in_progress(PyObject* cls) {
    return std::find(in_progress().begin(), in_progress().end(), cls) != in_progress().end();
}

Ref class_id_of(PyObject* obj) {
    // No version tag: the registry's ids mapping (weak keys) remembers them.
    Registry r = registry();
    Record record = identify(r, obj);
    remember(r, obj, record);
    return record.id;
}

ClassIdentity class_identity(PyObject* cls, PyObject* names) {
    auto* type = reinterpret_cast<PyTypeObject*>(cls);
    unsigned int version = PyUnstable_Type_AssignVersionTag(type) ? type->tp_version_tag : 0;
    if (version != 0) {
        auto found = known_identities().find(cls);
        if (found != known_identities().end() && found->second.version == version &&
            found->second.metaclass == Py_TYPE(cls))
            return found->second.identity;
    }
    Registry r = registry();
    Record record = identify(r, cls);
    // Every name sent under this id, so that a later stream can delete
    // the attributes the class lost on the receivers that have them.
    Ref all = Ref::check(PyFrozenSet_New(record.sent.get()));
    Ref current = Ref::check(PyFrozenSet_New(names));
    Ref sent = Ref::check(PyNumber_Or(all.get(), current.get()));
    Ref gone = Ref::check(PyNumber_Subtract(sent.get(), current.get()));
    record.sent = sent;
    remember(r, cls, record);
    ClassIdentity identity{record.id, Ref()};
    if (PySet_GET_SIZE(gone.get()) > 0) {
        Ref sorted = Ref::check(PySequence_List(gone.get()));
        if (PyList_Sort(sorted.get()) < 0) raise_error();
        identity.removed = Ref::check(PyList_AsTuple(sorted.get()));
    }
    if (version != 0) known_identities()[cls] = KnownIdentity{version, Py_TYPE(cls), identity};
    return identity;
}

}  // namespace webpickle::py
