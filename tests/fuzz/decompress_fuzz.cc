// Any bytes through each decompressor: no crash, and never more output than
// the limit, whatever the input claims.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "wire/compression.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  constexpr uint64_t kLimit = 1 << 20;
  for (auto c : {sluice::wire::Compression::kGzip, sluice::wire::Compression::kZstd,
                 sluice::wire::Compression::kSnappyBlock}) {
    std::string out;
    (void)sluice::wire::Decompress(c, in, kLimit, &out);
    if (out.size() > kLimit) std::abort();
  }
  return 0;
}
