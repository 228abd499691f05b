// The parts of a function object that are pickled by value, read once, and
// the decisions about them (which attributes differ from what
// types.FunctionType sets by itself, which globals the code uses).
#pragma once
#include <Python.h>

#include <vector>

#include "pickler.hpp"
#include "pyref.hpp"

namespace webpickle::py {

struct FunctionParts {
    Ref func;
    Ref code, globals, name, qualname, module, doc;
    Ref defaults, kwdefaults, closure, dict, annotate, annotations, type_params;

    static FunctionParts of(PyObject* func);

    // {attribute: value} for the attributes to set after FunctionType().
    Ref changed_attributes() const;
    // Global names the code uses that the copy of the globals lacks, in
    // first-use order ("__name__" first, so __module__ comes out right).
    std::vector<PyObject*> global_names_to_write(const GlobalsCopy& copy) const;
    // The free variable that a closure cell holds (for error notes).
    PyObject* free_variable_name(PyObject* cell) const;
};

}  // namespace webpickle::py
