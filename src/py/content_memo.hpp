// Memo for str and bytes keyed by their content rather than their identity:
// equal strings give equal bytes whether or not they are the same object,
// which makes streams deterministic and lets repeats collapse to one GET.
// A full comparison runs only when hashes match (see key_of for the hashes).
#pragma once
#include <Python.h>

#include <cstdint>
#include <cstring>

#include "../core/reusable_slots.hpp"

namespace webpickle::py {

class ContentMemo {
public:
    static constexpr std::uint32_t kMissing = 0xffffffffu;

    struct Key {
        std::uint64_t hash;
        const std::uint8_t* data;
        std::size_t size;  // in bytes
        std::uint32_t tag;  // bytes, or str of one kind
    };

    // obj must be an exact str or bytes; returns its memo index or kMissing.
    std::uint32_t find(PyObject* obj) const { return find(obj, key_of(obj)); }
    std::uint32_t find(PyObject* obj, const Key& key) const {
        std::size_t mask = slots_.mask();
        for (std::size_t i = key.hash & mask;; i = (i + 1) & mask) {
            const Slot& s = slots_[i];
            if (!slots_.live(s)) return kMissing;
            if (s.obj == obj) return s.index;
            if (s.hash == key.hash && s.size == key.size && s.tag == key.tag &&
                std::memcmp(s.data, key.data, key.size) == 0)
                return s.index;
        }
    }

    // Records obj (not present yet) under index; obj is kept alive by the caller.
    void add(PyObject* obj, std::uint32_t index) { add(obj, index, key_of(obj)); }
    void add(PyObject* obj, std::uint32_t index, const Key& key) {
        if ((count_ + 1) * 2 > slots_.size()) slots_.grow([this](const Slot& s) { insert(s); });
        insert(Slot{key.hash, obj, key.data, key.size, key.tag, index, 0});
        ++count_;
    }

    // str: the interpreter's own string hash (cached in the object, so dict
    // keys and repeated strings cost a read); bytes: a hash of at most 64
    // sampled bytes, so an 8 MB bytes object costs no more than a short one.
    static Key key_of(PyObject* obj) {
        if (PyBytes_CheckExact(obj)) {
            auto data = reinterpret_cast<const std::uint8_t*>(PyBytes_AS_STRING(obj));
            auto size = static_cast<std::size_t>(PyBytes_GET_SIZE(obj));
            return Key{sampled_hash(data, size, 1), data, size, 1};
        }
        // Equal strings share one canonical kind, so their raw data compares.
        int kind = PyUnicode_KIND(obj);
        auto data = static_cast<const std::uint8_t*>(PyUnicode_DATA(obj));
        std::size_t size = static_cast<std::size_t>(PyUnicode_GET_LENGTH(obj)) * static_cast<std::size_t>(kind);
        Py_hash_t h = reinterpret_cast<PyASCIIObject*>(obj)->hash;  // -1 until computed
        if (h == -1) {
            h = PyObject_Hash(obj);  // computes and caches it; a str hash cannot fail
            if (h == -1) PyErr_Clear();
        }
        std::uint64_t mixed = static_cast<std::uint64_t>(h) * 0x9E3779B97F4A7C15ull;
        return Key{mixed ^ (mixed >> 29), data, size, 2u + static_cast<std::uint32_t>(kind)};
    }

    // Calls f(obj, index) for every object stored.
    template <typename F>
    void for_each(F&& f) const {
        slots_.for_each_live([&](const Slot& s) { f(s.obj, s.index); });
    }

    void clear() {
        slots_.clear();
        count_ = 0;
    }

private:
    // The content is kept with the slot (the object it points into is kept
    // alive by the memo), so a lookup hashes only the object looked up.
    struct Slot {
        std::uint64_t hash = 0;
        PyObject* obj = nullptr;
        const std::uint8_t* data = nullptr;
        std::size_t size = 0;
        std::uint32_t tag = 0;
        std::uint32_t index = 0;
        std::uint32_t generation = 0;  // see ReusableSlots
    };
    static std::uint64_t sampled_hash(const std::uint8_t* data, std::size_t size, std::uint64_t tag) {
        // Eight bytes at a time: a code object's bytes are hashed on every
        // write, and byte by byte it showed in wasm profiles of a class's dumps().
        std::uint64_t h = 0xcbf29ce484222325ull ^ (tag * 0x100000001b3ull) ^ (size * 0x9E3779B97F4A7C15ull);
        auto mix = [&h](const std::uint8_t* p, std::size_t n) {
            for (; n >= 8; p += 8, n -= 8) {
                std::uint64_t word;
                std::memcpy(&word, p, 8);
                h = (h ^ word) * 0x9E3779B97F4A7C15ull;
                h ^= h >> 32;
            }
            for (; n > 0; ++p, --n) h = (h ^ *p) * 0x100000001b3ull;
        };
        if (size <= 64) {
            mix(data, size);
        } else {
            mix(data, 32);
            mix(data + size - 32, 32);
        }
        return h ^ (h >> 29);
    }

    void insert(const Slot& slot) { slots_.place(slot.hash & slots_.mask(), slot); }

    ReusableSlots<Slot> slots_;
    std::size_t count_ = 0;
};

}  // namespace webpickle::py
