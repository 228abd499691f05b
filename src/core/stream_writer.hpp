// Writes pickle opcodes for protocols 2 to 5 into an OutputBuffer, choosing
// the compact encodings the stdlib uses, and frames the stream for protocol 4+.
// It knows nothing about Python objects: callers hand it plain values.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "opcodes.hpp"
#include "output_buffer.hpp"

namespace webpickle {

inline constexpr int kLowestProtocol = 2;
inline constexpr int kHighestProtocol = 5;
// Frames close once they hold this much; payloads this large go unframed.
inline constexpr std::size_t kFrameSizeTarget = 64 * 1024;
// Frames smaller than this are written without a FRAME opcode.
inline constexpr std::size_t kFrameSizeMin = 4;
// Containers are written in batches of this many items, as the stdlib does.
inline constexpr std::size_t kBatchSize = 1000;

class StreamWriter {
public:
    StreamWriter(OutputBuffer& out, int protocol) : out_(out), protocol_(protocol) {}

    int protocol() const { return protocol_; }
    OutputBuffer& buffer() { return out_; }

    // PROTO and the first frame.
    void begin();
    // STOP, then closes the last frame.
    void finish();
    // Called between objects: closes the current frame once it is big enough.
    void commit_point() {
        if (frame_start_ != kNoFrame && out_.size() - frame_start_ >= kFrameSizeTarget + kFrameHeader)
            close_frame_and_reopen();
    }

    void opcode(std::uint8_t code) { out_.append(code); }
    void none() { out_.append(op::NONE); }
    void boolean(bool value) { out_.append(value ? op::NEWTRUE : op::NEWFALSE); }

    void integer(std::int64_t value) {
        out_.reserve(9);
        std::uint8_t* p = out_.tail();
        if (value >= 0 && value < 0x100) {
            p[0] = op::BININT1;
            p[1] = static_cast<std::uint8_t>(value);
            out_.advance(2);
        } else if (value >= 0 && value < 0x10000) {
            p[0] = op::BININT2;
            p[1] = static_cast<std::uint8_t>(value);
            p[2] = static_cast<std::uint8_t>(value >> 8);
            out_.advance(3);
        } else if (value >= INT32_MIN && value <= INT32_MAX) {
            p[0] = op::BININT;
            for (int i = 0; i < 4; ++i) p[1 + i] = static_cast<std::uint8_t>(static_cast<std::uint64_t>(value) >> (8 * i));
            out_.advance(5);
        } else {
            integer_as_long(value);
        }
    }
    // LONG1/LONG4 from a minimal little-endian two's-complement encoding.
    void long_bytes(const std::uint8_t* le_bytes, std::size_t n);

    void float64(double value) {
        std::uint64_t bits;
        std::memcpy(&bits, &value, sizeof bits);
        out_.reserve(9);
        std::uint8_t* p = out_.tail();
        p[0] = op::BINFLOAT;
        for (int i = 0; i < 8; ++i) p[1 + i] = static_cast<std::uint8_t>(bits >> (56 - 8 * i));  // big-endian
        out_.advance(9);
    }

    // A str, given as UTF-8 (with surrogates passed through).
    void unicode(const char* utf8, std::size_t n) {
        if (n < 0x100 && protocol_ >= 4) {
            out_.reserve(2 + n);
            std::uint8_t* p = out_.tail();
            p[0] = op::SHORT_BINUNICODE;
            p[1] = static_cast<std::uint8_t>(n);
            std::memcpy(p + 2, utf8, n);
            out_.advance(2 + n);
        } else {
            long_payload(n <= 0xffffffffu ? op::BINUNICODE : op::BINUNICODE8, utf8, n);
        }
    }
    // A bytes object (protocol 3+; protocol 2 callers must reduce instead).
    void bytes(const void* data, std::size_t n) {
        if (n < 0x100) {
            out_.reserve(2 + n);
            std::uint8_t* p = out_.tail();
            p[0] = op::SHORT_BINBYTES;
            p[1] = static_cast<std::uint8_t>(n);
            std::memcpy(p + 2, data, n);
            out_.advance(2 + n);
        } else {
            long_payload(n <= 0xffffffffu ? op::BINBYTES : op::BINBYTES8, data, n);
        }
    }
    // A bytearray (protocol 5).
    void bytearray8(const void* data, std::size_t n) { long_payload(op::BYTEARRAY8, data, n); }

    // GLOBAL for protocols below 4: "c<module>\n<name>\n".
    void global_text(std::string_view module, std::string_view name);
    // EXT1/EXT2/EXT4 for a code of the copyreg extension registry.
    void extension(std::uint32_t code);

    void memo_put(std::uint32_t index) {
        if (protocol_ >= 4) {
            out_.append(op::MEMOIZE);
        } else {
            indexed(op::BINPUT, op::LONG_BINPUT, index);
        }
    }
    // Stores the top of the stack at an existing memo index (BINPUT or
    // LONG_BINPUT, valid in every protocol): replaces what was memoized there.
    void memo_put_at(std::uint32_t index) { indexed(op::BINPUT, op::LONG_BINPUT, index); }
    void memo_get(std::uint32_t index) { indexed(op::BINGET, op::LONG_BINGET, index); }

private:
    // short_code with a one-byte index, or long_code with four bytes.
    void indexed(std::uint8_t short_code, std::uint8_t long_code, std::uint32_t index) {
        out_.reserve(5);
        std::uint8_t* p = out_.tail();
        if (index < 0x100) {
            p[0] = short_code;
            p[1] = static_cast<std::uint8_t>(index);
            out_.advance(2);
        } else {
            p[0] = long_code;
            for (int i = 0; i < 4; ++i) p[1 + i] = static_cast<std::uint8_t>(index >> (8 * i));
            out_.advance(5);
        }
    }

    static constexpr std::size_t kNoFrame = static_cast<std::size_t>(-1);
    static constexpr std::size_t kFrameHeader = 9;
    static constexpr std::size_t kTailSlack = 256;  // see long_payload()

    void integer_as_long(std::int64_t value);
    // An opcode with a 4- or 8-byte length and a payload that may be large:
    // large payloads are written outside frames, as the stdlib does.
    void long_payload(std::uint8_t code, const void* data, std::size_t n);
    void open_frame();
    void close_frame();
    void close_frame_and_reopen() {
        close_frame();
        open_frame();
    }

    OutputBuffer& out_;
    int protocol_;
    std::size_t frame_start_ = kNoFrame;  // offset of the FRAME opcode
};

}  // namespace webpickle
