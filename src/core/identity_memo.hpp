// The pickle memo: maps an object's address to the memo index it was stored
// under. Open addressing with linear probing; addresses are never 0.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "recycling_allocator.hpp"

namespace webpickle {

class IdentityMemo {
public:
    static constexpr std::uint32_t kMissing = 0xffffffffu;

    IdentityMemo() { slots_.assign(64, Slot{}); }

    std::size_t size() const { return count_; }

    std::uint32_t find(std::uintptr_t key) const {
        std::size_t mask = slots_.size() - 1;
        for (std::size_t i = slot_of(key, mask);; i = (i + 1) & mask) {
            const Slot& s = slots_[i];
            if (s.key == key) return s.index;
            if (s.key == 0) return kMissing;
        }
    }

    // Stores key under the next index and returns that index. The key must
    // not be present already.
    std::uint32_t add(std::uintptr_t key) {
        if ((count_ + 1) * 2 > slots_.size()) rehash(slots_.size() * 2);
        std::uint32_t index = static_cast<std::uint32_t>(count_++);
        insert(key, index);
        return index;
    }

    // Stores key under a given index (priming the memo from another pickler's);
    // later add() calls continue after the largest index stored.
    void add_at(std::uintptr_t key, std::uint32_t index) {
        if ((count_ + 1) * 2 > slots_.size()) rehash(slots_.size() * 2);
        insert(key, index);
        if (index >= count_) count_ = static_cast<std::size_t>(index) + 1;
    }

    // Calls f(key, index) for every key stored.
    template <typename F>
    void for_each(F&& f) const {
        for (const Slot& s : slots_)
            if (s.key != 0) f(s.key, s.index);
    }

    // Takes the next index for a value that no object stands for (a
    // stream's own helper values, reached only by memo_get) and returns it.
    std::uint32_t reserve() { return static_cast<std::uint32_t>(count_++); }

    void clear() {
        count_ = 0;
        slots_.assign(64, Slot{});
    }

private:
    struct Slot {
        std::uintptr_t key = 0;
        std::uint32_t index = 0;
    };

    static std::size_t slot_of(std::uintptr_t key, std::size_t mask) {
        // Object addresses are aligned; Fibonacci hashing spreads the high bits.
        std::uint64_t h = static_cast<std::uint64_t>(key) * 0x9E3779B97F4A7C15ull;
        return static_cast<std::size_t>(h >> 32) & mask;
    }

    void insert(std::uintptr_t key, std::uint32_t index) {
        std::size_t mask = slots_.size() - 1;
        std::size_t i = slot_of(key, mask);
        while (slots_[i].key != 0) i = (i + 1) & mask;
        slots_[i] = Slot{key, index};
    }

    void rehash(std::size_t capacity) {
        std::vector<Slot, RecyclingAllocator<Slot>> old;
        old.swap(slots_);
        slots_.assign(capacity, Slot{});
        for (const Slot& s : old)
            if (s.key != 0) insert(s.key, s.index);
    }

    std::vector<Slot, RecyclingAllocator<Slot>> slots_;
    std::size_t count_ = 0;
};

}  // namespace webpickle
