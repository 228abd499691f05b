// The opcode writer: exact encodings for each protocol, and framing.
#include <catch2/catch_test_macros.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "core/stream_writer.hpp"

using webpickle::HeapBuffer;
using webpickle::StreamWriter;
namespace op = webpickle::op;

namespace {

std::vector<std::uint8_t> bytes_of(const HeapBuffer& buffer) {
    return {buffer.data(), buffer.data() + buffer.size()};
}

std::vector<std::uint8_t> written(int protocol, void (*write)(StreamWriter&)) {
    HeapBuffer buffer;
    StreamWriter writer(buffer, protocol);
    write(writer);
    return bytes_of(buffer);
}

using Bytes = std::vector<std::uint8_t>;

}  // namespace

TEST_CASE("integers take the shortest opcode", "[stream_writer]") {
    CHECK(written(5, [](StreamWriter& w) { w.integer(0); }) == Bytes{op::BININT1, 0});
    CHECK(written(5, [](StreamWriter& w) { w.integer(255); }) == Bytes{op::BININT1, 255});
    CHECK(written(5, [](StreamWriter& w) { w.integer(256); }) == Bytes{op::BININT2, 0, 1});
    CHECK(written(5, [](StreamWriter& w) { w.integer(65536); }) == Bytes{op::BININT, 0, 0, 1, 0});
    CHECK(written(5, [](StreamWriter& w) { w.integer(-1); }) == Bytes{op::BININT, 0xff, 0xff, 0xff, 0xff});
    CHECK(written(5, [](StreamWriter& w) { w.integer(INT32_MAX + std::int64_t{1}); }) ==
          Bytes{op::LONG1, 5, 0, 0, 0, 0x80, 0});
    CHECK(written(5, [](StreamWriter& w) { w.integer(INT32_MIN - std::int64_t{1}); }) ==
          Bytes{op::LONG1, 5, 0xff, 0xff, 0xff, 0x7f, 0xff});
    CHECK(written(5, [](StreamWriter& w) { w.integer(INT64_MIN); }) ==
          Bytes{op::LONG1, 8, 0, 0, 0, 0, 0, 0, 0, 0x80});
}

TEST_CASE("floats are big-endian doubles", "[stream_writer]") {
    CHECK(written(5, [](StreamWriter& w) { w.float64(1.0); }) ==
          Bytes{op::BINFLOAT, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0});
    CHECK(written(5, [](StreamWriter& w) { w.float64(-0.0); }) == Bytes{op::BINFLOAT, 0x80, 0, 0, 0, 0, 0, 0, 0});
}

TEST_CASE("strings use SHORT_BINUNICODE from protocol 4", "[stream_writer]") {
    CHECK(written(4, [](StreamWriter& w) { w.unicode("ab", 2); }) == Bytes{op::SHORT_BINUNICODE, 2, 'a', 'b'});
    CHECK(written(3, [](StreamWriter& w) { w.unicode("ab", 2); }) == Bytes{op::BINUNICODE, 2, 0, 0, 0, 'a', 'b'});
    std::string long_text(300, 'x');
    HeapBuffer buffer;
    StreamWriter writer(buffer, 5);
    writer.unicode(long_text.data(), long_text.size());
    auto out = bytes_of(buffer);
    REQUIRE(out.size() == 5 + 300);
    CHECK(out[0] == op::BINUNICODE);
    CHECK(out[1] == 0x2c);
    CHECK(out[2] == 0x01);
}

TEST_CASE("bytes use the short form under 256 bytes", "[stream_writer]") {
    CHECK(written(3, [](StreamWriter& w) { w.bytes("\x01\x02", 2); }) == Bytes{op::SHORT_BINBYTES, 2, 1, 2});
}

TEST_CASE("memo opcodes depend on the protocol and the index", "[stream_writer]") {
    CHECK(written(4, [](StreamWriter& w) { w.memo_put(7); }) == Bytes{op::MEMOIZE});
    CHECK(written(3, [](StreamWriter& w) { w.memo_put(7); }) == Bytes{op::BINPUT, 7});
    CHECK(written(2, [](StreamWriter& w) { w.memo_put(300); }) == Bytes{op::LONG_BINPUT, 0x2c, 1, 0, 0});
    CHECK(written(5, [](StreamWriter& w) { w.memo_get(7); }) == Bytes{op::BINGET, 7});
    CHECK(written(5, [](StreamWriter& w) { w.memo_get(70000); }) == Bytes{op::LONG_BINGET, 0x70, 0x11, 1, 0});
}

TEST_CASE("a small stream of protocol 5 is one frame", "[stream_writer][framing]") {
    HeapBuffer buffer;
    StreamWriter writer(buffer, 5);
    writer.begin();
    writer.integer(1000);
    writer.finish();
    CHECK(bytes_of(buffer) ==
          Bytes{op::PROTO, 5, op::FRAME, 4, 0, 0, 0, 0, 0, 0, 0, op::BININT2, 0xe8, 0x03, op::STOP});
}

TEST_CASE("a frame of under 4 bytes gets no FRAME opcode", "[stream_writer][framing]") {
    HeapBuffer buffer;
    StreamWriter writer(buffer, 5);
    writer.begin();
    writer.none();
    writer.finish();
    CHECK(bytes_of(buffer) == Bytes{op::PROTO, 5, op::NONE, op::STOP});
}

TEST_CASE("protocol 3 streams have no frames", "[stream_writer][framing]") {
    HeapBuffer buffer;
    StreamWriter writer(buffer, 3);
    writer.begin();
    writer.none();
    writer.finish();
    CHECK(bytes_of(buffer) == Bytes{op::PROTO, 3, op::NONE, op::STOP});
}

namespace {

// Walks a framed stream: returns the sizes of its frames and checks that the
// bytes outside frames are exactly the large payload writes.
std::vector<std::uint64_t> frame_sizes(const Bytes& stream, std::size_t& unframed) {
    std::vector<std::uint64_t> sizes;
    unframed = 0;
    std::size_t i = 2;
    while (i < stream.size()) {
        if (stream[i] == op::FRAME) {
            std::uint64_t n = 0;
            for (int b = 0; b < 8; ++b) n |= std::uint64_t{stream[i + 1 + static_cast<std::size_t>(b)]} << (8 * b);
            sizes.push_back(n);
            i += 9 + n;
        } else {
            // An unframed BINBYTES: opcode, 4-byte length, payload.
            REQUIRE(stream[i] == op::BINBYTES);
            std::uint64_t n = 0;
            for (int b = 0; b < 4; ++b) n |= std::uint64_t{stream[i + 1 + static_cast<std::size_t>(b)]} << (8 * b);
            unframed += n;
            i += 5 + n;
        }
    }
    REQUIRE(i == stream.size());
    return sizes;
}

}  // namespace

TEST_CASE("frames close near 64 KiB at commit points", "[stream_writer][framing]") {
    HeapBuffer buffer;
    StreamWriter writer(buffer, 5);
    writer.begin();
    for (int i = 0; i < 100000; ++i) {
        writer.commit_point();
        writer.integer(100000 + i);
    }
    writer.finish();
    std::size_t unframed = 0;
    auto sizes = frame_sizes(bytes_of(buffer), unframed);
    REQUIRE(sizes.size() >= 7);
    for (std::size_t k = 0; k + 1 < sizes.size(); ++k) {
        CHECK(sizes[k] >= webpickle::kFrameSizeTarget);
        CHECK(sizes[k] < webpickle::kFrameSizeTarget + 16);
    }
    CHECK(unframed == 0);
}

TEST_CASE("large payloads are written outside frames", "[stream_writer][framing]") {
    HeapBuffer buffer;
    StreamWriter writer(buffer, 5);
    std::vector<std::uint8_t> big(1 << 20, 0xab);
    writer.begin();
    writer.integer(1);
    writer.bytes(big.data(), big.size());
    writer.integer(2);
    writer.finish();
    // "K\x01" before and "K\x02." after the payload are too small for frames.
    auto out = bytes_of(buffer);
    REQUIRE(out.size() == 2 + 2 + 5 + big.size() + 3);
    CHECK(Bytes(out.begin(), out.begin() + 9) == Bytes{op::PROTO, 5, op::BININT1, 1, op::BINBYTES, 0, 0, 0x10, 0});
    CHECK(Bytes(out.end() - 3, out.end()) == Bytes{op::BININT1, 2, op::STOP});
}

TEST_CASE("protocols outside 2..5 are refused", "[stream_writer]") {
    HeapBuffer buffer;
    StreamWriter writer(buffer, 1);
    CHECK_THROWS_AS(writer.begin(), std::invalid_argument);
}
