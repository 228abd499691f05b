// Every type the pickler writes specially, with the step of the general
// path where it is tried (special_types.hpp) and its writer: the one place
// to look for "how is an X pickled" when X is not a plain value, a
// function, a class or a module (those have their own fast checks in
// save_uncommon). Entries match exact types; a subclass takes the general
// path (its own __reduce_ex__), as cloudpickle's dispatch table does.
//
// Types cloudpickle special-cases that need no entry here, because the
// stdlib's own reduction already writes what cloudpickle writes: loggers
// (logging.getLogger(name)), method descriptors and bound built-in methods
// (getattr(owner, name)), and the built-in types (by name).
#include "special_types.hpp"

#include <array>
#include <cstdint>
#include <vector>

#include "internals.hpp"
#include "pyref.hpp"
#include "runtime.hpp"
#include "special_writers.hpp"

namespace webpickle::py {
namespace {

PyTypeObject* type_named(const char* module, const char* name) {
    return reinterpret_cast<PyTypeObject*>(stdlib_attr(module, name));
}

// The type of a sample object (for types without a public name); the
// sample is dropped, its static type stays.
PyTypeObject* type_of(PyObject* sample) {
    Ref owned = Ref::check(sample);
    return Py_TYPE(owned.get());
}

// Built once. Modules are imported only if they are cheap and the types
// need them: an object of a type cannot exist before its module is loaded,
// but the table is built once for the process.
std::vector<SpecialType> special_types() {
    using S = SpecialStage;
    Ref ordered = Ref::check(PyObject_CallNoArgs(stdlib_attr("collections", "OrderedDict")));
    std::vector<SpecialType> table = {
        // What class bodies hold (save_descriptors.cpp).
        {&PyClassMethod_Type, S::before_reducer, write_method_descriptor},
        {&PyStaticMethod_Type, S::before_reducer, write_method_descriptor},
        {type_named("abc", "abstractclassmethod"), S::before_reducer, write_method_descriptor},
        {type_named("abc", "abstractstaticmethod"), S::before_reducer, write_method_descriptor},
        {&PyProperty_Type, S::before_reducer, write_property},
        {type_named("abc", "abstractproperty"), S::before_reducer, write_property},
        {&PyDictProxy_Type, S::before_reducer, write_mappingproxy},
        {&PyGetSetDescr_Type, S::before_reducer, write_slot_descriptor},
        {&PyMemberDescr_Type, S::before_reducer, write_slot_descriptor},
        // Containers the stdlib cannot pickle (save_special.cpp).
        {type_named("_weakrefset", "WeakSet"), S::before_reducer, write_weakset},
        {&PyDictKeys_Type, S::before_reducer, write_dict_view},
        {&PyDictValues_Type, S::before_reducer, write_dict_view},
        {&PyDictItems_Type, S::before_reducer, write_dict_view},
        {type_of(PyObject_CallMethod(ordered.get(), "keys", nullptr)), S::before_reducer, write_dict_view},
        {type_of(PyObject_CallMethod(ordered.get(), "values", nullptr)), S::before_reducer, write_dict_view},
        {type_of(PyObject_CallMethod(ordered.get(), "items", nullptr)), S::before_reducer, write_dict_view},
        // typing objects, by value where the loading side cannot import them (save_special.cpp).
        {type_named("_typing", "TypeVar"), S::before_reducer, write_typing_variable},
        {type_named("_typing", "ParamSpec"), S::before_reducer, write_typing_variable},
        {type_named("_typing", "TypeVarTuple"), S::before_reducer, write_typing_variable},
        {type_named("_typing", "TypeAliasType"), S::before_reducer, write_typing_variable},
        // Files and buffers (save_io.cpp).
        {type_named("_io", "TextIOWrapper"), S::before_reducer, write_text_file},
        {&PyMemoryView_Type, S::before_reducer, write_memoryview},
        // Cached functions, by value where the loading side cannot import them (save_stdlib_closure.cpp).
        {type_named("functools", "_lru_cache_wrapper"), S::before_reducer, write_lru_cache_wrapper},
    };
    // Sentinels compared by identity (save_descriptors.cpp).
    for (PyTypeObject* type : identity_singleton_types())
        table.push_back({type, S::identity, write_identity_singleton});
    return table;
}

// An open-addressing hash table of type pointers: the general path asks it
// for every object that reaches it (instances of plain classes included), so
// a lookup must cost a multiply and one or two loads.
class TypeTable {
public:
    explicit TypeTable(const std::vector<SpecialType>& entries) {
        if (entries.size() * 2 > kSlots) raise(PyExc_SystemError, "webpickle: the special-types table is full");
        for (const SpecialType& entry : entries) {
            std::size_t i = slot_of(entry.type);
            while (slots_[i].type != nullptr && slots_[i].type != entry.type) i = (i + 1) & (kSlots - 1);
            if (slots_[i].type == nullptr) slots_[i] = entry;  // the first entry of a type wins
        }
    }

    const SpecialType* find(PyTypeObject* type) const {
        for (std::size_t i = slot_of(type);; i = (i + 1) & (kSlots - 1)) {
            const SpecialType& slot = slots_[i];
            if (slot.type == type) return &slot;
            if (slot.type == nullptr) return nullptr;  // at most half full: an empty slot always comes
        }
    }

private:
    static constexpr std::size_t kSlots = 64;  // a power of two
    static std::size_t slot_of(const PyTypeObject* type) {
        auto bits = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(type));
        return static_cast<std::size_t>((bits * 0x9E3779B97F4A7C15ull) >> 58);  // the top 6 bits
    }
    std::array<SpecialType, kSlots> slots_{};
};

}  // namespace

struct SpecialTypeTable {
    TypeTable table{special_types()};
};

const SpecialType* find_special_type(PyTypeObject* type) {
    SpecialTypeTable*& built = internals().special_types;
    if (built == nullptr) built = new SpecialTypeTable();
    return built->table.find(type);
}

}  // namespace webpickle::py
