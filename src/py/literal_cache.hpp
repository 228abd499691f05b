// A cache from one or two string literals (by address) to objects, for
// name_of() and stdlib_attr(). They run many times per dumps(): an open-
// addressing table with a multiplicative hash costs a few instructions,
// where std::unordered_map hashed each pointer with a general-purpose hash
// and a division (it showed in wasm profiles of a lambda's dumps()).
#pragma once
#include <Python.h>

#include <cstdint>
#include <vector>

namespace webpickle::py {

class LiteralCache {
public:
    LiteralCache() : slots_(64) {}

    // The value stored for the literal(s) first (and second), or null.
    PyObject* find(const char* first, const char* second = nullptr) const {
        auto a = reinterpret_cast<std::uintptr_t>(first), b = reinterpret_cast<std::uintptr_t>(second);
        std::size_t mask = slots_.size() - 1;
        for (std::size_t i = slot_of(a, b, mask);; i = (i + 1) & mask) {
            if (slots_[i].first == a && slots_[i].second == b) return slots_[i].value;
            if (slots_[i].first == 0) return nullptr;
        }
    }

    // Stores value (an owned reference, kept for ever) under the literal(s), not present yet.
    void add(PyObject* value, const char* first, const char* second = nullptr) {
        if ((count_ + 1) * 2 > slots_.size()) {
            std::vector<Slot> old(slots_.size() * 2);
            old.swap(slots_);
            for (const Slot& s : old)
                if (s.first != 0) insert(s);
        }
        insert(Slot{reinterpret_cast<std::uintptr_t>(first), reinterpret_cast<std::uintptr_t>(second), value});
        ++count_;
    }

private:
    struct Slot {
        std::uintptr_t first = 0;  // 0: an empty slot (literals are never at address 0)
        std::uintptr_t second = 0;
        PyObject* value = nullptr;
    };

    static std::size_t slot_of(std::uintptr_t a, std::uintptr_t b, std::size_t mask) {
        std::uint64_t h = (static_cast<std::uint64_t>(a) ^ (static_cast<std::uint64_t>(b) << 1)) * 0x9E3779B97F4A7C15ull;
        return static_cast<std::size_t>(h >> 32) & mask;
    }

    void insert(const Slot& slot) {
        std::size_t mask = slots_.size() - 1;
        std::size_t i = slot_of(slot.first, slot.second, mask);
        while (slots_[i].first != 0) i = (i + 1) & mask;
        slots_[i] = slot;
    }

    std::vector<Slot> slots_;
    std::size_t count_ = 0;
};

}  // namespace webpickle::py
