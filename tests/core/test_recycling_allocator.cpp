// The recycling allocator: large freed blocks come back for the next request
// of the same size; small ones and oversized ones go to malloc and free.
#include <catch2/catch_test_macros.hpp>

#include <cstdint>
#include <vector>

#include "core/identity_memo.hpp"
#include "core/recycling_allocator.hpp"

namespace recycling = webpickle::recycling;

TEST_CASE("a large freed block is handed out again for the same size", "[recycling]") {
    const std::size_t bytes = recycling::kMinBytes * 4;
    void* first = recycling::allocate(bytes);
    // Earlier tests may have left blocks on this thread's shelf: count from here.
    const std::size_t kept = recycling::shelf().total;
    recycling::release(first, bytes);
    CHECK(recycling::shelf().total == kept + bytes);  // kept, not freed
    void* second = recycling::allocate(bytes);
    CHECK(second == first);
    CHECK(recycling::shelf().total == kept);  // handed out: no longer on the shelf
    recycling::release(second, bytes);
    CHECK(recycling::shelf().total == kept + bytes);
}

TEST_CASE("the shelf never holds more than its byte limit", "[recycling]") {
    const std::size_t bytes = recycling::kMaxBytes / 2 + 1;  // two never fit together
    void* a = recycling::allocate(bytes);
    void* b = recycling::allocate(bytes);
    recycling::release(a, bytes);
    recycling::release(b, bytes);  // drops a to make room
    CHECK(recycling::shelf().total <= recycling::kMaxBytes);
    void* again = recycling::allocate(bytes);
    CHECK(again == b);
    recycling::release(again, bytes);
}

TEST_CASE("a memo grown, cleared and grown again keeps every index", "[recycling][memo]") {
    webpickle::IdentityMemo memo;
    for (int round = 0; round < 3; ++round) {
        for (std::uintptr_t k = 1; k <= 50000; ++k) REQUIRE(memo.add(k * 16) == k - 1);
        for (std::uintptr_t k = 1; k <= 50000; ++k) REQUIRE(memo.find(k * 16) == k - 1);
        memo.clear();
        CHECK(memo.find(16) == webpickle::IdentityMemo::kMissing);
    }
}
