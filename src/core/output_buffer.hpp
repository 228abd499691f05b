// A growable byte buffer with unchecked appends after an explicit reserve.
// The storage is provided by a subclass so the CPython layer can grow a bytes
// object in place and hand it out without a final copy.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace webpickle {

class OutputBuffer {
public:
    virtual ~OutputBuffer() = default;

    std::size_t size() const { return size_; }
    std::uint8_t* data() { return data_; }
    const std::uint8_t* data() const { return data_; }

    // Makes room for n more bytes; afterwards up to n bytes may be put().
    void reserve(std::size_t n) {
        if (capacity_ - size_ < n) grow_for(n);
    }
    void put(std::uint8_t byte) { data_[size_++] = byte; }
    // For writers of several bytes at once: fill tail()[0..n) after a
    // reserve(n), then advance(n). Writing through a local pointer lets the
    // compiler keep it in a register (a store through uint8_t* may alias
    // data_ and size_, so put() reloads them after every byte).
    std::uint8_t* tail() { return data_ + size_; }
    void advance(std::size_t n) { size_ += n; }
    void put(const void* src, std::size_t n) {
        std::memcpy(data_ + size_, src, n);
        size_ += n;
    }
    void append(const void* src, std::size_t n) {
        reserve(n);
        put(src, n);
    }
    void append(std::uint8_t byte) {
        reserve(1);
        put(byte);
    }
    // Writes v as n little-endian bytes.
    void put_le(std::uint64_t v, int n) {
        for (int i = 0; i < n; ++i) data_[size_++] = static_cast<std::uint8_t>(v >> (8 * i));
    }
    void patch_le(std::size_t at, std::uint64_t v, int n) {
        for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) data_[at + i] = static_cast<std::uint8_t>(v >> (8 * i));
    }
    void truncate(std::size_t n) { size_ = n; }
    void clear() { size_ = 0; }

protected:
    // Reallocates the storage to hold at least min_capacity bytes, keeping
    // the first size() bytes, and returns the new storage. Throws
    // std::bad_alloc when memory runs out.
    virtual std::uint8_t* reallocate(std::size_t min_capacity, std::size_t& capacity) = 0;

private:
    void grow_for(std::size_t n);

    std::uint8_t* data_ = nullptr;
    std::size_t size_ = 0;
    std::size_t capacity_ = 0;
};

// An OutputBuffer on the C heap, for the pure core and its tests.
class HeapBuffer final : public OutputBuffer {
public:
    HeapBuffer() = default;
    HeapBuffer(const HeapBuffer&) = delete;
    HeapBuffer& operator=(const HeapBuffer&) = delete;
    ~HeapBuffer() override;

protected:
    std::uint8_t* reallocate(std::size_t min_capacity, std::size_t& capacity) override;

private:
    std::uint8_t* block_ = nullptr;
};

}  // namespace webpickle
