#include "io/crc32c.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace sluice::io {
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
  std::string data(4096 + 16, '\0');
  for (auto& c : data) c = static_cast<char>(rng());
  for (size_t offset = 0; offset < 8; ++offset) {
    for (size_t len : {0, 1, 7, 8, 9, 63, 64, 65, 1000, 4096}) {
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
}

}  // namespace
}  // namespace sluice::io
