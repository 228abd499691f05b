#include "output_buffer.hpp"

#include <cstdlib>
#include <limits>
#include <new>

namespace webpickle {

void OutputBuffer::grow_for(std::size_t n) {
    if (n > std::numeric_limits<std::size_t>::max() / 2 - size_) throw std::bad_alloc();
    std::size_t wanted = size_ + n;
    // Double, so a large stream is copied by reallocation about once overall
    // (a copy is expensive in wasm, where realloc cannot remap pages).
    std::size_t target = capacity_ * 2;
    if (target < wanted) target = wanted;
    if (target < 4096) target = 4096;
    data_ = reallocate(target, capacity_);
}

HeapBuffer::~HeapBuffer() { std::free(block_); }

std::uint8_t* HeapBuffer::reallocate(std::size_t min_capacity, std::size_t& capacity) {
    void* grown = std::realloc(block_, min_capacity);
    if (grown == nullptr) throw std::bad_alloc();
    block_ = static_cast<std::uint8_t*>(grown);
    capacity = min_capacity;
    return block_;
}

}  // namespace webpickle
