// Objects found in class bodies that the stdlib cannot pickle, rebuilt from
// their parts: classmethod, staticmethod and property objects, mappingproxy,
// descriptors of built-in types, and the sentinels that dataclasses compares
// by identity (written as references, so `field.default is
// dataclasses.MISSING` still holds after loading). Writers of the
// special-types table (special_types.cpp).
#include <algorithm>
#include <unordered_map>
#include <utility>
#include <vector>

#include "internals.hpp"
#include "pickler.hpp"
#include "runtime.hpp"
#include "special_writers.hpp"

namespace webpickle::py {

// Module-level singletons that must stay themselves: object -> (module, name),
// and their types (entries of the special-types table).
struct IdentitySingletons {
    std::unordered_map<PyObject*, std::pair<const char*, const char*>> by_object;
    std::vector<PyTypeObject*> types;
};

namespace {

const IdentitySingletons& identity_singletons() {
    IdentitySingletons*& table = internals().identity_singletons;
    if (table == nullptr) {
        auto* built = new IdentitySingletons();
        for (const char* name : {"MISSING", "KW_ONLY", "_FIELD", "_FIELD_CLASSVAR", "_FIELD_INITVAR",
                                 "_HAS_DEFAULT_FACTORY"}) {
            PyObject* value = PyImport_ImportModuleAttrString("dataclasses", name);
            if (value == nullptr) {
                PyErr_Clear();  // a Python without this sentinel
                continue;
            }
            built->by_object.emplace(value, std::make_pair("dataclasses", name));  // kept for the process's life
            if (std::find(built->types.begin(), built->types.end(), Py_TYPE(value)) == built->types.end())
                built->types.push_back(Py_TYPE(value));
        }
        table = built;
    }
    return *table;
}

// The mapping a mappingproxy shows, or null. The object's layout is not
// public API (PyObject_HEAD, then the mapping), so it is checked once
// against a proxy made with PyDictProxy_New; if it differs, null always.
PyObject* proxied_mapping(PyObject* proxy) {
    struct Layout {
        PyObject_HEAD
        PyObject* mapping;
    };
    int& layout_ok = internals().mappingproxy_layout_ok;
    if (layout_ok < 0) {
        Ref dict = Ref::check(PyDict_New());
        Ref probe = Ref::check(PyDictProxy_New(dict.get()));
        layout_ok = reinterpret_cast<Layout*>(probe.get())->mapping == dict.get();
    }
    return layout_ok ? reinterpret_cast<Layout*>(proxy)->mapping : nullptr;
}

}  // namespace

// type(obj)(obj.__func__): classmethod and staticmethod objects, and the
// abc module's abstract subclasses of them.
bool write_method_descriptor(Pickler& p, PyObject* obj) {
    Ref func = Ref::check(PyObject_GetAttr(obj, name_of("__func__")));
    Ref args = Ref::check(PyTuple_Pack(1, func.get()));
    p.save_reduce(reinterpret_cast<PyObject*>(Py_TYPE(obj)), args.get(), nullptr, nullptr, nullptr, nullptr, obj);
    return true;
}

// type(obj)(fget, fset, fdel, doc)
bool write_property(Pickler& p, PyObject* obj) {
    Ref args = Ref::check(PyTuple_New(4));
    const char* parts[] = {"fget", "fset", "fdel", "__doc__"};
    for (Py_ssize_t i = 0; i < 4; ++i)
        PyTuple_SET_ITEM(args.get(), i, Ref::check(PyObject_GetAttr(obj, name_of(parts[i]))).release());
    p.save_reduce(reinterpret_cast<PyObject*>(Py_TYPE(obj)), args.get(), nullptr, nullptr, nullptr, nullptr, obj);
    return true;
}

bool write_mappingproxy(Pickler& p, PyObject* obj) {
    if (PyObject* mapping = proxied_mapping(obj)) {
        // vars(cls) of a class written by value (a __classdict__ cell
        // after a round trip): vars(cls) again, not a detached copy.
        if (p.session().namespaces().find(mapping) != nullptr) {
            p.save(mapping);
            return true;
        }
    }
    // types.MappingProxyType(a copy of the mapping it shows)
    Ref copy = Ref::check(PyObject_CallMethod(obj, "copy", nullptr));
    Ref args = Ref::check(PyTuple_Pack(1, copy.get()));
    p.save_global_as(reinterpret_cast<PyObject*>(Py_TYPE(obj)), "types", "MappingProxyType");
    p.save(args.get());
    p.writer().opcode(op::REDUCE);
    p.memoize(obj);
    return true;
}

// A getset or member descriptor of a class: vars(owner)[name].
// getattr(owner, name) would run the descriptor when the owner is an
// instance of its own class (type.__doc__).
bool write_slot_descriptor(Pickler& p, PyObject* obj) {
    p.save_global_as(stdlib_attr("operator", "getitem"), "operator", "getitem");
    p.save_global_as(stdlib_attr("builtins", "vars"), "builtins", "vars");
    p.save(Ref::check(PyObject_GetAttr(obj, name_of("__objclass__"))).get());
    p.writer().opcode(op::TUPLE1);
    p.writer().opcode(op::REDUCE);
    p.save(Ref::check(PyObject_GetAttr(obj, name_of("__name__"))).get());
    p.writer().opcode(op::TUPLE2);
    p.writer().opcode(op::REDUCE);
    p.memoize(obj);
    return true;
}

bool write_identity_singleton(Pickler& p, PyObject* obj) {
    const IdentitySingletons& singletons = identity_singletons();
    auto found = singletons.by_object.find(obj);
    if (found == singletons.by_object.end()) return false;
    p.save_global_as(obj, found->second.first, found->second.second);
    return true;
}

std::vector<PyTypeObject*> identity_singleton_types() { return identity_singletons().types; }

}  // namespace webpickle::py
