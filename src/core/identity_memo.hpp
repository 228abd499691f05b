// The pickle memo: maps an object's address to the memo index it was stored
// under. Open addressing with linear probing over ReusableSlots (O(1) clear,
// and the table a previous memo grew is reused; see reusable_slots.hpp).
#pragma once
#include <cstddef>
#include <cstdint>

#include "reusable_slots.hpp"

namespace webpickle {

class IdentityMemo {
public:
    static constexpr std::uint32_t kMissing = 0xffffffffu;

    std::size_t size() const { return count_; }
    std::size_t capacity() const { return slots_.size(); }

    std::uint32_t find(std::uintptr_t key) const {
        std::size_t mask = slots_.mask();
        for (std::size_t i = slot_of(key, mask);; i = (i + 1) & mask) {
            const Slot& s = slots_[i];
            if (!slots_.live(s)) return kMissing;
            if (s.key == key) return s.index;
        }
    }

    // Stores key under the next index and returns that index. The key must
    // not be present already.
    std::uint32_t add(std::uintptr_t key) {
        make_room();
        std::uint32_t index = static_cast<std::uint32_t>(count_++);
        insert(Slot{key, index, 0});
        return index;
    }

    // Stores key under a given index (priming the memo from another pickler's);
    // later add() calls continue after the largest index stored.
    void add_at(std::uintptr_t key, std::uint32_t index) {
        make_room();
        insert(Slot{key, index, 0});
        if (index >= count_) count_ = static_cast<std::size_t>(index) + 1;
    }

    // Calls f(key, index) for every key stored.
    template <typename F>
    void for_each(F&& f) const {
        slots_.for_each_live([&](const Slot& s) { f(s.key, s.index); });
    }

    // Takes the next index for a value that no object stands for (a
    // stream's own helper values, reached only by memo_get) and returns it.
    std::uint32_t reserve() { return static_cast<std::uint32_t>(count_++); }

    void clear() {
        count_ = 0;
        slots_.clear();
    }

private:
    struct Slot {
        std::uintptr_t key = 0;
        std::uint32_t index = 0;
        std::uint32_t generation = 0;
    };

    static std::size_t slot_of(std::uintptr_t key, std::size_t mask) {
        // Object addresses are aligned; Fibonacci hashing spreads the high bits.
        std::uint64_t h = static_cast<std::uint64_t>(key) * 0x9E3779B97F4A7C15ull;
        return static_cast<std::size_t>(h >> 32) & mask;
    }

    // At most half full, so that probing always meets a free slot.
    void make_room() {
        if ((count_ + 1) * 2 > slots_.size()) slots_.grow([this](const Slot& s) { insert(s); });
    }

    void insert(const Slot& s) { slots_.place(slot_of(s.key, slots_.mask()), s); }

    ReusableSlots<Slot> slots_;
    std::size_t count_ = 0;
};

}  // namespace webpickle
