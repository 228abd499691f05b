// Objects found in class bodies that the stdlib cannot pickle, rebuilt from
// their parts: classmethod, staticmethod and property objects, and the
// sentinels that dataclasses compare by identity (written as references, so
// `field.default is dataclasses.MISSING` still holds after loading).
#include <algorithm>
#include <unordered_map>
#include <utility>
#include <vector>

#include "pickler.hpp"
#include "runtime.hpp"

namespace webpickle::py {
namespace {

// Module-level singletons that must stay themselves: object -> (module, name),
// and their types, which are checked first (every instance of a plain class
// passes here, and a scan of four pointers is cheaper than a hash lookup).
struct IdentitySingletons {
    std::unordered_map<PyObject*, std::pair<const char*, const char*>> by_object;
    std::vector<PyTypeObject*> types;
};

const IdentitySingletons& identity_singletons() {
    static IdentitySingletons table = [] {
        IdentitySingletons built;
        for (const char* name : {"MISSING", "KW_ONLY", "_FIELD", "_FIELD_CLASSVAR", "_FIELD_INITVAR",
                                 "_HAS_DEFAULT_FACTORY"}) {
            PyObject* value = PyImport_ImportModuleAttrString("dataclasses", name);
            if (value == nullptr) {
                PyErr_Clear();  // a Python without this sentinel
                continue;
            }
            built.by_object.emplace(value, std::make_pair("dataclasses", name));  // kept for the process's life
            if (std::find(built.types.begin(), built.types.end(), Py_TYPE(value)) == built.types.end())
                built.types.push_back(Py_TYPE(value));
        }
        return built;
    }();
    return table;
}

// The mapping a mappingproxy shows, or null. The object's layout is not
// public API (PyObject_HEAD, then the mapping), so it is checked once
// against a proxy made with PyDictProxy_New; if it differs, null always.
PyObject* proxied_mapping(PyObject* proxy) {
    struct Layout {
        PyObject_HEAD
        PyObject* mapping;
    };
    static const bool layout_ok = [] {
        Ref dict = Ref::check(PyDict_New());
        Ref probe = Ref::check(PyDictProxy_New(dict.get()));
        return reinterpret_cast<Layout*>(probe.get())->mapping == dict.get();
    }();
    return layout_ok ? reinterpret_cast<Layout*>(proxy)->mapping : nullptr;
}

}  // namespace

bool Pickler::save_descriptor(PyObject* obj) {
    PyTypeObject* type = Py_TYPE(obj);
    if (type == &PyClassMethod_Type || type == &PyStaticMethod_Type) {
        Ref func = Ref::check(PyObject_GetAttr(obj, name_of("__func__")));
        Ref args = Ref::check(PyTuple_Pack(1, func.get()));
        save_reduce(reinterpret_cast<PyObject*>(type), args.get(), nullptr, nullptr, nullptr, nullptr, obj);
        return true;
    }
    if (type == &PyProperty_Type) {
        Ref args = Ref::check(PyTuple_New(4));
        const char* parts[] = {"fget", "fset", "fdel", "__doc__"};
        for (Py_ssize_t i = 0; i < 4; ++i)
            PyTuple_SET_ITEM(args.get(), i, Ref::check(PyObject_GetAttr(obj, name_of(parts[i]))).release());
        save_reduce(reinterpret_cast<PyObject*>(type), args.get(), nullptr, nullptr, nullptr, nullptr, obj);
        return true;
    }
    if (type == &PyDictProxy_Type) {
        if (PyObject* mapping = proxied_mapping(obj)) {
            // vars(cls) of a class written by value (a __classdict__ cell
            // after a round trip): vars(cls) again, not a detached copy.
            if (session_.namespaces().find(mapping) != nullptr) {
                save(mapping);
                return true;
            }
        }
        // types.MappingProxyType(a copy of the mapping it shows)
        Ref copy = Ref::check(PyObject_CallMethod(obj, "copy", nullptr));
        Ref args = Ref::check(PyTuple_Pack(1, copy.get()));
        save_global_as(reinterpret_cast<PyObject*>(type), "types", "MappingProxyType");
        save(args.get());
        writer_.opcode(op::REDUCE);
        memoize(obj);
        return true;
    }
    return false;
}

bool Pickler::save_identity_singleton(PyObject* obj) {
    const IdentitySingletons& singletons = identity_singletons();
    if (std::find(singletons.types.begin(), singletons.types.end(), Py_TYPE(obj)) == singletons.types.end())
        return false;
    auto found = singletons.by_object.find(obj);
    if (found == singletons.by_object.end()) return false;
    save_global_as(obj, found->second.first, found->second.second);
    return true;
}

}  // namespace webpickle::py
