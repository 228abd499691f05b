// The object walker: turns a Python object graph into opcodes through the
// core StreamWriter. A Session outlives one dump() (a pickle.Pickler keeps its
// memo between dumps); a Pickler lives for one dump.
#pragma once
#include <Python.h>

#include <cstdint>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "../core/identity_memo.hpp"
#include "../core/small_pointer_map.hpp"
#include "../core/stream_writer.hpp"
#include "content_memo.hpp"
#include "instance_shapes.hpp"
#include "internals.hpp"
#include "pybytes_buffer.hpp"
#include "pyref.hpp"
#include "runtime.hpp"

namespace webpickle::py {

// What a Python-level Pickler overrides; null members mean "not overridden".
struct Overrides {
    PyObject* reducer_override = nullptr;
    PyObject* persistent_id = nullptr;
    PyObject* dispatch_table = nullptr;  // null: copyreg.dispatch_table
};

// A module-level globals dict being rebuilt on the loading side: its memo
// index and the names already written into it.
struct GlobalsCopy {
    std::uint32_t memo_index;
    std::unordered_set<PyObject*> names;  // interned names, kept alive by the original dict's code
};

class Session {
public:
    Session(int protocol, PyObject* buffer_callback);
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    int protocol() const { return protocol_; }
    PyObject* buffer_callback() const { return buffer_callback_; }
    void clear_memo();

    // Memo access shared by every Pickler of this session.
    std::uint32_t memo_find(PyObject* obj) const {
        return memo_.find(reinterpret_cast<std::uintptr_t>(obj));
    }
    // Records obj under the next memo index and keeps it alive.
    std::uint32_t memo_add(PyObject* obj);
    // The next memo index for obj, kept alive, without an identity-memo
    // entry: for str and bytes, which the content memo finds.
    std::uint32_t memo_keep(PyObject* obj) {
        std::uint32_t index = memo_reserve();
        hold(obj);
        return index;
    }
    // The next memo index, for a value of the stream's own (see IdentityMemo::reserve).
    std::uint32_t memo_reserve();
    // Pickler.memo: the (index, object) pairs memoized so far, and priming
    // the memo with another pickler's pairs (after clear_memo()).
    std::vector<std::pair<std::uint32_t, PyObject*>> memo_entries() const;
    void memo_prime(std::uint32_t index, PyObject* obj);
    ContentMemo& contents() { return contents_; }
    InstanceShapes& instance_shapes() { return instance_shapes_; }
    std::unordered_map<PyObject*, GlobalsCopy>& globals_copies() { return globals_copies_; }
    // Namespaces of classes and modules written by value (a class's
    // tp_dict, a module's __dict__) -> their owner: such a dict is written
    // as vars(owner) (a class body's __classdict__, a module's globals).
    SmallPointerMap<PyObject*, PyObject*>& namespaces() { return namespaces_; }
    // Memo index of the class registry in the loading process, once written.
    std::uint32_t registry_index() const { return registry_index_; }
    void set_registry_index(std::uint32_t index) { registry_index_ = index; }
    // Keeps an owned reference until the memo is cleared.
    void keep_alive(PyObject* owned) { kept_alive_.push_back(owned); }
    // Takes a new reference to a memoized object, kept until the memo is cleared.
    void hold(PyObject* obj) {
        kept_alive_.push_back(obj);  // may throw before the INCREF: nothing to undo
        Py_INCREF(obj);
    }

private:
    int protocol_;
    PyObject* buffer_callback_;  // owned, may be null
    IdentityMemo memo_;
    ContentMemo contents_;
    InstanceShapes instance_shapes_;  // their memo indices are this memo's
    std::vector<PyObject*, RecyclingAllocator<PyObject*>> kept_alive_;  // every memoized object, owned
    std::unordered_map<PyObject*, GlobalsCopy> globals_copies_;
    std::uint32_t registry_index_ = IdentityMemo::kMissing;
    SmallPointerMap<PyObject*, PyObject*> namespaces_;  // kept alive through the memo
};

// The stdlib's whichmodule(): the name of the module from which obj can be
// imported as `name`. With raise_errors false it returns null instead of
// raising the stdlib's PicklingError when obj cannot be found that way.
Ref find_module_name(PyObject* obj, PyObject* name, bool raise_errors);

class Pickler {
public:
    Pickler(Session& session, const Overrides& overrides);

    // Writes a whole stream for obj and returns it as a bytes object.
    Ref dump(PyObject* obj);

    // save() returns true when obj was written as a pure value (an atom, or a
    // tuple or frozenset of pure values): such values are never memoized by
    // identity, so equal values give equal bytes.
    bool save(PyObject* obj) {
        // A frame may end before each object, as with the stdlib's C
        // pickler: same frames, same bytes.
        writer_.commit_point();
        return save_object(obj);
    }

    // save() without the frame's commit point, for writers that place it
    // themselves (plain_instances.cpp). In pickler.cpp.
    bool save_object(PyObject* obj);

    StreamWriter& writer() { return writer_; }
    Session& session() { return session_; }
    int protocol() const { return session_.protocol(); }
    const Overrides& overrides() const { return overrides_; }
    // True while writing a stream's fixed parts (no memo).
    bool unmemoized() const { return unmemoized_; }

private:
    // Fast paths, in save_atoms.cpp and save_containers.cpp.
    void save_long(PyObject* obj);
    void save_float(PyObject* obj) { writer_.float64(PyFloat_AS_DOUBLE(obj)); }
    void save_str(PyObject* obj);
    void save_bytes(PyObject* obj);
    void save_complex(PyObject* obj);
    bool save_tuple(PyObject* obj);
    void save_list(PyObject* obj);
    void write_dict_items(PyObject* obj);
    void save_set(PyObject* obj);
    bool save_frozenset(PyObject* obj);
    void save_bytearray(PyObject* obj);
    void save_picklebuffer(PyObject* obj);
    bool write_set_items(PyObject* obj);
    void write_str_body(PyObject* obj);

    // The general path, in save_reduce.cpp.
    bool save_uncommon(PyObject* obj);
    bool save_persistent(PyObject* obj);
    void save_by_reduce(PyObject* obj, PyObject* reduce_value);

public:
    // Also used by the by-value writers.
    void save_reduce(PyObject* func, PyObject* args, PyObject* state, PyObject* listitems,
                     PyObject* dictitems, PyObject* state_setter, PyObject* obj);
    void save_global(PyObject* obj, PyObject* name);  // save_global.cpp
    // A reference to obj written as module.qualname (for objects whose own
    // __module__/__qualname__ do not lead back to them, like types.FunctionType).
    void save_global_as(PyObject* obj, const char* module, const char* qualname);
    void write_global_reference(PyObject* module_name, PyObject* name);
    void write_toplevel_global(PyObject* module_name, PyObject* name);
    void save_type(PyObject* obj);
    void memoize(PyObject* obj) {
        if (!unmemoized_) writer_.memo_put(session_.memo_add(obj));
    }
    // After the opcodes that rebuild obj: memoize it, unless writing its
    // arguments reached obj again and memoized it already (it is recursive),
    // in which case the copy just built is dropped for the memoized one.
    void memoize_built(PyObject* obj) {
        std::uint32_t index = session_.memo_find(obj);
        if (index != IdentityMemo::kMissing) {
            writer_.opcode(op::POP);
            writer_.memo_get(index);
        } else {
            memoize(obj);
        }
    }
    // A reference to module.name written without memoizing the object.
    void write_global_by_name(const char* module, const char* name) {
        write_global_reference(name_of(module), name_of(name));
    }
    bool memo_get_if_present(PyObject* obj) {
        if (unmemoized_) return false;
        std::uint32_t index = session_.memo_find(obj);
        if (index == IdentityMemo::kMissing) return false;
        writer_.memo_get(index);
        return true;
    }
    // A dict (a namespace written by value as vars(owner)), in save_containers.cpp.
    void save_dict(PyObject* obj);
    void batch_appends(PyObject* iterator, PyObject* obj);
    void batch_setitems(PyObject* iterator, PyObject* obj);

    // Writes the fixed parts (internals.hpp) that write_part(pickler, 0..2)
    // writes, built once per protocol into cache (see save_code.cpp).
    void write_fixed_parts(FixedParts& cache, void (*write_part)(Pickler&, int));
    void write_version_guard();
    void save_interned_name(const char* text) {
        Ref name = Ref::check(PyUnicode_InternFromString(text));
        save(name.get());
    }

private:
    Session& session_;
    Overrides overrides_;
    PyBytesBuffer buffer_;
    StreamWriter writer_;
    bool guard_written_ = false;
    // Writes without the memo: for fixed byte sequences (the version guard,
    // the class registry) that are built once and reused in every stream.
    bool unmemoized_ = false;

public:
    // The bytes of expression(pickler) written with no memo, for a protocol.
    template <typename Write>
    static std::string fixed_bytes(int protocol, Write&& expression) {
        Session scratch(protocol, nullptr);
        Pickler pickler(scratch, Overrides{});
        pickler.unmemoized_ = true;
        expression(pickler);
        OutputBuffer& out = pickler.writer_.buffer();
        return std::string(reinterpret_cast<const char*>(out.data()), out.size());
    }

private:
    bool skip_persistent_once_ = false;
};

}  // namespace webpickle::py
