#include "base/crc32c.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace sluice {
namespace {

TEST(Crc32cTest, MatchesPublishedCheckValues) {
  // The CRC-32C check value for "123456789" and the iSCSI test vectors (RFC 3720 B.4).
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
  std::string zeros(32, '\0');
  EXPECT_EQ(Crc32c(zeros), 0x8A9136AAu);
  std::string ones(32, '\xff');
  EXPECT_EQ(Crc32c(ones), 0x62A8AB43u);
  std::string inc(32, '\0');
  for (int i = 0; i < 32; ++i) inc[i] = static_cast<char>(i);
  EXPECT_EQ(Crc32c(inc), 0x46DD794Eu);
}

TEST(Crc32cTest, HardwareAndPortableAgreeOnEveryLengthAndAlignment) {
  std::mt19937 rng(7);
  std::string data(16384 + 16, '\0');
  for (auto& c : data) c = static_cast<char>(rng());
  for (size_t offset = 0; offset < 8; ++offset) {
    // Around each way the hardware path splits its input: three streams of
    // 1024 or 128 bytes, then words, then bytes.
    for (size_t len : {0,   1,   7,    8,    9,    63,   64,   65,   383,  384,  385,
                       767, 768, 1000, 1024, 3071, 3072, 3073, 3456, 4096, 16384}) {
      EXPECT_EQ(Crc32c(data.data() + offset, len),
                internal::Crc32cExtendPortable(0, data.data() + offset, len))
          << "offset " << offset << " len " << len;
    }
  }
}

TEST(Crc32cTest, ExtendEqualsWholeBuffer) {
  std::string a = "hello, ";
  std::string b = "world";
  EXPECT_EQ(Crc32cExtend(Crc32c(a), b.data(), b.size()), Crc32c(a + b));
  // Long enough that both halves take the three-stream path.
  std::string big(20000, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 31 + 7);
  for (size_t cut : {1, 385, 3073, 9999}) {
    EXPECT_EQ(Crc32cExtend(Crc32c(big.data(), cut), big.data() + cut, big.size() - cut),
              internal::Crc32cExtendPortable(0, big.data(), big.size()))
        << "cut " << cut;
  }
}

}  // namespace
}  // namespace sluice
