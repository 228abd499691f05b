// Objects the stdlib cannot pickle that cloudpickle can, rebuilt from their
// parts with stdlib calls: WeakSet, dict views, descriptors of built-in
// types, TypeVar/ParamSpec/TypeVarTuple/TypeAliasType defined where the
// loading side cannot import them, and text files open for reading (by
// content, as an io.StringIO).
#include <cstring>
#include <string>

#include "by_value_policy.hpp"
#include "pickler.hpp"
#include "runtime.hpp"

namespace webpickle::py {
namespace {

bool is_instance(PyObject* obj, const char* module, const char* name) {
    int result = PyObject_IsInstance(obj, stdlib_attr(module, name));
    if (result < 0) raise_error();
    return result != 0;
}

// Compares the type's name without allocating: this runs for every object
// that reaches the general path.
bool type_named(PyObject* obj, const char* name) { return std::strcmp(Py_TYPE(obj)->tp_name, name) == 0; }

Ref attr(PyObject* obj, const char* name) { return Ref::check(PyObject_GetAttr(obj, name_of(name))); }

// functools.partial(factory, *args, **kwargs): saved, then called with ().
Ref make_partial(PyObject* factory, PyObject* args, PyObject* kwargs) {
    Ref head = Ref::check(PyTuple_Pack(1, factory));
    Ref all = Ref::check(PySequence_Concat(head.get(), args));
    return Ref::check(PyObject_Call(runtime().functools_partial, all.get(), kwargs));
}

}  // namespace

bool Pickler::save_special(PyObject* obj) {
    if (type_named(obj, "WeakSet") && is_instance(obj, "weakref", "WeakSet")) {
        Ref items = Ref::check(PySequence_List(obj));
        Ref args = Ref::check(PyTuple_Pack(1, items.get()));
        save_reduce(reinterpret_cast<PyObject*>(Py_TYPE(obj)), args.get(), nullptr, nullptr, nullptr, nullptr, obj);
        return true;
    }
    if (save_dict_view(obj)) return true;
    if (type_named(obj, "getset_descriptor") || type_named(obj, "member_descriptor")) {
        // vars(owner)[name]: getattr(owner, name) would run the descriptor
        // when the owner is an instance of its own class (type.__doc__).
        save_global_as(stdlib_attr("operator", "getitem"), "operator", "getitem");
        save_global_as(stdlib_attr("builtins", "vars"), "builtins", "vars");
        save(attr(obj, "__objclass__").get());
        writer_.opcode(op::TUPLE1);
        writer_.opcode(op::REDUCE);
        save(attr(obj, "__name__").get());
        writer_.opcode(op::TUPLE2);
        writer_.opcode(op::REDUCE);
        memoize(obj);
        return true;
    }
    if (save_typing_variable(obj)) return true;
    if (type_named(obj, "_io.TextIOWrapper")) {
        save_text_file(obj);
        return true;
    }
    return false;
}

// dict.keys(dict(view.mapping)), and likewise for values, items and the
// views of OrderedDict.
bool Pickler::save_dict_view(PyObject* obj) {
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
        if (!type_named(obj, view.type_name)) continue;
        Ref mapping = attr(obj, "mapping");
        Ref copy = Ref::check(PyObject_CallOneArg(stdlib_attr(view.container_module, view.container), mapping.get()));
        save_global_as(stdlib_attr(view.container_module, view.method), view.container_module, view.method);
        save(copy.get());
        writer_.opcode(op::TUPLE1);
        writer_.opcode(op::REDUCE);
        memoize(obj);
        return true;
    }
    return false;
}

// A TypeVar, ParamSpec, TypeVarTuple or TypeAliasType that the loading side
// could not import by name is made again from its parts.
bool Pickler::save_typing_variable(PyObject* obj) {
    // Their C types are named typing.*: a cheap test before four lookups.
    if (std::strncmp(Py_TYPE(obj)->tp_name, "typing.", 7) != 0) return false;
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
    save(factory.get());
    writer_.opcode(op::EMPTY_TUPLE);
    writer_.opcode(op::REDUCE);
    if (k == "TypeAliasType") {  // no weak references: it cannot join the registry
        memoize(obj);
        return true;
    }
    // Registered like a class, so that a type variable loaded from several
    // streams is one object (generics and their functions keep agreeing).
    std::uint32_t index = session_.memo_add(obj);
    writer_.memo_put(index);
    writer_.opcode(op::POP);
    write_class_registration(obj, index);
    return true;
}

// A text file open for reading travels as an io.StringIO holding its
// content, at the same position and with the same name.
void Pickler::save_text_file(PyObject* file) {
    Ref closed = attr(file, "closed");
    if (closed.get() == Py_True) raise(runtime().PicklingError, "Cannot pickle closed files");
    Ref mode = attr(file, "mode");
    if (PyUnicode_Check(mode.get()) && PyUnicode_FindChar(mode.get(), 'r', 0, PY_SSIZE_T_MAX, 1) < 0)
        raise_format(runtime().PicklingError, "Cannot pickle files that are not opened for reading: %U", mode.get());
    Ref position = Ref::check(PyObject_CallMethod(file, "tell", nullptr));
    Ref rewound = Ref::check(PyObject_CallMethod(file, "seek", "i", 0));
    Ref content = Ref::check(PyObject_CallMethod(file, "read", nullptr));
    Ref restored = Ref::check(PyObject_CallMethod(file, "seek", "O", position.get()));
    Ref copy = Ref::check(PyObject_CallOneArg(stdlib_attr("io", "StringIO"), content.get()));
    Ref offset = Ref::check(PyObject_CallMethod(copy.get(), "seek", "O", position.get()));
    if (PyObject_SetAttrString(copy.get(), "name", attr(file, "name").get()) < 0) raise_error();
    save(copy.get());
}

}  // namespace webpickle::py
