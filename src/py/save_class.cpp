// Classes by value. A class is written as
//   cls = registry.by_id.setdefault(class_id, metaclass(name, bases, {__module__, __qualname__, __slots__, ...}))
//         (enums: metaclass(name, bases, namespace holding the members))
//   target = registry.own.get(cls, cls)
//   BUILD target with (None, {name: value})      (or list(map(setattr, repeat(target), names, values)))
//   list(map(delattr, repeat(target), frozenset.intersection(lost_names, vars(cls))))   (rarely)
// (see class_registry.hpp): the class is registered before its state is
// set, so that the methods' __class__ cells and every later reference in
// the stream are to the registered class, and the state goes to it.
#include <algorithm>
#include <string>
#include <vector>

#include "by_value_policy.hpp"
#include "class_registry.hpp"
#include "class_state.hpp"
#include "pickler.hpp"
#include "writers.hpp"
#include "internals.hpp"
#include "runtime.hpp"

namespace webpickle::py {
namespace {

Ref attribute(PyObject* obj, const char* name) { return Ref::check(PyObject_GetAttr(obj, name_of(name))); }

// Memo keys for the registry's methods that streams look up once each.
PyObject* own_get_key() {
    PyObject*& key = internals().own_get_key;
    if (key == nullptr) key = Ref::check(PyBaseObject_Type.tp_alloc(&PyBaseObject_Type, 0)).release();
    return key;
}

void write_registry_part(Pickler& p, int part) {
    Ref name = Ref::check(PyUnicode_FromString(kRegistryModule));
    switch (part) {
        case 0:  // sys.modules.setdefault, NAME   (then: memoize NAME)
            p.write_global_by_name("sys", "modules.setdefault");
            p.save(name.get());
            break;
        case 1:  // ModuleType   (then: NAME)
            p.write_global_by_name("types", "ModuleType");
            break;
        default:  // (NAME) with state {'by_id': WeakValueDictionary(), 'own': {}}; call; drop; NAME.by_id.setdefault
            p.writer().opcode(op::TUPLE1);
            p.writer().opcode(op::REDUCE);
            p.writer().opcode(op::EMPTY_DICT);
            p.writer().opcode(op::MARK);
            p.save(name_of("by_id"));
            p.write_global_by_name("weakref", "WeakValueDictionary");
            p.writer().opcode(op::EMPTY_TUPLE);
            p.writer().opcode(op::REDUCE);
            p.save(name_of("own"));
            p.writer().opcode(op::EMPTY_DICT);
            p.writer().opcode(op::SETITEMS);
            p.writer().opcode(op::BUILD);
            p.writer().opcode(op::TUPLE2);
            p.writer().opcode(op::REDUCE);
            p.writer().opcode(op::POP);
            p.write_global_by_name(kRegistryModule, "by_id.setdefault");
    }
}

// The registry's by_id.setdefault (a bound method), made in the loading
// process if needed, once per stream:
//   dict.setdefault(sys.modules, NAME, ModuleType(NAME) with by_id=WeakValueDictionary(), own={})
//   then the global NAME.by_id.setdefault
// Four global lookups (each a large share of a small stream's load time:
// bench/README.md, "Measured reasons"): the registry module is created with
// its by_id by BUILD (no call), and by_id's setdefault is found by the
// unpickler's own dotted lookup.
void push_registry_setdefault(Pickler& p) {
    if (p.session().registry_index() != IdentityMemo::kMissing) {
        p.writer().memo_get(p.session().registry_index());
        return;
    }
    p.write_fixed_parts(internals().registry_parts, write_registry_part);
    std::uint32_t index = p.session().memo_reserve();
    p.writer().memo_put(index);
    p.session().set_registry_index(index);
}

void write_class_skeleton(Pickler& p, PyObject* cls) {
    p.save(reinterpret_cast<PyObject*>(Py_TYPE(cls)));  // the metaclass
    Ref name = attribute(cls, "__name__");
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
    bool typed_dict = is_typed_dict(cls);
    if (typed_dict) {
        auto [key, annotations] = typed_dict_own_annotations(cls);
        if (key && PyDict_SetItem(namespace_.get(), key.get(), annotations.get()) < 0) raise_error();
    }
    p.save(name.get());
    if (typed_dict) {
        // What the class statement passed: types.resolve_bases(__orig_bases__).
        p.save_global_as(stdlib_attr("types", "resolve_bases"), "types", "resolve_bases");
        p.save(attribute(cls, "__orig_bases__").get());
        p.writer().opcode(op::TUPLE1);
        p.writer().opcode(op::REDUCE);
    } else {
        p.save(attribute(cls, "__bases__").get());
    }
    p.save(namespace_.get());
    p.writer().opcode(op::TUPLE3);
    p.writer().opcode(op::REDUCE);
}

void write_enum_skeleton(Pickler& p, PyObject* cls) {
    // metaclass(name, bases, ns), ns = metaclass.__prepare__(name, bases)
    // filled with __module__, __qualname__ and the members (aliases
    // included) in order: what a class statement does, and twice as fast to
    // load as the functional API Enum(name, [(member, value), ...]).
    // Members get their final values; methods and the rest are set after.
    Ref metaclass = Ref::borrow(reinterpret_cast<PyObject*>(Py_TYPE(cls)));
    Ref name = attribute(cls, "__name__");
    Ref bases = attribute(cls, "__bases__");
    p.save(metaclass.get());
    p.save(name.get());
    p.save(bases.get());
    p.save_global_as(stdlib_attr("builtins", "getattr"), "builtins", "getattr");
    p.save(metaclass.get());
    p.save(name_of("__prepare__"));
    p.writer().opcode(op::TUPLE2);
    p.writer().opcode(op::REDUCE);
    p.save(name.get());
    p.save(bases.get());
    p.writer().opcode(op::TUPLE2);
    p.writer().opcode(op::REDUCE);  // the enum's namespace
    p.writer().opcode(op::MARK);
    p.save(name_of("__module__"));
    p.save(attribute(cls, "__module__").get());
    p.save(name_of("__qualname__"));
    p.save(attribute(cls, "__qualname__").get());
    Ref member_map = attribute(cls, "_member_map_");
    Py_ssize_t pos = 0;
    PyObject *member_name, *member;
    while (PyDict_Next(member_map.get(), &pos, &member_name, &member)) {
        p.save(member_name);
        p.save(attribute(member, "_value_").get());
    }
    p.writer().opcode(op::SETITEMS);
    p.writer().opcode(op::TUPLE3);
    p.writer().opcode(op::REDUCE);
}

void save_class_attribute(Pickler& p, PyObject* cls, PyObject* name, PyObject* value) {
    with_note([&] { p.save(value); }, "when serializing attribute %R of class %R", name, cls);
}

// list(map(function, itertools.repeat(memo[target]), <then what write_rest adds>))
template <typename WriteRest>
void write_map_over_target(Pickler& p, PyObject* function, const char* function_name, std::uint32_t target,
                                    WriteRest&& write_rest) {
    p.save_global_as(reinterpret_cast<PyObject*>(&PyList_Type), "builtins", "list");
    p.save_global_as(reinterpret_cast<PyObject*>(&PyMap_Type), "builtins", "map");
    p.writer().opcode(op::MARK);
    p.save_global_as(function, "builtins", function_name);
    p.save_global_as(stdlib_attr("itertools", "repeat"), "itertools", "repeat");
    p.writer().memo_get(target);
    p.writer().opcode(op::TUPLE1);
    p.writer().opcode(op::REDUCE);
    write_rest();
    p.writer().opcode(op::TUPLE);
    p.writer().opcode(op::REDUCE);
    p.writer().opcode(op::TUPLE1);
    p.writer().opcode(op::REDUCE);
    p.writer().opcode(op::POP);
}

// list(map(setattr, itertools.repeat(target), names, values))
void write_attributes_by_setattr(Pickler& p, PyObject* cls, std::uint32_t target, const NamedValues& items) {
    write_map_over_target(p, stdlib_attr("builtins", "setattr"), "setattr", target, [&] {
        p.writer().opcode(op::MARK);
        for (const auto& item : items) p.save(item.first.get());
        p.writer().opcode(op::TUPLE);
        p.writer().opcode(op::MARK);
        for (const auto& item : items) save_class_attribute(p, cls, item.first.get(), item.second.get());
        p.writer().opcode(op::TUPLE);
    });
}

void write_class_attributes(Pickler& p, PyObject* cls, std::uint32_t target, const NamedValues& items) {
    // BUILD (None, {name: value}): the unpickler setattr()s each item on the
    // class, with no global lookup (the costly part of loading; figures in
    // bench/README.md, "Measured reasons").
    // BUILD would call a __setstate__ the class inherits instead: such a
    // class gets list(map(setattr, itertools.repeat(cls), names, values)).
    int has_setstate = PyObject_HasAttrWithError(cls, name_of("__setstate__"));
    if (has_setstate < 0) raise_error();
    if (has_setstate) {
        write_attributes_by_setattr(p, cls, target, items);
        return;
    }
    p.writer().memo_get(target);
    p.writer().none();
    p.writer().opcode(op::EMPTY_DICT);
    p.writer().opcode(op::MARK);
    for (const auto& item : items) {
        p.save(item.first.get());
        save_class_attribute(p, cls, item.first.get(), item.second.get());
    }
    p.writer().opcode(op::SETITEMS);
    p.writer().opcode(op::TUPLE2);
    p.writer().opcode(op::BUILD);
    p.writer().opcode(op::POP);
}

// list(map(delattr, itertools.repeat(target), frozenset.intersection(frozenset(lost), vars(cls)))):
// attributes an earlier stream set that the class has lost since, deleted
// where they are (a receiver may never have had them).
void write_lost_attributes(Pickler& p, std::uint32_t index, std::uint32_t target, PyObject* lost) {
    write_map_over_target(p, stdlib_attr("builtins", "delattr"), "delattr", target, [&] {
        p.save_global_as(stdlib_attr("builtins", "frozenset.intersection"), "builtins", "frozenset.intersection");
        Ref names = Ref::check(PyFrozenSet_New(lost));
        p.save(names.get());
        p.save_global_as(stdlib_attr("builtins", "vars"), "builtins", "vars");
        p.writer().memo_get(index);
        p.writer().opcode(op::TUPLE1);
        p.writer().opcode(op::REDUCE);
        p.writer().opcode(op::TUPLE2);
        p.writer().opcode(op::REDUCE);
    });
}

// Each member with attributes of its own (set by the enum's __init__):
// BUILD getattr(target, member_name) with {attribute: value}.
void write_member_attributes(Pickler& p, PyObject* cls, std::uint32_t target, const NamedValues& members) {
    for (const auto& [name, attributes] : members) {
        p.save_global_as(runtime().builtin_getattr, "builtins", "getattr");
        p.writer().memo_get(target);
        p.save(name.get());
        p.writer().opcode(op::TUPLE2);
        p.writer().opcode(op::REDUCE);
        with_note([&] { p.save(attributes.get()); }, "when serializing the attributes of member %R of enum %R",
                  name.get(), cls);
        p.writer().opcode(op::BUILD);
        p.writer().opcode(op::POP);
    }
}

void write_class_state(Pickler& p, PyObject* cls, std::uint32_t index, const ClassState& state, PyObject* lost) {
    if (state.attributes.empty() && state.member_attributes.empty() && lost == nullptr) return;
    // target = own.get(cls, cls)
    if (!p.memo_get_if_present(own_get_key())) {
        p.write_global_by_name(kRegistryModule, "own.get");
        p.memoize(own_get_key());
    }
    p.writer().memo_get(index);
    p.writer().memo_get(index);
    p.writer().opcode(op::TUPLE2);
    p.writer().opcode(op::REDUCE);
    std::uint32_t target = p.session().memo_reserve();
    p.writer().memo_put(target);
    p.writer().opcode(op::POP);
    if (!state.attributes.empty()) write_class_attributes(p, cls, target, state.attributes);
    if (lost != nullptr) write_lost_attributes(p, index, target, lost);
    write_member_attributes(p, cls, target, state.member_attributes);
}

// Virtual subclasses registered with an ABC: abc.ABCMeta.register(cls, sub),
// sorted by name so the stream does not depend on set order.
void write_abc_registrations(Pickler& p, PyObject* cls, std::uint32_t index) {
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
        p.save_global_as(stdlib_attr("abc", "ABCMeta.register"), "abc", "ABCMeta.register");
        p.writer().memo_get(index);
        p.save(sub.get());
        p.writer().opcode(op::TUPLE2);
        p.writer().opcode(op::REDUCE);
        p.writer().opcode(op::POP);
    }
}

}  // namespace

void save_class(Pickler& p, PyObject* cls) {
    // Only classes made by Python code can be rebuilt from their namespace;
    // a built-in or C type that cannot be found by name gets the stdlib's error.
    if (!PyType_HasFeature(reinterpret_cast<PyTypeObject*>(cls), Py_TPFLAGS_HEAPTYPE) || !pickle_by_value(cls)) {
        p.save_global(cls, nullptr);
        return;
    }
    ClassState state = ClassState::of(cls);
    ClassIdentity identity;
    if (class_id_in_progress(cls)) identity.id = Ref::check(PyUnicode_FromString(""));
    else identity = class_identity(cls, state.names().get());
    Ref lost = state.take_removed(identity.removed.get());
    push_registry_setdefault(p);
    p.save(identity.id.get());
    with_note(
        [&] {
            if (state.is_enum) write_enum_skeleton(p, cls);
            else write_class_skeleton(p, cls);
        },
        "when serializing class %R", cls);
    p.writer().opcode(op::TUPLE2);
    p.writer().opcode(op::REDUCE);
    std::uint32_t index = p.session().memo_add(cls);
    p.writer().memo_put(index);  // the class stays on the stack: what save() leaves
    p.session().namespaces().emplace(reinterpret_cast<PyTypeObject*>(cls)->tp_dict, cls);
    write_class_state(p, cls, index, state, lost.get());
    write_abc_registrations(p, cls, index);
}

// A type variable's registration: memo[index] = by_id.setdefault(id, memo[index])
void write_class_registration(Pickler& p, PyObject* cls, std::uint32_t index) {
    Ref id = class_id_in_progress(cls) ? Ref::check(PyUnicode_FromString("")) : class_id_of(cls);
    push_registry_setdefault(p);
    p.save(id.get());
    p.writer().memo_get(index);
    p.writer().opcode(op::TUPLE2);
    p.writer().opcode(op::REDUCE);
    p.writer().memo_put_at(index);
}

}  // namespace webpickle::py
