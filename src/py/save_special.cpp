// Objects the stdlib cannot pickle that cloudpickle can, rebuilt from their
// parts with stdlib calls: WeakSet, dict views, and TypeVar/ParamSpec/
// TypeVarTuple/TypeAliasType defined where the loading side cannot import
// them.
// Writers of the special-types table (special_types.cpp).
#include <cstring>
#include <string>

#include "by_value_policy.hpp"
#include "pickler.hpp"
#include "writers.hpp"
#include "runtime.hpp"
#include "special_writers.hpp"

namespace webpickle::py {
namespace {

Ref attr(PyObject* obj, const char* name) { return Ref::check(PyObject_GetAttr(obj, name_of(name))); }

// functools.partial(factory, *args, **kwargs): saved, then called with ().
Ref make_partial(PyObject* factory, PyObject* args, PyObject* kwargs) {
    Ref head = Ref::check(PyTuple_Pack(1, factory));
    Ref all = Ref::check(PySequence_Concat(head.get(), args));
    return Ref::check(PyObject_Call(runtime().functools_partial, all.get(), kwargs));
}

}  // namespace

bool write_weakset(Pickler& p, PyObject* obj) {
    Ref items = Ref::check(PySequence_List(obj));
    Ref args = Ref::check(PyTuple_Pack(1, items.get()));
    p.save_reduce(reinterpret_cast<PyObject*>(Py_TYPE(obj)), args.get(), nullptr, nullptr, nullptr, nullptr, obj);
    return true;
}

// dict.keys(dict(view.mapping)), and likewise for values, items and the
// views of OrderedDict.
bool write_dict_view(Pickler& p, PyObject* obj) {
    static const struct {
        const char* type_name;
        const char* container_module;
        const char* container;
        const char* method;
    } views[] = {
        {"dict_keys", "builtins", "dict", "dict.keys"},
        {"dict_values", "builtins", "dict", "dict.values"},
        {"dict_items", "builtins", "dict", "dict.items"},
        {"odict_keys", "collections", "OrderedDict", "OrderedDict.keys"},
        {"odict_values", "collections", "OrderedDict", "OrderedDict.values"},
        {"odict_items", "collections", "OrderedDict", "OrderedDict.items"},
    };
    for (const auto& view : views) {
        if (std::strcmp(Py_TYPE(obj)->tp_name, view.type_name) != 0) continue;
        Ref mapping = attr(obj, "mapping");
        Ref copy = Ref::check(PyObject_CallOneArg(stdlib_attr(view.container_module, view.container), mapping.get()));
        p.save_global_as(stdlib_attr(view.container_module, view.method), view.container_module, view.method);
        p.save(copy.get());
        p.writer().opcode(op::TUPLE1);
        p.writer().opcode(op::REDUCE);
        p.memoize(obj);
        return true;
    }
    return false;
}

// A TypeVar, ParamSpec, TypeVarTuple or TypeAliasType that the loading side
// could not import by name is made again from its parts.
bool write_typing_variable(Pickler& p, PyObject* obj) {
    const char* kinds[] = {"TypeVar", "ParamSpec", "TypeVarTuple", "TypeAliasType"};
    const char* kind = nullptr;
    for (const char* candidate : kinds)
        if (Py_TYPE(obj) == reinterpret_cast<PyTypeObject*>(stdlib_attr("typing", candidate))) kind = candidate;
    if (kind == nullptr || !pickle_by_value(obj)) return false;
    Ref name = attr(obj, "__name__");
    Ref args = Ref::check(PyList_New(0));
    Ref kwargs = Ref::check(PyDict_New());
    if (PyList_Append(args.get(), name.get()) < 0) raise_error();
    auto keyword = [&](const char* key, const char* attribute) {
        Ref value = attr(obj, attribute);
        if (PyDict_SetItemString(kwargs.get(), key, value.get()) < 0) raise_error();
    };
    std::string k(kind);
    if (k == "TypeAliasType") {
        if (PyList_Append(args.get(), attr(obj, "__value__").get()) < 0) raise_error();
        keyword("type_params", "__type_params__");
    } else {
        if (k == "TypeVar") {
            Ref constraints = attr(obj, "__constraints__");
            for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(constraints.get()); ++i)
                if (PyList_Append(args.get(), PyTuple_GET_ITEM(constraints.get(), i)) < 0) raise_error();
            if (PyTuple_GET_SIZE(constraints.get()) == 0) keyword("bound", "__bound__");
        } else if (k == "ParamSpec") {
            keyword("bound", "__bound__");
        }
        if (k != "TypeVarTuple") {
            keyword("covariant", "__covariant__");
            keyword("contravariant", "__contravariant__");
            keyword("infer_variance", "__infer_variance__");
        }
        Ref has_default = Ref::check(PyObject_CallMethod(obj, "has_default", nullptr));
        if (has_default.get() == Py_True) keyword("default", "__default__");
    }
    Ref arg_tuple = Ref::check(PyList_AsTuple(args.get()));
    Ref factory = make_partial(stdlib_attr("typing", kind), arg_tuple.get(), kwargs.get());
    p.save(factory.get());
    p.writer().opcode(op::EMPTY_TUPLE);
    p.writer().opcode(op::REDUCE);
    if (k == "TypeAliasType") {  // no weak references: it cannot join the registry
        p.memoize(obj);
        return true;
    }
    // Registered like a class, so that a type variable loaded from several
    // streams is one object (generics and their functions keep agreeing).
    std::uint32_t index = p.session().memo_add(obj);
    p.writer().memo_put(index);
    p.writer().opcode(op::POP);
    write_class_registration(p, obj, index);
    return true;
}

}  // namespace webpickle::py
