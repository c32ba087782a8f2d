// Any bytes through each decompressor: no crash, and never more output than
// the limit, whatever the input claims.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "wire/compression.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  // Four of gzip's and zstd's 64 KiB output steps: enough to reach every
  // path of the limit (a step cut short, the limit met inside a frame or at
  // its end), while an input that expands to the limit, as fuzzing soon
  // finds, costs a quarter of what 1 MiB would under the sanitizers.
  constexpr uint64_t kLimit = 256 << 10;
  // Kept between inputs: Decompress clears it and grows it within its
  // capacity, so an input pays neither a fresh allocation nor the copies
  // of its growth.
  static std::string out;
  for (auto c : {sluice::wire::Compression::kGzip, sluice::wire::Compression::kZstd,
                 sluice::wire::Compression::kSnappyBlock}) {
    (void)sluice::wire::Decompress(c, in, kLimit, &out);
    if (out.size() > kLimit) std::abort();
  }
  return 0;
}
