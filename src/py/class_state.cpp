#include "class_state.hpp"

#include <algorithm>

#include "internals.hpp"
#include "runtime.hpp"

namespace webpickle::py {
namespace {

// Attributes that type() makes by itself or that are caches.
const char* const kImplicitAttributes[] = {
    "__dict__",          "__weakref__",         "__module__",      "__qualname__", "__slots__",
    "__orig_bases__",    "__type_params__",     "__annotations_cache__", "__classdictcell__",
    "__classcell__",     "_abc_impl",
};

// Attributes enum's machinery computes when it builds an enum class.
const char* const kEnumInternals[] = {
    "_generate_next_value_", "_member_map_",   "_member_names_",  "_member_type_", "_value2member_map_",
    "_new_member_",          "_use_args_",     "_hashable_values_", "_unhashable_values_",
    "_unhashable_values_map_", "_value_repr_", "__new__",         "_singles_mask_", "_all_bits_",
    "_flag_mask_",           "_inverted_",     "_boundary_",      "__init__",
};

// Attributes enum gives each member when it makes it.
const char* const kMemberInternals[] = {"_value_", "_name_", "__objclass__", "_sort_order_"};

// A set of interned names, built once from a list of literals. Class
// dictionary keys are interned, so membership is a scan of a dozen pointers
// (cheaper than hashing, in wasm above all), with a comparison fallback for
// the rare key that is not interned.
class NameSet {
public:
    template <std::size_t N>
    explicit NameSet(const char* const (&names)[N]) {
        for (const char* name : names) names_.push_back(name_of(name));
    }
    bool contains(PyObject* key) const {
        for (PyObject* name : names_)
            if (name == key) return true;
        if (PyUnicode_CHECK_INTERNED(key)) return false;
        for (PyObject* name : names_)
            if (PyUnicode_Compare(key, name) == 0) return true;
        return false;
    }

private:
    std::vector<PyObject*> names_;
};

}  // namespace

struct ClassNameSets {
    NameSet implicit{kImplicitAttributes};
    NameSet enum_internals{kEnumInternals};
    NameSet member_internals{kMemberInternals};
};

namespace {

const ClassNameSets& name_sets() {
    ClassNameSets*& sets = internals().class_name_sets;
    if (sets == nullptr) sets = new ClassNameSets();
    return *sets;
}

bool is_name(PyObject* key, PyObject* name) {
    return key == name || (!PyUnicode_CHECK_INTERNED(key) && PyUnicode_Compare(key, name) == 0);
}

Ref attribute(PyObject* obj, const char* name) { return Ref::check(PyObject_GetAttr(obj, name_of(name))); }

bool is_enum_class(PyObject* cls) {
    int result = PyObject_IsInstance(cls, stdlib_attr("enum", "EnumType"));
    if (result < 0) raise_error();
    return result != 0;
}

// Slot and __dict__ descriptors that type() creates from __slots__: their
// type and owner read from the descriptor itself (every class attribute
// passes here).
bool is_own_descriptor(PyObject* cls, PyObject* value) {
    PyTypeObject* type = Py_TYPE(value);
    if (type != &PyMemberDescr_Type && type != &PyGetSetDescr_Type) return false;
    return reinterpret_cast<PyObject*>(reinterpret_cast<PyDescrObject*>(value)->d_type) == cls;
}

// Annotations assigned after the class statement (C.__annotations__ = {...})
// live only in type's cache, with no __annotate__ to make them again: they
// travel as __annotations__. A cache next to an __annotate__ function is
// derived from it, and an empty one changes nothing.
Ref assigned_annotations(PyObject* dict) {
    PyObject* cache = nullptr;
    if (PyDict_GetItemRef(dict, name_of("__annotations_cache__"), &cache) < 0) raise_error();
    Ref owned = Ref::steal(cache);
    if (!cache || !PyDict_Check(cache) || PyDict_GET_SIZE(cache) == 0) return Ref();
    PyObject* annotate = nullptr;
    if (PyDict_GetItemRef(dict, name_of("__annotate_func__"), &annotate) < 0) raise_error();
    Ref owned_annotate = Ref::steal(annotate);
    if (annotate != nullptr && annotate != Py_None) return Ref();
    return owned;
}

void sort_by_name(NamedValues& items) {
    // By name, not in dict order: a class rebuilt from a stream has its
    // attributes in another order (type() puts __doc__ first, for one), and
    // must pickle to the same bytes, and the same class id, as the original.
    std::sort(items.begin(), items.end(), [](const auto& a, const auto& b) {
        int order = PyUnicode_Compare(a.first.get(), b.first.get());
        if (order == -1 && PyErr_Occurred()) PyErr_Clear();  // names are str: cannot fail
        return order < 0;
    });
}

// The value of the free variable `name` in func's closure, or null.
Ref closure_variable(PyObject* func, const char* name) {
    if (!PyFunction_Check(func)) return Ref();
    PyObject* closure = PyFunction_GET_CLOSURE(func);
    if (closure == nullptr) return Ref();
    Ref freevars = Ref::check(PyObject_GetAttrString(PyFunction_GET_CODE(func), "co_freevars"));
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(freevars.get()) && i < PyTuple_GET_SIZE(closure); ++i) {
        if (PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(freevars.get(), i), name) != 0) continue;
        return Ref::borrow(PyCell_GET(PyTuple_GET_ITEM(closure, i)));
    }
    return Ref();
}

NamedValues read_attributes(PyObject* cls, bool is_enum) {
    PyObject* dict = reinterpret_cast<PyTypeObject*>(cls)->tp_dict;
    Ref member_map = is_enum ? attribute(cls, "_member_map_") : Ref();
    const NameSet& implicit = name_sets().implicit;
    const NameSet& enum_internals = name_sets().enum_internals;
    // type stores __annotate__ as __annotate_func__ (PEP 649); setattr maps it back.
    PyObject* const annotate_func = name_of("__annotate_func__");
    PyObject* const doc = name_of("__doc__");
    NamedValues items;
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    while (PyDict_Next(dict, &pos, &key, &value)) {
        if (!PyUnicode_Check(key)) continue;
        if (implicit.contains(key)) continue;
        if (is_enum) {
            if (enum_internals.contains(key)) continue;
            int member = PyDict_Contains(member_map.get(), key);
            if (member < 0) raise_error();
            if (member) continue;
        }
        if (is_own_descriptor(cls, value)) continue;
        Ref name = Ref::borrow(key);
        if (is_name(key, annotate_func)) name = Ref::borrow(name_of("__annotate__"));
        if (value == Py_None && is_name(key, doc)) continue;
        items.emplace_back(name, Ref::borrow(value));
    }
    if (Ref annotations = assigned_annotations(dict))
        items.emplace_back(Ref::borrow(name_of("__annotations__")), annotations);
    if (is_typed_dict(cls) && typed_dict_own_annotations(cls).first) {
        PyObject* const annotate = name_of("__annotate__");
        items.erase(std::remove_if(items.begin(), items.end(),
                                   [annotate](const auto& item) { return item.first.get() == annotate; }),
                    items.end());
    }
    sort_by_name(items);
    return items;
}

// {attribute: value} of each member beyond what enum gives it, for the
// members that have any (aliases are the same objects: skipped).
NamedValues read_member_attributes(PyObject* cls) {
    const NameSet& member_internals = name_sets().member_internals;
    Ref names = attribute(cls, "_member_names_");
    Ref member_map = attribute(cls, "_member_map_");
    Ref list = Ref::check(PySequence_List(names.get()));
    NamedValues result;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(list.get()); ++i) {
        PyObject* name = PyList_GET_ITEM(list.get(), i);
        Ref member = Ref::check(PyObject_GetItem(member_map.get(), name));
        PyObject* dict = nullptr;
        if (PyObject_GetOptionalAttr(member.get(), runtime().s_dict, &dict) < 0) raise_error();
        Ref owned = Ref::steal(dict);
        if (!dict || !PyDict_Check(dict)) continue;
        Ref extra = Ref::check(PyDict_New());
        Py_ssize_t pos = 0;
        PyObject *key, *value;
        while (PyDict_Next(dict, &pos, &key, &value)) {
            if (PyUnicode_Check(key) && member_internals.contains(key)) continue;
            if (PyDict_SetItem(extra.get(), key, value) < 0) raise_error();
        }
        if (PyDict_GET_SIZE(extra.get()) > 0) result.emplace_back(Ref::borrow(name), extra);
    }
    return result;
}

}  // namespace

ClassState ClassState::of(PyObject* cls) {
    ClassState state;
    state.is_enum = is_enum_class(cls);
    state.attributes = read_attributes(cls, state.is_enum);
    if (state.is_enum) state.member_attributes = read_member_attributes(cls);
    return state;
}

Ref ClassState::names() const {
    Ref tuple = Ref::check(PyTuple_New(static_cast<Py_ssize_t>(attributes.size())));
    for (std::size_t i = 0; i < attributes.size(); ++i)
        PyTuple_SET_ITEM(tuple.get(), static_cast<Py_ssize_t>(i), Ref(attributes[i].first).release());
    return tuple;
}

Ref ClassState::take_removed(PyObject* removed) {
    if (removed == nullptr) return Ref();
    auto has = [this](PyObject* name) {
        return std::any_of(attributes.begin(), attributes.end(),
                           [name](const auto& item) { return objects_equal(item.first.get(), name); });
    };
    PyObject* const doc = name_of("__doc__");
    PyObject* const annotate = name_of("__annotate__");
    PyObject* const annotations = name_of("__annotations__");
    Ref to_delete = Ref::check(PyList_New(0));
    bool added = false;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(removed); ++i) {
        PyObject* name = PyTuple_GET_ITEM(removed, i);
        if (objects_equal(name, doc)) {
            attributes.emplace_back(Ref::borrow(doc), Ref::borrow(Py_None));
        } else if (objects_equal(name, annotate)) {
            // Setting __annotations__ drops __annotate__ by itself.
            if (!has(annotations)) attributes.emplace_back(Ref::borrow(annotate), Ref::borrow(Py_None));
        } else if (objects_equal(name, annotations)) {
            // Setting __annotate__ drops the annotations by itself.
            if (!has(annotate)) attributes.emplace_back(Ref::borrow(annotations), Ref::check(PyDict_New()));
        } else {
            if (PyList_Append(to_delete.get(), name) < 0) raise_error();
            continue;
        }
        added = true;
    }
    if (added) sort_by_name(attributes);
    if (PyList_GET_SIZE(to_delete.get()) == 0) return Ref();
    return Ref::check(PyList_AsTuple(to_delete.get()));
}

bool is_typed_dict(PyObject* cls) {
    // Most classes have type as their metaclass, and without typing
    // imported there is no TypedDict: neither needs an isinstance check.
    if (Py_IS_TYPE(cls, &PyType_Type)) return false;
    int imported = PyDict_Contains(runtime().sys_modules, name_of("typing"));
    if (imported <= 0) {
        if (imported < 0) raise_error();
        return false;
    }
    int result = PyObject_IsInstance(cls, stdlib_attr("typing", "_TypedDictMeta"));
    if (result < 0) raise_error();
    return result != 0;
}

std::pair<Ref, Ref> typed_dict_own_annotations(PyObject* cls) {
    PyObject* made = nullptr;
    PyObject* dict = reinterpret_cast<PyTypeObject*>(cls)->tp_dict;
    if (PyDict_GetItemRef(dict, name_of("__annotate_func__"), &made) < 0) raise_error();
    Ref owned = Ref::steal(made);
    if (!made) return {};
    // The class body's annotations as the metaclass evaluated them (its
    // __annotate__ function reaches the class's namespace, which does not
    // exist yet when the skeleton is made).
    Ref own_annotations = closure_variable(made, "own_annotations");
    if (!own_annotations || !PyDict_Check(own_annotations.get())) return {};  // not the metaclass's closure
    return {Ref::borrow(name_of("__annotations__")), own_annotations};
}

}  // namespace webpickle::py
