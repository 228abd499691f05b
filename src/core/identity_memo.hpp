// The pickle memo: maps an object's address to the memo index it was stored
// under. Open addressing with linear probing; addresses are never 0.
//
// Slots carry the generation that wrote them, so clear() is O(1), and each
// thread keeps the largest table a finished memo left (up to kMaxSpareSlots)
// for the next memo to start from. Without that, dumps() of 10,000 instances
// grew its table ten times (64 to 65,536 slots) every call: 10% of its time
// in WebAssembly.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "recycling_allocator.hpp"

namespace webpickle {

class IdentityMemo {
public:
    static constexpr std::uint32_t kMissing = 0xffffffffu;

    static constexpr std::size_t kInitialSlots = 64;
    static constexpr std::size_t kMaxSpareSlots = std::size_t{1} << 20;  // 16 MiB

    IdentityMemo() { adopt_spare(); }
    ~IdentityMemo() { give_back(); }
    IdentityMemo(const IdentityMemo&) = delete;
    IdentityMemo& operator=(const IdentityMemo&) = delete;

    std::size_t size() const { return count_; }

    std::uint32_t find(std::uintptr_t key) const {
        std::size_t mask = slots_.size() - 1;
        for (std::size_t i = slot_of(key, mask);; i = (i + 1) & mask) {
            const Slot& s = slots_[i];
            if (s.generation != generation_) return kMissing;
            if (s.key == key) return s.index;
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
            if (s.generation == generation_) f(s.key, s.index);
    }

    // Takes the next index for a value that no object stands for (a
    // stream's own helper values, reached only by memo_get) and returns it.
    std::uint32_t reserve() { return static_cast<std::uint32_t>(count_++); }

    void clear() {
        count_ = 0;
        next_generation();
    }

    std::size_t capacity() const { return slots_.size(); }

private:
    struct Slot {
        std::uintptr_t key = 0;
        std::uint32_t index = 0;
        std::uint32_t generation = 0;  // live when equal to the memo's generation_
    };
    using Table = std::vector<Slot, RecyclingAllocator<Slot>>;

    struct Spare {
        Table slots;
        std::uint32_t generation = 0;
    };
    static Spare& spare() {
        thread_local Spare s;
        return s;
    }

    void adopt_spare() {
        Spare& s = spare();
        if (s.slots.empty()) {
            slots_.assign(kInitialSlots, Slot{});
            generation_ = 1;
            return;
        }
        slots_.swap(s.slots);
        generation_ = s.generation;
        next_generation();
    }

    // The bigger of this table and the spare stays for the next memo (a
    // memo made while another is alive, as for a class's id, starts small).
    void give_back() {
        Spare& s = spare();
        if (slots_.size() > s.slots.size() && slots_.size() <= kMaxSpareSlots) {
            s.slots.swap(slots_);
            s.generation = generation_;
        }
    }

    void next_generation() {
        if (++generation_ == 0) {  // wrapped: old stamps could look live again
            std::fill(slots_.begin(), slots_.end(), Slot{});
            generation_ = 1;
        }
    }

    static std::size_t slot_of(std::uintptr_t key, std::size_t mask) {
        // Object addresses are aligned; Fibonacci hashing spreads the high bits.
        std::uint64_t h = static_cast<std::uint64_t>(key) * 0x9E3779B97F4A7C15ull;
        return static_cast<std::size_t>(h >> 32) & mask;
    }

    void insert(std::uintptr_t key, std::uint32_t index) {
        std::size_t mask = slots_.size() - 1;
        std::size_t i = slot_of(key, mask);
        while (slots_[i].generation == generation_) i = (i + 1) & mask;
        slots_[i] = Slot{key, index, generation_};
    }

    void rehash(std::size_t capacity) {
        Table old;
        old.swap(slots_);
        std::uint32_t old_generation = generation_;
        slots_.assign(capacity, Slot{});
        generation_ = 1;
        for (const Slot& s : old)
            if (s.generation == old_generation) insert(s.key, s.index);
    }

    Table slots_;
    std::uint32_t generation_ = 1;
    std::size_t count_ = 0;
};

}  // namespace webpickle
