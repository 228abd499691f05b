// The small pointer map: the same answers below and above its linear limit.
#include <catch2/catch_test_macros.hpp>

#include <cstdint>

#include "core/small_pointer_map.hpp"

using webpickle::SmallPointerMap;

namespace {
const int* key(std::uintptr_t n) { return reinterpret_cast<const int*>(n * 16); }
}  // namespace

TEST_CASE("finds what was stored, below and above the linear limit", "[map]") {
    SmallPointerMap<const int*, int> map;
    CHECK(map.empty());
    CHECK(map.find(key(1)) == nullptr);
    const std::uintptr_t n = SmallPointerMap<const int*, int>::kLinearLimit * 3;
    for (std::uintptr_t i = 1; i <= n; ++i) {
        map.emplace(key(i), static_cast<int>(i));
        for (std::uintptr_t j = 1; j <= i; j += 5) REQUIRE(*map.find(key(j)) == static_cast<int>(j));
        REQUIRE(map.find(key(i + 1)) == nullptr);
    }
    CHECK(map.size() == n);
}

TEST_CASE("emplace keeps the first value of a key; clear empties", "[map]") {
    SmallPointerMap<const int*, int> map;
    map.emplace(key(7), 1);
    map.emplace(key(7), 2);
    CHECK(*map.find(key(7)) == 1);
    CHECK(map.size() == 1);
    map.clear();
    CHECK(map.empty());
    CHECK(map.find(key(7)) == nullptr);
}
