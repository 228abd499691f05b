#include "stream_writer.hpp"

#include <cstring>
#include <stdexcept>

namespace webpickle {

void StreamWriter::begin() {
    if (protocol_ < kLowestProtocol || protocol_ > kHighestProtocol)
        throw std::invalid_argument("pickle protocol must be between 2 and 5");
    out_.reserve(2);
    out_.put(op::PROTO);
    out_.put(static_cast<std::uint8_t>(protocol_));
    open_frame();
}

void StreamWriter::finish() {
    out_.append(op::STOP);
    close_frame();
}

void StreamWriter::open_frame() {
    if (protocol_ < 4) return;
    frame_start_ = out_.size();
    out_.reserve(kFrameHeader);
    out_.put(op::FRAME);
    out_.put_le(0, 8);
}

void StreamWriter::close_frame() {
    if (frame_start_ == kNoFrame) return;
    std::size_t payload = out_.size() - frame_start_ - kFrameHeader;
    if (payload < kFrameSizeMin) {
        // Like the stdlib, a frame of under 4 bytes is not worth its 9-byte
        // header: move its bytes (if any) back over the header.
        std::uint8_t* start = out_.data() + frame_start_;
        std::memmove(start, start + kFrameHeader, payload);
        out_.truncate(frame_start_ + payload);
    } else {
        out_.patch_le(frame_start_ + 1, payload, 8);
    }
    frame_start_ = kNoFrame;
}

void StreamWriter::integer_as_long(std::int64_t value) {
    // Minimal two's-complement little-endian bytes, as int.to_bytes would give.
    std::uint8_t le[8];
    auto u = static_cast<std::uint64_t>(value);
    for (int i = 0; i < 8; ++i) le[i] = static_cast<std::uint8_t>(u >> (8 * i));
    std::size_t n = 8;
    while (n > 1) {
        std::uint8_t top = le[n - 1], next = le[n - 2];
        bool redundant = (top == 0x00 && !(next & 0x80)) || (top == 0xff && (next & 0x80));
        if (!redundant) break;
        --n;
    }
    long_bytes(le, n);
}

void StreamWriter::long_bytes(const std::uint8_t* le_bytes, std::size_t n) {
    if (n < 0x100) {
        out_.reserve(2 + n);
        out_.put(op::LONG1);
        out_.put(static_cast<std::uint8_t>(n));
    } else {
        if (n > 0x7fffffffu) throw std::length_error("int too large to pickle");
        out_.reserve(5 + n);
        out_.put(op::LONG4);
        out_.put_le(n, 4);
    }
    out_.put(le_bytes, n);
}

void StreamWriter::long_payload(std::uint8_t code, const void* data, std::size_t n) {
    int width = (code == op::BINUNICODE8 || code == op::BINBYTES8 || code == op::BYTEARRAY8) ? 8 : 4;
    bool unframed = frame_start_ != kNoFrame && n >= kFrameSizeTarget;
    if (unframed) close_frame();
    // Room for a little more than the payload: otherwise the next frame
    // header or STOP would double the buffer, and in wasm, where realloc
    // cannot remap pages, copy the whole payload once more.
    out_.reserve(1 + static_cast<std::size_t>(width) + n + kTailSlack);
    out_.put(code);
    out_.put_le(n, width);
    out_.put(data, n);
    if (unframed) open_frame();
}

void StreamWriter::global_text(std::string_view module, std::string_view name) {
    out_.reserve(3 + module.size() + name.size());
    out_.put(op::GLOBAL);
    out_.put(module.data(), module.size());
    out_.put('\n');
    out_.put(name.data(), name.size());
    out_.put('\n');
}

void StreamWriter::extension(std::uint32_t code) {
    out_.reserve(5);
    if (code <= 0xff) {
        out_.put(op::EXT1);
        out_.put(static_cast<std::uint8_t>(code));
    } else if (code <= 0xffff) {
        out_.put(op::EXT2);
        out_.put_le(code, 2);
    } else {
        out_.put(op::EXT4);
        out_.put_le(code, 4);
    }
}

}  // namespace webpickle
