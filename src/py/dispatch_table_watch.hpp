// Whether copyreg.dispatch_table has a reducer for a type, without a dict
// lookup per object. Every instance of a plain class asks (the stdlib's
// pickler consults the table first), and the answer is nearly always no: a
// dict watcher (PyDict_AddWatcher, CPython 3.12+) counts the table's changes,
// and "no reducer for this type" is remembered for the last type asked
// about until the table changes. A removed or replaced type cannot gain an
// entry without changing the table, so a reused address is safe. Without a
// free watcher slot, every call looks the type up.
#pragma once
#include <Python.h>

#include <cstdint>

namespace webpickle::py {

class DispatchTableWatch {
public:
    // Watches `table` (copyreg.dispatch_table); false if no watcher is free.
    static bool start(PyObject* table) {
        if (!PyDict_CheckExact(table)) return false;
        int id = PyDict_AddWatcher(&on_change);
        if (id < 0) {
            PyErr_Clear();
            return false;
        }
        if (PyDict_Watch(id, table) < 0) {
            PyErr_Clear();
            return false;
        }
        state().watching = true;
        return true;
    }

    // True when the table is known to have no entry for type.
    static bool known_absent(PyTypeObject* type) {
        const State& s = state();
        return s.watching && s.absent_type == type && s.absent_generation == s.generation;
    }

    // After a lookup found no entry for type.
    static void remember_absent(PyTypeObject* type) {
        State& s = state();
        s.absent_type = type;
        s.absent_generation = s.generation;
    }

private:
    struct State {
        bool watching = false;
        std::uint64_t generation = 1;
        PyTypeObject* absent_type = nullptr;  // compared by address only
        std::uint64_t absent_generation = 0;
    };
    static State& state() {
        static State s;
        return s;
    }
    static int on_change(PyDict_WatchEvent, PyObject*, PyObject*, PyObject*) {
        ++state().generation;
        return 0;
    }
};

}  // namespace webpickle::py
