// The types written specially: one table from exact type to writer, built
// once, consulted by the general path (Pickler::save_uncommon) in the place
// each entry's stage names. Every specially written type is listed in
// special_types.cpp; the writers live in the files named there.
#pragma once
#include <Python.h>

namespace webpickle::py {

class Pickler;

// Where a writer sits among the general path's steps.
enum class SpecialStage : unsigned char {
    // Before the dispatch table and the plain-instance fast path: objects
    // that must stay themselves though their class is a plain one.
    identity,
    // After the plain-instance fast path, before a dispatch-table reducer:
    // types the stdlib cannot pickle (or not as cloudpickle does).
    before_reducer,
};

// Writes obj and returns true, or returns false having written nothing
// (the general path goes on, e.g. for an object importable by name).
using SpecialWriter = bool (*)(Pickler& pickler, PyObject* obj);

struct SpecialType {
    PyTypeObject* type;
    SpecialStage stage;
    SpecialWriter write;
};

// The entry for exactly this type (not its subclasses), or null. Builds the
// table on first use.
const SpecialType* find_special_type(PyTypeObject* type);

}  // namespace webpickle::py
