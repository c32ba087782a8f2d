#include "query/bloom.h"

#include <cstring>

namespace sluice::query {
namespace {

constexpr size_t kWordsPerBlock = 8;
// Odd constants that spread a key's low 32 bits over the eight words.
constexpr uint32_t kSalt[kWordsPerBlock] = {0x47b6137bU, 0x44974d91U, 0x8824ad5bU, 0xa2b7289dU,
                                            0x705495c7U, 0x2df1424bU, 0x9efc4947U, 0x5c6bfb31U};

}  // namespace

BloomFilter::BloomFilter(size_t keys, size_t bits_per_key) {
  size_t blocks = (keys * bits_per_key + 255) / 256;  // 256 bits per block
  words_.assign((blocks == 0 ? 1 : blocks) * kWordsPerBlock, 0);
}

void BloomFilter::Add(uint64_t hash) {
  if (words_.empty()) return;
  const size_t blocks = words_.size() / kWordsPerBlock;
  uint32_t* block = &words_[((hash >> 32) % blocks) * kWordsPerBlock];
  const auto key = static_cast<uint32_t>(hash);
  for (size_t i = 0; i < kWordsPerBlock; ++i) block[i] |= 1U << ((key * kSalt[i]) >> 27);
}

bool BloomFilter::MayContain(uint64_t hash) const {
  if (words_.empty()) return false;
  const size_t blocks = words_.size() / kWordsPerBlock;
  const uint32_t* block = &words_[((hash >> 32) % blocks) * kWordsPerBlock];
  const auto key = static_cast<uint32_t>(hash);
  for (size_t i = 0; i < kWordsPerBlock; ++i) {
    if ((block[i] & (1U << ((key * kSalt[i]) >> 27))) == 0) return false;
  }
  return true;
}

std::string BloomFilter::Serialize() const {
  std::string out(words_.size() * 4, '\0');
  std::memcpy(out.data(), words_.data(), out.size());  // little-endian hosts only
  return out;
}

bool BloomFilter::Deserialize(std::string_view bytes) {
  if (bytes.empty() || bytes.size() % (kWordsPerBlock * 4) != 0) return false;
  words_.assign(bytes.size() / 4, 0);
  std::memcpy(words_.data(), bytes.data(), bytes.size());
  return true;
}

}  // namespace sluice::query
