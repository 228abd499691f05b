// A map from pointers to values for the few entries a stream has of a kind
// (the namespaces of classes and modules written by value): a linear scan
// while it is small, a hash map beyond. Looked up for every dict pickled, so
// the common case (a handful of entries) must cost a few compares, not a
// hash-map lookup (a division and a bucket walk, which showed in wasm
// profiles of 10,000 instances).
#pragma once
#include <cstddef>
#include <unordered_map>
#include <utility>
#include <vector>

namespace webpickle {

template <typename K, typename V>
class SmallPointerMap {
public:
    static constexpr std::size_t kLinearLimit = 16;

    bool empty() const { return small_.empty() && large_.empty(); }
    std::size_t size() const { return small_.size() + large_.size(); }

    // The value stored for key, or null.
    const V* find(K key) const {
        if (large_.empty()) {
            for (const auto& entry : small_)
                if (entry.first == key) return &entry.second;
            return nullptr;
        }
        auto found = large_.find(key);
        return found == large_.end() ? nullptr : &found->second;
    }

    // Stores value under key unless key is there already (as std::map::emplace).
    void emplace(K key, V value) {
        if (find(key) != nullptr) return;
        if (large_.empty() && small_.size() < kLinearLimit) {
            small_.emplace_back(key, std::move(value));
            return;
        }
        for (auto& entry : small_) large_.emplace(entry.first, std::move(entry.second));
        small_.clear();
        large_.emplace(key, std::move(value));
    }

    void clear() {
        small_.clear();
        large_.clear();
    }

private:
    std::vector<std::pair<K, V>> small_;
    std::unordered_map<K, V> large_;
};

}  // namespace webpickle
