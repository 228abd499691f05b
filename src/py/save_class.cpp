// Classes by value. A class is written as
//   candidate = metaclass(name, bases, {__module__, __qualname__, __slots__, ...})
//               (enums: EnumBase(name, members, module=..., qualname=...))
//   list(map(setattr, itertools.repeat(candidate), names, values))
//   cls = registry.setdefault(class_id, candidate)      (see class_registry.hpp)
// and the memo slot of the class is then overwritten with cls, so that every
// later reference in the stream is to the registered class.
#include <algorithm>
#include <string>
#include <vector>

#include "by_value_policy.hpp"
#include "class_registry.hpp"
#include "pickler.hpp"
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

}  // namespace

void Pickler::save_class(PyObject* cls) {
    // Only classes made by Python code can be rebuilt from their namespace;
    // a built-in or C type that cannot be found by name gets the stdlib's error.
    if (!PyType_HasFeature(reinterpret_cast<PyTypeObject*>(cls), Py_TPFLAGS_HEAPTYPE) || !pickle_by_value(cls)) {
        save_global(cls, nullptr);
        return;
    }
    bool is_enum = is_enum_class(cls);
    try {
        if (is_enum) write_enum_skeleton(cls);
        else write_class_skeleton(cls);
    } catch (PythonError&) {
        note_current_error("when serializing class %R", cls);
        throw;
    }
    std::uint32_t index = session_.memo_add(cls);
    writer_.memo_put(index);
    writer_.opcode(op::POP);
    session_.namespaces().emplace(reinterpret_cast<PyTypeObject*>(cls)->tp_dict, cls);
    write_class_attributes(cls, is_enum);
    write_abc_registrations(cls, index);
    write_class_registration(cls, index);
}

void Pickler::write_class_skeleton(PyObject* cls) {
    save(reinterpret_cast<PyObject*>(Py_TYPE(cls)));  // the metaclass
    Ref name = attribute(cls, "__name__");
    Ref bases = attribute(cls, "__bases__");
    Ref namespace_ = Ref::check(PyDict_New());
    PyObject* dict = reinterpret_cast<PyTypeObject*>(cls)->tp_dict;
    // What type() must see when the class is made: the rest is set after.
    for (const char* key : {"__module__", "__qualname__", "__slots__", "__orig_bases__", "__type_params__"}) {
        PyObject* value = nullptr;
        if (PyDict_GetItemStringRef(dict, key, &value) < 0) raise_error();
        if (value == nullptr && std::string(key) == "__qualname__") value = Ref::check(PyObject_GetAttr(cls, runtime().s_qualname)).release();
        if (value == nullptr) continue;
        Ref owned = Ref::steal(value);
        if (PyDict_SetItemString(namespace_.get(), key, value) < 0) raise_error();
    }
    save(name.get());
    save(bases.get());
    save(namespace_.get());
    writer_.opcode(op::TUPLE3);
    writer_.opcode(op::REDUCE);
}

void Pickler::write_enum_skeleton(PyObject* cls) {
    // metaclass(name, bases, ns), ns = metaclass.__prepare__(name, bases)
    // filled with __module__, __qualname__ and the members (aliases
    // included) in order: what a class statement does, and twice as fast to
    // load as the functional API Enum(name, [(member, value), ...]).
    // Members get their final values; methods and the rest are set after.
    Ref metaclass = Ref::borrow(reinterpret_cast<PyObject*>(Py_TYPE(cls)));
    Ref name = attribute(cls, "__name__");
    Ref bases = attribute(cls, "__bases__");
    save(metaclass.get());
    save(name.get());
    save(bases.get());
    save_global_as(stdlib_attr("builtins", "getattr"), "builtins", "getattr");
    save(metaclass.get());
    save(name_of("__prepare__"));
    writer_.opcode(op::TUPLE2);
    writer_.opcode(op::REDUCE);
    save(name.get());
    save(bases.get());
    writer_.opcode(op::TUPLE2);
    writer_.opcode(op::REDUCE);  // the enum's namespace
    writer_.opcode(op::MARK);
    save(name_of("__module__"));
    save(attribute(cls, "__module__").get());
    save(name_of("__qualname__"));
    save(attribute(cls, "__qualname__").get());
    Ref member_map = attribute(cls, "_member_map_");
    Py_ssize_t pos = 0;
    PyObject *member_name, *member;
    while (PyDict_Next(member_map.get(), &pos, &member_name, &member)) {
        save(member_name);
        save(attribute(member, "_value_").get());
    }
    writer_.opcode(op::SETITEMS);
    writer_.opcode(op::TUPLE3);
    writer_.opcode(op::REDUCE);
}

void Pickler::write_class_attributes(PyObject* cls, bool is_enum) {
    PyObject* dict = reinterpret_cast<PyTypeObject*>(cls)->tp_dict;
    Ref member_map = is_enum ? attribute(cls, "_member_map_") : Ref();
    std::vector<std::pair<Ref, Ref>> items;
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    while (PyDict_Next(dict, &pos, &key, &value)) {
        if (!PyUnicode_Check(key)) continue;
        static const NameSet implicit(kImplicitAttributes);
        static const NameSet enum_internals(kEnumInternals);
        if (implicit.contains(key)) continue;
        if (is_enum) {
            if (enum_internals.contains(key)) continue;
            int member = PyDict_Contains(member_map.get(), key);
            if (member < 0) raise_error();
            if (member) continue;
        }
        if (is_own_descriptor(cls, value)) continue;
        Ref name = Ref::borrow(key);
        // type stores __annotate__ as __annotate_func__ (PEP 649); setattr maps it back.
        static PyObject* const annotate_func = name_of("__annotate_func__");
        static PyObject* const doc = name_of("__doc__");
        if (key == annotate_func || (!PyUnicode_CHECK_INTERNED(key) && PyUnicode_Compare(key, annotate_func) == 0))
            name = Ref::borrow(name_of("__annotate__"));
        if (value == Py_None && (key == doc || (!PyUnicode_CHECK_INTERNED(key) && PyUnicode_Compare(key, doc) == 0)))
            continue;
        items.emplace_back(name, Ref::borrow(value));
    }
    if (items.empty()) return;
    // By name, not in dict order: a class rebuilt from a stream has its
    // attributes in another order (type() puts __doc__ first, for one), and
    // must pickle to the same bytes, and the same class id, as the original.
    std::sort(items.begin(), items.end(), [](const auto& a, const auto& b) {
        int order = PyUnicode_Compare(a.first.get(), b.first.get());
        if (order == -1 && PyErr_Occurred()) PyErr_Clear();  // names are str: cannot fail
        return order < 0;
    });
    // BUILD (None, {name: value}): the unpickler setattr()s each item on the
    // class, with no global lookup (the costly part of loading; figures in
    // bench/README.md, "Measured reasons").
    // BUILD would call a __setstate__ the class inherits instead: such a
    // class gets list(map(setattr, itertools.repeat(cls), names, values)).
    int has_setstate = PyObject_HasAttrWithError(cls, name_of("__setstate__"));
    if (has_setstate < 0) raise_error();
    if (has_setstate) {
        write_attributes_by_setattr(cls, items);
        return;
    }
    writer_.memo_get(session_.memo_find(cls));
    writer_.none();
    writer_.opcode(op::EMPTY_DICT);
    writer_.opcode(op::MARK);
    for (const auto& item : items) {
        save(item.first.get());
        save_class_attribute(cls, item.first.get(), item.second.get());
    }
    writer_.opcode(op::SETITEMS);
    writer_.opcode(op::TUPLE2);
    writer_.opcode(op::BUILD);
    writer_.opcode(op::POP);
}

void Pickler::save_class_attribute(PyObject* cls, PyObject* name, PyObject* value) {
    try {
        save(value);
    } catch (PythonError&) {
        note_current_error("when serializing attribute %R of class %R", name, cls);
        throw;
    }
}

// list(map(setattr, itertools.repeat(cls), names, values))
void Pickler::write_attributes_by_setattr(PyObject* cls, const std::vector<std::pair<Ref, Ref>>& items) {
    save_global_as(reinterpret_cast<PyObject*>(&PyList_Type), "builtins", "list");
    save_global_as(reinterpret_cast<PyObject*>(&PyMap_Type), "builtins", "map");
    writer_.opcode(op::MARK);
    save_global_as(stdlib_attr("builtins", "setattr"), "builtins", "setattr");
    save_global_as(stdlib_attr("itertools", "repeat"), "itertools", "repeat");
    writer_.memo_get(session_.memo_find(cls));
    writer_.opcode(op::TUPLE1);
    writer_.opcode(op::REDUCE);
    writer_.opcode(op::MARK);
    for (const auto& item : items) save(item.first.get());
    writer_.opcode(op::TUPLE);
    writer_.opcode(op::MARK);
    for (const auto& item : items) save_class_attribute(cls, item.first.get(), item.second.get());
    writer_.opcode(op::TUPLE);
    writer_.opcode(op::TUPLE);
    writer_.opcode(op::REDUCE);
    writer_.opcode(op::TUPLE1);
    writer_.opcode(op::REDUCE);
    writer_.opcode(op::POP);
}

// Virtual subclasses registered with an ABC: abc.ABCMeta.register(cls, sub),
// sorted by name so the stream does not depend on set order.
void Pickler::write_abc_registrations(PyObject* cls, std::uint32_t index) {
    PyObject* abc_meta = stdlib_attr("abc", "ABCMeta");
    int is_abc = PyObject_IsInstance(cls, abc_meta);
    if (is_abc < 0) raise_error();
    if (!is_abc) return;
    Ref dump = Ref::check(PyObject_CallOneArg(stdlib_attr("abc", "_get_dump"), cls));
    Ref registry = Ref::check(PySequence_List(PyTuple_GET_ITEM(dump.get(), 0)));
    std::vector<std::pair<std::string, Ref>> subclasses;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(registry.get()); ++i) {
        PyObject* sub = nullptr;
        if (PyWeakref_GetRef(PyList_GET_ITEM(registry.get(), i), &sub) < 0) raise_error();
        if (sub == nullptr) continue;  // a subclass that is gone
        Ref owned = Ref::steal(sub);
        Ref qualname = Ref::check(PyObject_GetAttr(sub, runtime().s_qualname));
        const char* text = PyUnicode_AsUTF8(qualname.get());
        if (text == nullptr) raise_error();
        subclasses.emplace_back(text, std::move(owned));
    }
    std::sort(subclasses.begin(), subclasses.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [name, sub] : subclasses) {
        save_global_as(stdlib_attr("abc", "ABCMeta.register"), "abc", "ABCMeta.register");
        writer_.memo_get(index);
        save(sub.get());
        writer_.opcode(op::TUPLE2);
        writer_.opcode(op::REDUCE);
        writer_.opcode(op::POP);
    }
}

// cls = by_id.setdefault(class_id, candidate); memo[index] = cls
void Pickler::write_class_registration(PyObject* cls, std::uint32_t index) {
    Ref id = class_id_in_progress(cls) ? Ref::check(PyUnicode_FromString("")) : class_id_of(cls);
    push_registry_setdefault();
    save(id.get());
    writer_.memo_get(index);
    writer_.opcode(op::TUPLE2);
    writer_.opcode(op::REDUCE);
    writer_.memo_put_at(index);
}

// The registry's by_id.setdefault (a bound method), made in the loading
// process if needed, once per stream:
//   dict.setdefault(sys.modules, NAME, ModuleType(NAME) with by_id=WeakValueDictionary())
//   then the global NAME.by_id.setdefault
// Four global lookups (each a large share of a small stream's load time:
// bench/README.md, "Measured reasons"): the registry module is created with
// its by_id by BUILD (no call), and by_id's setdefault is found by the
// unpickler's own dotted lookup.
void Pickler::push_registry_setdefault() {
    if (session_.registry_index() != IdentityMemo::kMissing) {
        writer_.memo_get(session_.registry_index());
        return;
    }
    static FixedParts parts;
    write_fixed_parts(parts, &Pickler::write_registry_part);
    std::uint32_t index = session_.memo_reserve();
    writer_.memo_put(index);
    session_.set_registry_index(index);
}

void Pickler::write_registry_part(int part) {
    Ref name = Ref::check(PyUnicode_FromString(kRegistryModule));
    switch (part) {
        case 0:  // sys.modules.setdefault, NAME   (then: memoize NAME)
            write_global_by_name("sys", "modules.setdefault");
            save(name.get());
            break;
        case 1:  // ModuleType   (then: NAME)
            write_global_by_name("types", "ModuleType");
            break;
        default:  // (NAME) with state {'by_id': WeakValueDictionary()}; call; drop; NAME.by_id.setdefault
            writer_.opcode(op::TUPLE1);
            writer_.opcode(op::REDUCE);
            writer_.opcode(op::EMPTY_DICT);
            save(name_of("by_id"));
            write_global_by_name("weakref", "WeakValueDictionary");
            writer_.opcode(op::EMPTY_TUPLE);
            writer_.opcode(op::REDUCE);
            writer_.opcode(op::SETITEM);
            writer_.opcode(op::BUILD);
            writer_.opcode(op::TUPLE2);
            writer_.opcode(op::REDUCE);
            writer_.opcode(op::POP);
            write_global_by_name(kRegistryModule, "by_id.setdefault");
    }
}

}  // namespace webpickle::py
