// A std::allocator replacement that keeps a few large freed blocks for reuse.
//
// Every dumps() of a large object grows its memo tables to megabytes and
// frees them at the end. The C library hands blocks that large back to the
// operating system, so the next dumps() touches fresh pages and pays a page
// fault per 4 KiB, which made a repeated large dumps() many times slower
// (bench/README.md, "Measured reasons"). Keeping the last freed blocks of each
// thread (at most kMaxKept, kMaxBytes in all) makes repeated large dumps()
// reuse memory that is already mapped. Small blocks go straight to malloc.
#pragma once
#include <cstddef>
#include <cstdlib>
#include <new>

namespace webpickle {

namespace recycling {

constexpr std::size_t kMinBytes = 64 * 1024;     // smaller blocks: plain malloc
constexpr std::size_t kMaxBytes = 64 * 1024 * 1024;  // total kept per thread
constexpr int kMaxKept = 32;  // a growing table frees one block per doubling

struct Kept {
    void* block = nullptr;
    std::size_t bytes = 0;
};

struct Shelf {
    Kept kept[kMaxKept];
    std::size_t total = 0;
    ~Shelf() {
        for (Kept& k : kept) std::free(k.block);
    }
};

inline Shelf& shelf() {
    thread_local Shelf s;
    return s;
}

inline void* allocate(std::size_t bytes) {
    if (bytes >= kMinBytes) {
        Shelf& s = shelf();
        for (Kept& k : s.kept) {
            if (k.block != nullptr && k.bytes == bytes) {
                void* block = k.block;
                k = Kept{};
                s.total -= bytes;
                return block;
            }
        }
    }
    void* block = std::malloc(bytes);
    if (block == nullptr) throw std::bad_alloc();
    return block;
}

inline void release(void* block, std::size_t bytes) {
    if (bytes >= kMinBytes && bytes <= kMaxBytes) {
        Shelf& s = shelf();
        // Make room by dropping the oldest-looking (first) blocks until it fits.
        for (Kept& k : s.kept) {
            if (s.total + bytes <= kMaxBytes) break;
            if (k.block != nullptr) {
                std::free(k.block);
                s.total -= k.bytes;
                k = Kept{};
            }
        }
        for (Kept& k : s.kept) {
            if (k.block == nullptr && s.total + bytes <= kMaxBytes) {
                k = Kept{block, bytes};
                s.total += bytes;
                return;
            }
        }
    }
    std::free(block);
}

}  // namespace recycling

template <typename T>
struct RecyclingAllocator {
    using value_type = T;
    RecyclingAllocator() noexcept = default;
    template <typename U>
    RecyclingAllocator(const RecyclingAllocator<U>&) noexcept {}
    T* allocate(std::size_t n) { return static_cast<T*>(recycling::allocate(n * sizeof(T))); }
    void deallocate(T* p, std::size_t n) noexcept { recycling::release(p, n * sizeof(T)); }
    template <typename U>
    bool operator==(const RecyclingAllocator<U>&) const noexcept { return true; }
};

}  // namespace webpickle
