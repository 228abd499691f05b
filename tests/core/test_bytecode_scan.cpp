// Global-name scanning over synthetic bytecode (opcode numbers are made up:
// the scanner takes them from its caller).
#include <catch2/catch_test_macros.hpp>

#include <cstdint>
#include <vector>

#include "core/bytecode_scan.hpp"

using webpickle::GlobalOpcodes;
using webpickle::scan_global_names;

namespace {

constexpr int LOAD_GLOBAL = 10, STORE_GLOBAL = 11, EXTENDED_ARG = 12, OTHER = 13;

GlobalOpcodes ops() {
    GlobalOpcodes o;
    o.name_ops = {{LOAD_GLOBAL, 1}, {STORE_GLOBAL, 0}};
    o.extended_arg = EXTENDED_ARG;
    return o;
}

}  // namespace

TEST_CASE("LOAD_GLOBAL's argument is shifted, STORE_GLOBAL's is not", "[bytecode]") {
    std::vector<std::uint8_t> code{LOAD_GLOBAL, 3 << 1 | 1, OTHER, 9, STORE_GLOBAL, 2, 0, 0};
    CHECK(scan_global_names(code.data(), code.size(), ops()) == std::vector<std::uint32_t>{3, 2});
}

TEST_CASE("repeats are reported once, in first-use order", "[bytecode]") {
    std::vector<std::uint8_t> code{LOAD_GLOBAL, 4, LOAD_GLOBAL, 2, LOAD_GLOBAL, 4};
    CHECK(scan_global_names(code.data(), code.size(), ops()) == std::vector<std::uint32_t>{2, 1});
}

TEST_CASE("EXTENDED_ARG widens the next argument only", "[bytecode]") {
    std::vector<std::uint8_t> code{EXTENDED_ARG, 1, STORE_GLOBAL, 5, STORE_GLOBAL, 5};
    CHECK(scan_global_names(code.data(), code.size(), ops()) == std::vector<std::uint32_t>{261, 5});
}

TEST_CASE("inline caches (opcode 0) and odd trailing bytes are ignored", "[bytecode]") {
    std::vector<std::uint8_t> code{0, 0, 0, 0, STORE_GLOBAL, 1, LOAD_GLOBAL};
    CHECK(scan_global_names(code.data(), code.size(), ops()) == std::vector<std::uint32_t>{1});
}
