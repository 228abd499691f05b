#include "class_registry.hpp"

#include <algorithm>
#include <unordered_map>
#include <vector>

#include "pickler.hpp"
#include "runtime.hpp"

namespace webpickle::py {
namespace {

std::vector<PyObject*> g_in_progress;  // classes whose id is being computed

struct Registry {
    Ref by_id;  // id -> class (weak values), also what streams register into
    Ref ids;    // class -> id (weak keys), only in this process
};

Ref new_instance(const char* module, const char* name) {
    Ref factory = Ref::check(PyImport_ImportModuleAttrString(module, name));
    return Ref::check(PyObject_CallNoArgs(factory.get()));
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
    PyObject* attr = nullptr;
    if (PyObject_GetOptionalAttrString(module.get(), "by_id", &attr) < 0) raise_error();
    r.by_id = Ref::steal(attr);
    if (!r.by_id) {
        r.by_id = new_instance("weakref", "WeakValueDictionary");
        if (PyObject_SetAttrString(module.get(), "by_id", r.by_id.get()) < 0) raise_error();
    }
    if (PyObject_GetOptionalAttrString(module.get(), "ids", &attr) < 0) raise_error();
    r.ids = Ref::steal(attr);
    if (!r.ids) {
        r.ids = new_instance("weakref", "WeakKeyDictionary");
        if (PyObject_SetAttrString(module.get(), "ids", r.ids.get()) < 0) raise_error();
    }
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
    g_in_progress.push_back(cls);
    Ref stream;
    try {
        stream = pickler.dump(cls);
    } catch (...) {
        g_in_progress.pop_back();
        throw;
    }
    g_in_progress.pop_back();
    Ref sha256 = Ref::check(PyImport_ImportModuleAttrString("hashlib", "sha256"));
    Ref hash = Ref::check(PyObject_CallOneArg(sha256.get(), stream.get()));
    Ref hex = Ref::check(PyObject_CallMethod(hash.get(), "hexdigest", nullptr));
    return Ref::check(PyUnicode_Substring(hex.get(), 0, 20));
}

}  // namespace

bool class_id_in_progress(PyObject* cls) {
    return std::find(g_in_progress.begin(), g_in_progress.end(), cls) != g_in_progress.end();
}

namespace {

// Ids already known in this process, keyed by the class and its version
// tag: a class modified since (or a new class at a freed one's address)
// has another tag, so a stale entry is never used.
struct KnownId {
    unsigned int version;
    Ref id;
};

std::unordered_map<PyObject*, KnownId>& known_ids() {
    // Never destroyed: its references must not be released after the
    // interpreter has finalized, at process exit.
    static auto* cache = new std::unordered_map<PyObject*, KnownId>();
    return *cache;
}

}  // namespace

Ref class_id_of(PyObject* cls) {
    // TypeVar, ParamSpec, TypeVarTuple: no version tag; the registry's ids
    // mapping (weak keys) remembers them instead.
    if (!PyType_Check(cls)) return compute_class_id(cls);
    auto* type = reinterpret_cast<PyTypeObject*>(cls);
    unsigned int version = PyUnstable_Type_AssignVersionTag(type) ? type->tp_version_tag : 0;
    if (version != 0) {
        auto found = known_ids().find(cls);
        if (found != known_ids().end() && found->second.version == version) return found->second.id;
    }
    Ref id = compute_class_id(cls);
    if (version != 0) known_ids()[cls] = KnownId{version, id};
    return id;
}

namespace {

// The id under which a stream registered cls in this process, if one did:
// streams fill only by_id (id -> class), so search its values. Runs once
// per class and version tag (class_id_of caches the answer).
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

}  // namespace

Ref compute_class_id(PyObject* cls) {
    Registry r = registry();
    if (Ref known = lookup(r.ids.get(), cls)) return known;
    // A class loaded from a stream keeps the id it came with, so sending it
    // back gives the sender its own class object again.
    if (Ref known = registered_id(r.by_id.get(), cls)) {
        if (PyObject_SetItem(r.ids.get(), cls, known.get()) < 0) raise_error();
        return known;
    }
    Ref digest = content_digest(cls);
    PyObject* found = nullptr;
    if (PyObject_GetOptionalAttr(cls, runtime().s_qualname, &found) < 0) raise_error();
    Ref qualname = found ? Ref::steal(found) : Ref::check(PyObject_GetAttr(cls, name_of("__name__")));
    // Distinct live classes with the same content (made by one factory) take
    // the next free number; the first one gets none.
    for (long n = 0;; ++n) {
        Ref id = n == 0 ? Ref::check(PyUnicode_FromFormat("%U-%U", qualname.get(), digest.get()))
                        : Ref::check(PyUnicode_FromFormat("%U-%U-%ld", qualname.get(), digest.get(), n));
        Ref holder = lookup(r.by_id.get(), id.get());
        if (holder && holder.get() != cls) continue;
        if (PyObject_SetItem(r.by_id.get(), id.get(), cls) < 0) raise_error();
        if (PyObject_SetItem(r.ids.get(), cls, id.get()) < 0) raise_error();
        return id;
    }
}

}  // namespace webpickle::py
