// The identity memo: indices in insertion order, lookups across growth.
#include <catch2/catch_test_macros.hpp>

#include <cstdint>

#include "core/identity_memo.hpp"

using webpickle::IdentityMemo;

TEST_CASE("indices follow insertion order", "[memo]") {
    IdentityMemo memo;
    CHECK(memo.add(0x1000) == 0);
    CHECK(memo.add(0x2000) == 1);
    CHECK(memo.find(0x1000) == 0);
    CHECK(memo.find(0x2000) == 1);
    CHECK(memo.find(0x3000) == IdentityMemo::kMissing);
}

TEST_CASE("lookups survive many rehashes", "[memo]") {
    IdentityMemo memo;
    const std::uint32_t n = 100000;
    for (std::uint32_t i = 0; i < n; ++i) REQUIRE(memo.add(0x10000 + std::uintptr_t{i} * 16) == i);
    CHECK(memo.size() == n);
    for (std::uint32_t i = 0; i < n; i += 997) CHECK(memo.find(0x10000 + std::uintptr_t{i} * 16) == i);
    CHECK(memo.find(8) == IdentityMemo::kMissing);
}

TEST_CASE("clear forgets everything and restarts at index 0", "[memo]") {
    IdentityMemo memo;
    memo.add(0x1000);
    memo.clear();
    CHECK(memo.size() == 0);
    CHECK(memo.find(0x1000) == IdentityMemo::kMissing);
    CHECK(memo.add(0x2000) == 0);
}
