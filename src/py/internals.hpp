// The extension's process-wide state, in one place (as nanobind keeps its
// nb_internals): the interpreter's objects looked up at import (Runtime) and
// every cache that lets a later stream skip work an earlier one did.
//
// Lifetime: made by init_internals() when the module is imported, and never
// freed. Nothing it holds is ever released, because a release at process
// exit would run after the interpreter has finalized. Caches keyed by an
// object's address either hold a reference to it (the address cannot be
// reused while the entry lives) or check the type's version tag, which an
// object at a reused address does not share.
//
// Threads: every member is read and written with the GIL held, by the one
// interpreter that imported the module, so none needs a lock. The module
// declares no support for the free-threaded build nor for subinterpreters
// with their own GIL (pybind11's defaults): a free-threaded CPython turns
// the GIL on when it imports it. Per-thread state (the recursion depth, the
// recycled buffers of src/core) is thread_local where it is declared.
//
// Caches whose types only one file needs are declared here by name and
// defined, made (on first use) and read in that file.
#pragma once
#include <Python.h>

#include <new>
#include <string>
#include <unordered_map>
#include <vector>

#include "../core/stream_writer.hpp"
#include "code_scan_cache.hpp"
#include "dispatch_table_watch.hpp"
#include "global_name_cache.hpp"
#include "literal_cache.hpp"
#include "runtime.hpp"

namespace webpickle::py {

// Three byte sequences per protocol around one memoized value, the same in
// every stream (see Pickler::write_fixed_parts in save_code.cpp).
using FixedParts = std::string[kHighestProtocol + 1][3];

struct PlainInstanceVerdicts;  // plain_instances.cpp: per class, how its instances are written
struct KnownClassIdentities;   // class_registry.cpp: class ids already worked out
struct ClassNameSets;          // class_state.cpp: attribute names a class statement sets by itself
struct SpecialTypeTable;       // special_types.cpp: the table of types written specially
struct IdentitySingletons;     // save_descriptors.cpp: module-level singletons kept by identity

struct Internals {
    Runtime runtime;  // runtime.cpp

    // Interned names and stdlib attributes by literal (name_of, stdlib_attr in runtime.cpp).
    LiteralCache names;
    LiteralCache stdlib_attributes;
    // Where objects written by reference were found (global_name_cache.hpp).
    GlobalNameCache global_names;
    // "copyreg.dispatch_table has no reducer for this type" (dispatch_table_watch.hpp).
    DispatchTableWatch dispatch_table;
    // The per-code extra slot of CodeNames (code_scan_cache.cpp); without
    // one, the facts of the last code object asked about.
    static constexpr Py_ssize_t kSlotUnrequested = -2;
    Py_ssize_t code_names_slot = kSlotUnrequested;
    CodeNames uncached_code_names;

    // Module names registered for pickling by value (by_value_policy.cpp), a set.
    PyObject* registered_modules = nullptr;
    // Classes of this process (class_registry.cpp): the stand-in that takes
    // the state streams send for them, ids being computed, ids known.
    PyObject* class_stand_in = nullptr;
    std::vector<PyObject*> class_ids_in_progress;
    KnownClassIdentities* known_class_identities = nullptr;
    ClassNameSets* class_name_sets = nullptr;
    // Streams' fixed parts (save_class.cpp, save_code.cpp) and the memo key
    // of the registry's own.get (save_class.cpp).
    FixedParts registry_parts;
    FixedParts version_guard_parts;
    PyObject* own_get_key = nullptr;

    PlainInstanceVerdicts* plain_instance_verdicts = nullptr;
    SpecialTypeTable* special_types = nullptr;
    IdentitySingletons* identity_singletons = nullptr;
    // Whether a mappingproxy's layout is the one save_descriptors.cpp reads: -1 not checked yet.
    int mappingproxy_layout_ok = -1;
    // types.<name> for the built-in types builtins has no name for (save_global.cpp).
    std::unordered_map<PyObject*, const char*>* types_module_names = nullptr;
    // Code objects of the stdlib factories whose closures are rebuilt by a
    // call (save_stdlib_closure.cpp).
    PyObject* dataclass_annotate_code = nullptr;
    PyObject* recursive_repr_code = nullptr;
    PyObject* singledispatch_code = nullptr;
};

namespace detail {
// Storage that is never destroyed (no destructor runs at exit), at a fixed
// address: reaching a member costs no pointer load, as a static did.
alignas(Internals) extern unsigned char g_internals[sizeof(Internals)];
}

// The process's state; init_internals() must have run (module import).
inline Internals& internals() { return *std::launder(reinterpret_cast<Internals*>(detail::g_internals)); }

// Makes the state and looks up the runtime; raises (PythonError) if the
// interpreter lacks something.
void init_internals();

}  // namespace webpickle::py
