// Closures that a stdlib factory made, rebuilt on the loading side by calling
// the factory again instead of carrying the stdlib's own bytecode by value.
//
// functools.singledispatch functions and lru_cache/cache wrappers (a C
// object, written for the special-types table) are rebuilt the same way,
// their registrations replayed and their cache left behind.
//
// A dataclass carries two of them: the __annotate__ of its generated
// __init__ (dataclasses._make_annotate_function) and the wrapper around its
// generated __repr__ (reprlib.recursive_repr, which user code applies too).
// Written by value they were a large share of a notebook cell's stream
// (dataclasses' and reprlib's code, names and globals); as a factory call
// they are a few memo references, load faster (no code object to build), and
// run the loading side's own stdlib code.
//
// A function qualifies only when it is exactly what the factory returns:
// its code object is the factory's own nested code (identity, not
// equality), its globals are the factory's module, and every attribute and
// closure cell is what the factory would set from its arguments. Anything
// changed afterwards (an attribute set, a cell rebound) sends it by value as
// before, so nothing is lost either way.
#include <initializer_list>

#include "by_value_policy.hpp"
#include "function_parts.hpp"
#include "internals.hpp"
#include "pickler.hpp"
#include "runtime.hpp"
#include "special_writers.hpp"
#include "writers.hpp"

namespace webpickle::py {
namespace {

// sys.modules[name], or null when it is not imported: a function whose code
// came from a stdlib module implies the module is loaded, so nothing is
// imported here on behalf of unrelated functions.
PyObject* loaded_module(const char* name) {
    PyObject* module = nullptr;
    if (PyDict_GetItemStringRef(runtime().sys_modules, name, &module) < 0) raise_error();
    if (module == nullptr) return nullptr;
    Py_DECREF(module);  // sys.modules keeps it alive
    return module;
}

// The code constant named `name` in code's co_consts, or null.
PyObject* nested_code(PyObject* code, PyObject* name) {
    if (code == nullptr || !PyCode_Check(code)) return nullptr;
    PyObject* consts = reinterpret_cast<PyCodeObject*>(code)->co_consts;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(consts); ++i) {
        PyObject* item = PyTuple_GET_ITEM(consts, i);
        if (PyCode_Check(item) && reinterpret_cast<PyCodeObject*>(item)->co_name == name) return item;
    }
    return nullptr;
}

// module.factory.__code__, then down through the nested code objects named
// in `path`: the code object of the closures the factory makes. Borrowed
// from the module's function, which the module keeps alive.
PyObject* factory_code(PyObject* module, const char* factory, std::initializer_list<const char*> path) {
    PyObject* function = nullptr;
    if (PyObject_GetOptionalAttr(module, name_of(factory), &function) < 0) raise_error();
    if (function == nullptr) return nullptr;
    Ref owned = Ref::steal(function);
    if (!PyFunction_Check(function)) return nullptr;
    PyObject* code = PyFunction_GetCode(function);
    for (const char* name : path) code = nested_code(code, name_of(name));
    return code;
}

bool globals_are_module(PyObject* func, PyObject* module) {
    return PyFunction_GetGlobals(func) == PyModule_GetDict(module);
}

// The contents of the closure cell of free variable `name`; null when the
// function has no such cell or the cell is empty.
PyObject* cell_contents(PyObject* func, const char* name) {
    PyObject* closure = PyFunction_GetClosure(func);
    if (closure == nullptr) return nullptr;
    auto* code = reinterpret_cast<PyCodeObject*>(PyFunction_GetCode(func));
    Ref freevars = Ref::check(PyCode_GetFreevars(code));
    PyObject* wanted = name_of(name);
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(freevars.get()) && i < PyTuple_GET_SIZE(closure); ++i) {
        if (PyTuple_GET_ITEM(freevars.get(), i) == wanted) return PyCell_GET(PyTuple_GET_ITEM(closure, i));
    }
    return nullptr;
}

// No defaults, keyword defaults or type parameters: what a plain `def` of
// the factory gives before it sets anything.
bool has_no_extras(const FunctionParts& parts) {
    return !parts.defaults && !parts.kwdefaults && !parts.type_params;
}

// func.__dict__ is exactly {key: value} (value compared by identity).
bool dict_is_only(const FunctionParts& parts, const char* key, PyObject* value) {
    if (!parts.dict || !PyDict_CheckExact(parts.dict.get()) || PyDict_GET_SIZE(parts.dict.get()) != 1) return false;
    PyObject* found = nullptr;
    if (PyDict_GetItemRef(parts.dict.get(), name_of(key), &found) < 0) raise_error();
    Ref owned = Ref::steal(found);
    return found == value;
}

// The method name M in a qualname "<cls.__qualname__>.M.__annotate__", or null.
Ref annotate_method_name(PyObject* qualname, PyObject* cls) {
    if (!PyUnicode_Check(qualname) || !PyType_Check(cls)) return Ref();
    Ref prefix = Ref::check(PyUnicode_FromFormat("%U.", reinterpret_cast<PyHeapTypeObject*>(cls)->ht_qualname));
    PyObject* suffix = name_of(".__annotate__");
    Py_ssize_t length = PyUnicode_GET_LENGTH(qualname);
    Py_ssize_t start = PyUnicode_GET_LENGTH(prefix.get());
    Py_ssize_t end = length - PyUnicode_GET_LENGTH(suffix);
    if (end <= start) return Ref();
    Py_ssize_t head = PyUnicode_Tailmatch(qualname, prefix.get(), 0, length, -1);
    Py_ssize_t tail = PyUnicode_Tailmatch(qualname, suffix, 0, length, 1);
    if (head < 0 || tail < 0) raise_error();
    if (!head || !tail) return Ref();
    return Ref::check(PyUnicode_Substring(qualname, start, end));
}

// The attributes functools.update_wrapper copies from `source` that differ
// on `func` (set again after the factory call).
Ref copied_attributes_changed(PyObject* func, PyObject* source) {
    Ref changed = Ref::check(PyDict_New());
    for (const char* name : {"__module__", "__doc__", "__name__", "__qualname__", "__annotate__"}) {
        PyObject* theirs = nullptr;
        if (PyObject_GetOptionalAttr(source, name_of(name), &theirs) < 0) raise_error();
        Ref owned = Ref::steal(theirs);
        Ref ours = Ref::check(PyObject_GetAttr(func, name_of(name)));
        if (objects_equal(theirs ? theirs : Py_None, ours.get())) continue;
        if (PyDict_SetItem(changed.get(), name_of(name), ours.get()) < 0) raise_error();
    }
    return changed;
}

// The entries of a wrapper's __dict__ that calling the factory on `wrapped`
// would not set again (update_wrapper sets __wrapped__, the wrapper
// assignments and wrapped's own __dict__), leaving out `ignored` (what the
// factory itself sets).
Ref attributes_set_afterwards(PyObject* dict, PyObject* wrapped, std::initializer_list<const char*> ignored) {
    Ref changed = Ref::check(PyDict_New());
    PyObject* wrapped_dict = nullptr;
    if (PyObject_GetOptionalAttr(wrapped, runtime().s_dict, &wrapped_dict) < 0) raise_error();
    Ref owned_wrapped_dict = Ref::steal(wrapped_dict);
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    while (PyDict_Next(dict, &pos, &key, &value)) {
        if (!PyUnicode_Check(key)) continue;
        bool skip = false;
        for (const char* name : ignored) skip = skip || PyUnicode_CompareWithASCIIString(key, name) == 0;
        if (skip || (PyUnicode_CompareWithASCIIString(key, "__wrapped__") == 0 && value == wrapped)) continue;
        PyObject* from_wrapped = nullptr;
        if (wrapped_dict != nullptr && PyDict_Check(wrapped_dict) &&
            PyDict_GetItemRef(wrapped_dict, key, &from_wrapped) < 0)
            raise_error();
        if (from_wrapped == nullptr && PyObject_GetOptionalAttr(wrapped, key, &from_wrapped) < 0) raise_error();
        Ref owned = Ref::steal(from_wrapped);
        if (from_wrapped != nullptr && (from_wrapped == value || objects_equal(from_wrapped, value))) continue;
        if (PyDict_SetItem(changed.get(), key, value) < 0) raise_error();
    }
    return changed;
}

// With the rebuilt object on the stack: BUILD (None, {attribute: value}),
// which sets each attribute with setattr; nothing when there are none.
void write_attributes_by_build(Pickler& p, PyObject* attributes) {
    if (PyDict_GET_SIZE(attributes) == 0) return;
    p.writer().none();
    p.save(attributes);
    p.writer().opcode(op::TUPLE2);
    p.writer().opcode(op::BUILD);
}

// module.factory(*arguments)(wrapped), memoized as wrapper, then the
// attributes set on wrapper after the decorator made it: a decorated
// function rebuilt by decorating again. One or two arguments; module and
// factory are literals (stdlib_attr).
void write_decorated(Pickler& p, const char* module, const char* factory, std::initializer_list<PyObject*> arguments,
                     PyObject* wrapped, PyObject* wrapper, PyObject* changed) {
    p.save_global_as(stdlib_attr(module, factory), module, factory);
    for (PyObject* argument : arguments) p.save(argument);
    p.writer().opcode(arguments.size() == 1 ? op::TUPLE1 : op::TUPLE2);
    p.writer().opcode(op::REDUCE);
    p.save(wrapped);
    p.writer().opcode(op::TUPLE1);
    p.writer().opcode(op::REDUCE);
    p.memoize_built(wrapper);
    write_attributes_by_build(p, changed);
}

// dataclasses._make_annotate_function(cls, method_name, annotation_fields, return_type)
bool save_dataclass_annotate(Pickler& p, const FunctionParts& parts) {
    PyObject* module = loaded_module("dataclasses");
    if (module == nullptr || !globals_are_module(parts.func.get(), module)) return false;
    PyObject*& expected = internals().dataclass_annotate_code;  // a code object of the module's function, kept
    if (expected == nullptr) {
        expected = factory_code(module, "_make_annotate_function", {"__annotate__"});
        if (expected == nullptr) return false;
        Py_INCREF(expected);
    }
    if (parts.code.get() != expected || !has_no_extras(parts) || parts.doc || parts.annotate) return false;
    if (!dict_is_only(parts, "__generated_by_dataclasses__", Py_True)) return false;
    PyObject* cls = cell_contents(parts.func.get(), "__class__");
    PyObject* fields = cell_contents(parts.func.get(), "annotation_fields");
    PyObject* return_type = cell_contents(parts.func.get(), "return_type");
    if (cls == nullptr || fields == nullptr || return_type == nullptr) return false;
    Ref method = annotate_method_name(parts.qualname.get(), cls);
    if (!method || !objects_equal(parts.name.get(), name_of("__annotate__")) ||
        !objects_equal(parts.module.get(), name_of("dataclasses")))
        return false;
    Ref cls_ref = Ref::borrow(cls), fields_ref = Ref::borrow(fields), return_ref = Ref::borrow(return_type);
    p.write_version_guard();  // the factory is 3.14's
    p.save_global_as(stdlib_attr("dataclasses", "_make_annotate_function"), "dataclasses", "_make_annotate_function");
    p.writer().opcode(op::MARK);
    p.save(cls_ref.get());
    p.save(method.get());
    p.save(fields_ref.get());
    p.save(return_ref.get());
    p.writer().opcode(op::TUPLE);
    p.writer().opcode(op::REDUCE);
    p.memoize_built(parts.func.get());
    return true;
}

// reprlib.recursive_repr(fillvalue)(user_function)
bool save_recursive_repr_wrapper(Pickler& p, const FunctionParts& parts) {
    PyObject* module = loaded_module("reprlib");
    if (module == nullptr || !globals_are_module(parts.func.get(), module)) return false;
    PyObject*& expected = internals().recursive_repr_code;  // a code object of the module's function, kept
    if (expected == nullptr) {
        expected = factory_code(module, "recursive_repr", {"decorating_function", "wrapper"});
        if (expected == nullptr) return false;
        Py_INCREF(expected);
    }
    if (parts.code.get() != expected || !has_no_extras(parts)) return false;
    PyObject* fillvalue = cell_contents(parts.func.get(), "fillvalue");
    PyObject* running = cell_contents(parts.func.get(), "repr_running");
    PyObject* user_function = cell_contents(parts.func.get(), "user_function");
    // A non-empty repr_running means a repr is running right now: a rebuilt
    // wrapper would forget it, so such a wrapper travels by value.
    if (fillvalue == nullptr || running == nullptr || user_function == nullptr || !PySet_CheckExact(running) ||
        PySet_GET_SIZE(running) != 0)
        return false;
    Ref user = Ref::borrow(user_function);
    if (!dict_is_only(parts, "__wrapped__", user_function)) return false;
    // decorating_function copies these from user_function; whatever was set
    // on the wrapper afterwards (dataclasses sets __qualname__) is set again
    // after the call.
    Ref changed = copied_attributes_changed(parts.func.get(), user_function);
    Ref fill = Ref::borrow(fillvalue);
    write_decorated(p, "reprlib", "recursive_repr", {fill.get()}, user.get(), parts.func.get(), changed.get());
    return true;
}

// functools.singledispatch(base), then wrapper.register(cls, impl) for each
// registration after the base's, in the order they were made. The registry
// travels; the dispatch cache (weak references, filled again on demand)
// does not.
bool save_singledispatch(Pickler& p, const FunctionParts& parts) {
    PyObject* module = loaded_module("functools");
    if (module == nullptr || !globals_are_module(parts.func.get(), module) || !parts.dict) return false;
    PyObject*& expected = internals().singledispatch_code;  // a code object of the module's function, kept
    if (expected == nullptr) {
        expected = factory_code(module, "singledispatch", {"wrapper"});
        if (expected == nullptr) return false;
        Py_INCREF(expected);
    }
    if (parts.code.get() != expected || !has_no_extras(parts)) return false;
    PyObject* proxy = nullptr;
    if (PyDict_GetItemRef(parts.dict.get(), name_of("registry"), &proxy) < 0) raise_error();
    Ref owned_proxy = Ref::steal(proxy);
    if (proxy == nullptr || !PyObject_TypeCheck(proxy, &PyDictProxy_Type)) return false;
    Ref registry = Ref::check(PyObject_CallMethod(proxy, "copy", nullptr));  // a dict, in registration order
    PyObject* base = nullptr;
    if (PyDict_GetItemRef(registry.get(), reinterpret_cast<PyObject*>(&PyBaseObject_Type), &base) < 0) raise_error();
    Ref owned_base = Ref::steal(base);
    if (base == nullptr) return false;
    Ref changed = copied_attributes_changed(parts.func.get(), base);
    Ref set_later = attributes_set_afterwards(parts.dict.get(), base,
                                              {"register", "dispatch", "registry", "_clear_cache"});
    if (PyDict_Update(changed.get(), set_later.get()) < 0) raise_error();

    p.save_global_as(stdlib_attr("functools", "singledispatch"), "functools", "singledispatch");
    p.save(base);
    p.writer().opcode(op::TUPLE1);
    p.writer().opcode(op::REDUCE);
    // Writing base reached this function again (base uses it by name) and
    // wrote it whole there: keep that one, registrations included.
    bool written_inside = p.session().memo_find(parts.func.get()) != IdentityMemo::kMissing;
    p.memoize_built(parts.func.get());
    if (written_inside) return true;
    write_attributes_by_build(p, changed.get());
    Py_ssize_t pos = 0;
    PyObject *cls, *impl;
    while (PyDict_Next(registry.get(), &pos, &cls, &impl)) {
        if (cls == reinterpret_cast<PyObject*>(&PyBaseObject_Type)) continue;
        Ref cls_ref = Ref::borrow(cls), impl_ref = Ref::borrow(impl);
        // getattr(wrapper, "register")(cls, impl), its result dropped.
        p.save_global_as(runtime().builtin_getattr, "builtins", "getattr");
        p.save(parts.func.get());
        p.save_interned_name("register");
        p.writer().opcode(op::TUPLE2);
        p.writer().opcode(op::REDUCE);
        p.save(cls_ref.get());
        p.save(impl_ref.get());
        p.writer().opcode(op::TUPLE2);
        p.writer().opcode(op::REDUCE);
        p.writer().opcode(op::POP);
    }
    return true;
}

}  // namespace

// functools.lru_cache(maxsize, typed)(wrapped): functools.cache and
// lru_cache wrappers that the loading side could not import by name arrive
// with an empty cache. Importable ones take the general path (by name).
bool write_lru_cache_wrapper(Pickler& p, PyObject* wrapper) {
    if (!pickle_by_value(wrapper)) return false;
    Ref wrapped = Ref::check(PyObject_GetAttr(wrapper, name_of("__wrapped__")));
    Ref parameters = Ref::check(PyObject_CallMethod(wrapper, "cache_parameters", nullptr));
    Ref maxsize = Ref::check(PyObject_GetItem(parameters.get(), name_of("maxsize")));
    Ref typed = Ref::check(PyObject_GetItem(parameters.get(), name_of("typed")));
    PyObject* dict = nullptr;
    if (PyObject_GetOptionalAttr(wrapper, runtime().s_dict, &dict) < 0) raise_error();
    Ref owned_dict = Ref::steal(dict);
    Ref changed = dict != nullptr && PyDict_Check(dict) ? attributes_set_afterwards(dict, wrapped.get(), {})
                                                         : Ref::check(PyDict_New());
    write_decorated(p, "functools", "lru_cache", {maxsize.get(), typed.get()}, wrapped.get(), wrapper, changed.get());
    return true;
}

bool save_stdlib_closure(Pickler& p, const FunctionParts& parts) {
    // A pointer comparison first: co_name is interned, and most functions
    // are named neither way.
    PyObject* name = reinterpret_cast<PyCodeObject*>(parts.code.get())->co_name;
    if (name == name_of("__annotate__")) return save_dataclass_annotate(p, parts);
    if (name == name_of("wrapper")) return save_recursive_repr_wrapper(p, parts) || save_singledispatch(p, parts);
    return false;
}

}  // namespace webpickle::py
