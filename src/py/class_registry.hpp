// Class identity for classes pickled by value (and for TypeVar, ParamSpec
// and TypeVarTuple objects pickled by value, which get ids the same way).
//
// A stream rebuilds a class and registers it, with stdlib calls only, in a
// registry module it leaves in the loading process:
//   sys.modules["__webpickle_classes__"].by_id   (a WeakValueDictionary)
// under an id derived from the class's content. If a class with that id is
// already there (the same class from another stream, or the original class
// in the process that pickled it), the stream uses that one instead, so one
// dynamic class loaded from several streams is one class object.
//
// The stream then sets the class's state (its attributes) on
//   sys.modules["__webpickle_classes__"].own.get(cls, cls)
// so that the newest stream's state wins in a process that got the class
// from a stream, while the process that defined the class, where `own`
// maps it to a stand-in that drops whatever is set on it, keeps its own.
//
// The id is a hash of the class pickled on its own (context-free, so the
// same definitions give the same id in any process), plus a counter that
// tells apart distinct live classes with identical content (a factory's).
// A class keeps its id while it changes, unless its metaclass, bases or
// __slots__ change: a receiver cannot change those on its class, so the
// class then gets a new id, and receivers a new class.
#pragma once
#include <Python.h>

#include "pyref.hpp"

namespace webpickle::py {

inline constexpr const char* kRegistryModule = "__webpickle_classes__";

// The id of a TypeVar, ParamSpec or TypeVarTuple pickled by value.
Ref class_id_of(PyObject* obj);

struct ClassIdentity {
    Ref id;
    // Names of attributes that earlier streams of this class set and that
    // it no longer has (a sorted tuple), or null when there are none.
    Ref removed;
};

// The id of a class pickled by value and what it lost since it was first
// pickled in this process; names is the tuple of attribute names the
// stream sets. Computed once per class and version tag.
ClassIdentity class_identity(PyObject* cls, PyObject* names);

// True while class ids are hashing cls: the nested dump writes an empty id
// for it (a class that reaches itself through another class).
bool class_id_in_progress(PyObject* cls);

}  // namespace webpickle::py
