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

TEST_CASE("a new memo starts from the table a finished one left, without its keys", "[memo]") {
    std::size_t grown = 0;
    {
        IdentityMemo big;
        for (std::uint32_t i = 0; i < 5000; ++i) big.add(0x10000 + std::uintptr_t{i} * 16);
        grown = big.capacity();
        REQUIRE(grown >= 10000);
    }
    IdentityMemo next;
    CHECK(next.capacity() == grown);  // no regrowing for a stream of the same size
    CHECK(next.size() == 0);
    for (std::uint32_t i = 0; i < 5000; i += 7) CHECK(next.find(0x10000 + std::uintptr_t{i} * 16) == IdentityMemo::kMissing);
    CHECK(next.add(0x10000) == 0);
    CHECK(next.find(0x10000) == 0);
    std::size_t count = 0;
    next.for_each([&](std::uintptr_t, std::uint32_t) { ++count; });
    CHECK(count == 1);
}

TEST_CASE("a memo made while another is alive has a table of its own", "[memo]") {
    IdentityMemo outer;
    outer.add(0x1000);
    {
        IdentityMemo inner;  // a class's id is computed in a nested session
        CHECK(inner.find(0x1000) == IdentityMemo::kMissing);
        CHECK(inner.add(0x2000) == 0);
        CHECK(outer.find(0x2000) == IdentityMemo::kMissing);
    }
    CHECK(outer.find(0x1000) == 0);
    CHECK(outer.add(0x3000) == 1);
}

TEST_CASE("clear keeps the table and forgets its keys, across rehashes", "[memo]") {
    IdentityMemo memo;
    for (int round = 0; round < 3; ++round) {
        for (std::uint32_t i = 0; i < 1000; ++i) REQUIRE(memo.add(0x10000 + std::uintptr_t{i} * 16) == i);
        for (std::uint32_t i = 0; i < 1000; i += 13) REQUIRE(memo.find(0x10000 + std::uintptr_t{i} * 16) == i);
        memo.clear();
        CHECK(memo.find(0x10000) == IdentityMemo::kMissing);
    }
}
