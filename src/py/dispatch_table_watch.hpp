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

// Lives in Internals (internals.hpp): one per process.
class DispatchTableWatch {
public:
    // Watches `table` (copyreg.dispatch_table); false if no watcher is free.
    // In internals.cpp, with the watcher's callback.
    bool start(PyObject* table);

    // True when the table is known to have no entry for type.
    bool known_absent(PyTypeObject* type) const {
        return watching_ && absent_type_ == type && absent_generation_ == generation_;
    }

    // After a lookup found no entry for type.
    void remember_absent(PyTypeObject* type) {
        absent_type_ = type;
        absent_generation_ = generation_;
    }

    // The watcher's callback: the table changed.
    void changed() { ++generation_; }

private:
    bool watching_ = false;
    std::uint64_t generation_ = 1;
    PyTypeObject* absent_type_ = nullptr;  // compared by address only
    std::uint64_t absent_generation_ = 0;
};

}  // namespace webpickle::py
