// What a stream sets on a class pickled by value, read from the class:
// its attributes (what type() does not make by itself), and for an enum
// the attributes its members got after they were made (by the enum's
// __init__, say). save_class.cpp writes them.
#pragma once
#include <Python.h>

#include <utility>
#include <vector>

#include "pyref.hpp"

namespace webpickle::py {

using NamedValues = std::vector<std::pair<Ref, Ref>>;

struct ClassState {
    bool is_enum = false;
    NamedValues attributes;         // sorted by name
    NamedValues member_attributes;  // member name -> {attribute: value}, in definition order

    static ClassState of(PyObject* cls);

    // The attribute names, as a tuple (what the class registry remembers).
    Ref names() const;
    // Takes the names that earlier streams set and the class lost (see
    // ClassIdentity): those a class cannot delete (__doc__, __annotate__,
    // __annotations__) become attributes that reset them; returns the rest,
    // to delete (a tuple, or null when there are none).
    Ref take_removed(PyObject* removed);
};

// True for classes made by typing.TypedDict: their metaclass refuses their
// own __bases__ (dict), so they are rebuilt from __orig_bases__, and makes
// their __annotate__ (a closure over typing's internals) from what the
// class statement gave it, which the stream gives it again.
bool is_typed_dict(PyObject* cls);

// For a TypedDict: ("__annotations__", the class statement's own
// annotations as the metaclass evaluated them and keeps them in the
// closure of the __annotate__ it made); an empty pair when the class has
// no such closure (its __annotate__ was replaced), which then travels as
// an attribute.
std::pair<Ref, Ref> typed_dict_own_annotations(PyObject* cls);

}  // namespace webpickle::py
