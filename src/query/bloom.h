#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::query {

// A split-block Bloom filter over 64-bit hashes: 32-byte blocks of eight
// 32-bit words, a key setting one bit in each word of one block (one cache
// line per lookup). Sized at 10 bits per key, about 1% of absent keys test
// present; a present key always does.
class BloomFilter {
 public:
  BloomFilter() = default;
  // A filter sized for `keys` keys at `bits_per_key` bits each (10: about
  // 1% of absent keys pass; 6: about 5%).
  explicit BloomFilter(size_t keys, size_t bits_per_key = 10);

  void Add(uint64_t hash);
  bool MayContain(uint64_t hash) const;

  // The filter's words, little-endian, and back; false when `bytes` is not a
  // whole number of blocks.
  std::string Serialize() const;
  bool Deserialize(std::string_view bytes);
  size_t bytes() const { return words_.size() * 4; }

 private:
  std::vector<uint32_t> words_;  // blocks of eight
};

}  // namespace sluice::query
