#include "function_parts.hpp"

#include <algorithm>

#include "code_scan_cache.hpp"
#include "runtime.hpp"
#include "writers.hpp"

namespace webpickle::py {
namespace {

void set_item(PyObject* dict, const char* key, PyObject* value) {
    if (PyDict_SetItem(dict, name_of(key), value) < 0) raise_error();
}

// None or null as null, else a new reference.
Ref unless_none(PyObject* value) { return value == nullptr || value == Py_None ? Ref() : Ref::borrow(value); }

}  // namespace

// The fields are read from the function object itself: its attributes are
// plain views of them (a function's type cannot be subclassed, so nothing
// can override them), and seven attribute lookups per function were a
// tenth of a class's pickling time in wasm.
FunctionParts FunctionParts::of(PyObject* func) {
    auto* f = reinterpret_cast<PyFunctionObject*>(func);
    FunctionParts p;
    p.func = Ref::borrow(func);
    p.code = Ref::borrow(f->func_code);
    p.globals = Ref::borrow(f->func_globals);
    p.name = Ref::borrow(f->func_name);
    p.qualname = Ref::borrow(f->func_qualname);
    p.module = unless_none(f->func_module);
    p.doc = unless_none(f->func_doc);
    p.defaults = unless_none(f->func_defaults);
    p.kwdefaults = unless_none(f->func_kwdefaults);
    p.closure = unless_none(f->func_closure);
    p.dict = unless_none(f->func_dict);
    // PEP 649: keep annotations lazy by sending __annotate__, never its result.
    p.annotate = unless_none(f->func_annotate);
    if (!p.annotate) {
        p.annotations = unless_none(f->func_annotations);
        if (p.annotations && PyDict_Check(p.annotations.get()) && PyDict_GET_SIZE(p.annotations.get()) == 0)
            p.annotations = Ref();
    }
    p.type_params = unless_none(f->func_typeparams);
    if (p.type_params && PyTuple_Check(p.type_params.get()) && PyTuple_GET_SIZE(p.type_params.get()) == 0)
        p.type_params = Ref();
    return p;
}

Ref FunctionParts::changed_attributes() const {
    Ref attrs = Ref::check(PyDict_New());
    PyObject* code_qualname = reinterpret_cast<PyCodeObject*>(code.get())->co_qualname;
    if (!objects_equal(qualname.get(), code_qualname)) set_item(attrs.get(), "__qualname__", qualname.get());
    PyObject* globals_name = nullptr;
    if (PyDict_GetItemRef(globals.get(), runtime().s_name, &globals_name) < 0) raise_error();
    Ref owned_name = Ref::steal(globals_name);
    if (!objects_equal(module.get() ? module.get() : Py_None, globals_name ? globals_name : Py_None))
        set_item(attrs.get(), "__module__", module.get() ? module.get() : Py_None);
    if (doc) set_item(attrs.get(), "__doc__", doc.get());
    if (defaults) set_item(attrs.get(), "__defaults__", defaults.get());
    if (kwdefaults) set_item(attrs.get(), "__kwdefaults__", kwdefaults.get());
    if (annotate) set_item(attrs.get(), "__annotate__", annotate.get());
    if (annotations) set_item(attrs.get(), "__annotations__", annotations.get());
    if (type_params) set_item(attrs.get(), "__type_params__", type_params.get());
    return attrs;
}

std::vector<PyObject*> FunctionParts::global_names_to_write(const GlobalsCopy& copy) const {
    bool package = needs_package_name(code.get(), globals.get());  // relative imports
    const std::vector<PyObject*>& used = code_names(code.get()).global_names;  // no repeats
    std::vector<PyObject*> names;
    names.reserve(used.size() + 2);
    PyObject* first[] = {runtime().s_name, package ? name_of("__package__") : nullptr};
    for (PyObject* name : first)
        if (name != nullptr && copy.names.count(name) == 0) names.push_back(name);
    for (PyObject* name : used)
        if (name != first[0] && name != first[1] && copy.names.count(name) == 0) names.push_back(name);
    return names;
}

PyObject* FunctionParts::free_variable_name(PyObject* cell) const {
    if (!closure || !code) return Py_None;
    Ref freevars = Ref::steal(PyObject_GetAttrString(code.get(), "co_freevars"));
    if (!freevars) {
        PyErr_Clear();
        return Py_None;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(closure.get()); ++i)
        if (PyTuple_GET_ITEM(closure.get(), i) == cell && i < PyTuple_GET_SIZE(freevars.get()))
            return PyTuple_GET_ITEM(freevars.get(), i);  // borrowed from the code object
    return Py_None;
}

}  // namespace webpickle::py
