// Class identity for classes pickled by value (and for TypeVar, ParamSpec
// and TypeVarTuple objects pickled by value, which get ids the same way).
//
// A stream rebuilds a class and then registers it, with stdlib calls only,
// in a registry module it leaves in the loading process:
//   sys.modules["__webpickle_classes__"].by_id   (a WeakValueDictionary)
// under an id derived from the class's content. If a class with that id is
// already there (the same class from another stream, or the original class
// in the process that pickled it), the stream uses that one instead, so one
// dynamic class loaded from several streams is one class object.
//
// The id is a hash of the class pickled on its own (context-free, so the
// same definitions give the same id in any process), plus a counter that
// tells apart distinct live classes with identical content (a factory's).
#pragma once
#include <Python.h>

#include "pyref.hpp"

namespace webpickle::py {

inline constexpr const char* kRegistryModule = "__webpickle_classes__";

// The id of a class pickled by value; computed once per class and process.
Ref class_id_of(PyObject* cls);
// The same without the per-process cache (hashes the class if it is new).
Ref compute_class_id(PyObject* cls);

// True while class_id_of is hashing cls: the nested dump writes an empty id
// for it (a class that reaches itself through another class).
bool class_id_in_progress(PyObject* cls);

}  // namespace webpickle::py
