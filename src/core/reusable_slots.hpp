// The slot array of an open-addressing hash table (the memos) that is cheap
// to start and to clear:
// - slots carry the generation that wrote them, so clear() is O(1) (a slot is
//   live only when its stamp equals the table's generation);
// - each thread keeps the largest array a finished table left (up to
//   kMaxSpareBytes), and the next table of the same kind starts from it.
// Without that, dumps() of 10,000 instances grew its memo ten times on every
// call, a visible share of its time in WebAssembly.
//
// Slot must be default-constructible with a `std::uint32_t generation` member.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "recycling_allocator.hpp"

namespace webpickle {

template <typename Slot>
class ReusableSlots {
public:
    static constexpr std::size_t kInitialSlots = 64;
    static constexpr std::size_t kMaxSpareBytes = std::size_t{16} << 20;

    ReusableSlots() {
        Spare& s = spare();
        if (s.slots.empty()) {
            slots_.assign(kInitialSlots, Slot{});
            return;
        }
        slots_.swap(s.slots);
        generation_ = s.generation;
        clear();
    }

    // The bigger of this array and the spare stays for the next table (a
    // table made while another is alive, as for a class's id, starts small).
    ~ReusableSlots() {
        Spare& s = spare();
        if (slots_.size() > s.slots.size() && slots_.size() * sizeof(Slot) <= kMaxSpareBytes) {
            s.slots.swap(slots_);
            s.generation = generation_;
        }
    }

    ReusableSlots(const ReusableSlots&) = delete;
    ReusableSlots& operator=(const ReusableSlots&) = delete;

    std::size_t size() const { return slots_.size(); }
    std::size_t mask() const { return slots_.size() - 1; }
    bool live(const Slot& slot) const { return slot.generation == generation_; }
    const Slot& operator[](std::size_t i) const { return slots_[i]; }

    // Stores slot (its generation set here) at the first free place from i.
    void place(std::size_t i, Slot slot) {
        std::size_t m = mask();
        while (live(slots_[i])) i = (i + 1) & m;
        slot.generation = generation_;
        slots_[i] = slot;
    }

    // Every slot free again.
    void clear() {
        if (++generation_ == 0) {  // wrapped: old stamps could look live again
            std::fill(slots_.begin(), slots_.end(), Slot{});
            generation_ = 1;
        }
    }

    // Twice the slots; live slots are handed to reinsert(slot) to be placed again.
    template <typename Reinsert>
    void grow(Reinsert&& reinsert) {
        Table old(slots_.size() * 2);
        old.swap(slots_);
        std::uint32_t old_generation = generation_;
        generation_ = 1;  // the new array's slots are all 0: free
        for (const Slot& slot : old)
            if (slot.generation == old_generation) reinsert(slot);
    }

    template <typename F>
    void for_each_live(F&& f) const {
        for (const Slot& slot : slots_)
            if (live(slot)) f(slot);
    }

private:
    using Table = std::vector<Slot, RecyclingAllocator<Slot>>;
    struct Spare {
        Table slots;
        std::uint32_t generation = 1;
    };
    static Spare& spare() {
        thread_local Spare s;
        return s;
    }

    Table slots_;
    std::uint32_t generation_ = 1;
};

}  // namespace webpickle
