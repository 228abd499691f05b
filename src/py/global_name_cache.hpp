// Where objects written by reference were found: obj -> (module name,
// qualname, module). Finding it costs the stdlib's whichmodule() rules
// (__module__, sys.modules, a getattr per dotted part) once per object in
// this process; later streams only check that it still holds, with two dict
// lookups: sys.modules[name] is the same module and its namespace still
// maps the name to obj. A class or function that moved, or a module that was
// replaced, fails the check and is looked up again. Bounded: when full it
// starts over. Lives in Internals (internals.hpp): one per process.
#pragma once
#include <Python.h>

#include <unordered_map>

#include "pyref.hpp"

namespace webpickle::py {

class GlobalNameCache {
public:
    // The module name under which obj was found as `qualname`, if that still
    // holds; null otherwise. Raises only if a dict lookup does.
    PyObject* find(PyObject* obj, PyObject* qualname, PyObject* sys_modules) const {
        auto found = entries_.find(obj);
        if (found == entries_.end()) return nullptr;
        const Entry& e = found->second;
        if (e.qualname.get() != qualname) {
            int same = PyUnicode_Check(qualname) ? PyUnicode_Compare(e.qualname.get(), qualname) : -1;
            if (same == -1 && PyErr_Occurred()) raise_error();
            if (same != 0) return nullptr;
        }
        PyObject* module = nullptr;
        if (PyDict_GetItemRef(sys_modules, e.module_name.get(), &module) < 0) raise_error();
        Ref owned_module = Ref::steal(module);
        if (module != e.module.get() || !PyModule_Check(module)) return nullptr;
        PyObject* value = nullptr;
        if (PyDict_GetItemRef(PyModule_GetDict(module), e.qualname.get(), &value) < 0) raise_error();
        Ref owned_value = Ref::steal(value);
        return value == obj ? e.module_name.get() : nullptr;
    }

    // Records that obj is sys.modules[module_name].<qualname>, for a
    // top-level qualname (dotted ones take the full lookup every time).
    void add(PyObject* obj, PyObject* qualname, PyObject* module_name, PyObject* module) {
        if (!PyUnicode_CheckExact(qualname) || !PyUnicode_CheckExact(module_name) || !PyModule_Check(module)) return;
        if (PyUnicode_FindChar(qualname, '.', 0, PyUnicode_GET_LENGTH(qualname), 1) != -1) return;
        if (entries_.size() >= kMaxEntries) {
            // Released after the map is empty again: a decref may run code that pickles.
            auto old = std::move(entries_);
            entries_.clear();
        }
        entries_[obj] = Entry{Ref::borrow(obj), Ref::borrow(qualname), Ref::borrow(module_name), Ref::borrow(module)};
    }

private:
    static constexpr std::size_t kMaxEntries = 1024;
    struct Entry {
        Ref obj;  // keeps the key's address from being reused
        Ref qualname, module_name, module;
    };
    std::unordered_map<PyObject*, Entry> entries_;
};

}  // namespace webpickle::py
