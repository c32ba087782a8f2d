#include "wire/proto_reader.h"

#include <gtest/gtest.h>

#include "wire/proto_writer.h"

namespace sluice::wire {
namespace {

TEST(ProtoReaderTest, ReadsWhatTheWriterWrote) {
  std::string buf;
  ProtoWriter w(&buf);
  w.Varint(1, 300);
  w.Fixed64(2, 0x1122334455667788ull);
  w.Fixed32(3, 0xAABBCCDD);
  w.Bytes(4, "hello");
  size_t m = w.BeginMessage(5);
  w.Varint(1, 7);
  w.EndMessage(m);
  w.Double(6, 2.5);

  ProtoReader r(buf);
  ASSERT_TRUE(r.Next());
  EXPECT_EQ(r.field(), 1u);
  EXPECT_EQ(r.varint(), 300u);
  ASSERT_TRUE(r.Next());
  EXPECT_EQ(r.fixed64(), 0x1122334455667788ull);
  ASSERT_TRUE(r.Next());
  EXPECT_EQ(r.fixed32(), 0xAABBCCDDu);
  ASSERT_TRUE(r.Next());
  EXPECT_EQ(r.bytes(), "hello");
  ASSERT_TRUE(r.Next());
  ProtoReader nested(r.bytes());
  ASSERT_TRUE(nested.Next());
  EXPECT_EQ(nested.varint(), 7u);
  ASSERT_TRUE(r.Next());
  EXPECT_EQ(r.as_double(), 2.5);
  EXPECT_FALSE(r.Next());
  EXPECT_TRUE(r.ok());
}

TEST(ProtoReaderTest, LengthPastTheEndIsMalformedNotAnOverread) {
  std::string buf =
      "\x0a\x05"
      "abc";  // field 1, length 5, only 3 bytes
  ProtoReader r(buf);
  EXPECT_FALSE(r.Next());
  EXPECT_FALSE(r.ok());
}

TEST(ProtoReaderTest, TruncatedVarintIsMalformed) {
  std::string buf = "\x08\xff\xff";
  ProtoReader r(buf);
  EXPECT_FALSE(r.Next());
  EXPECT_FALSE(r.ok());
}

TEST(ProtoReaderTest, OverlongVarintIsMalformed) {
  std::string buf(12, '\xff');
  buf[0] = '\x08';
  ProtoReader r(buf);
  EXPECT_FALSE(r.Next());
  EXPECT_FALSE(r.ok());
}

TEST(ProtoReaderTest, GroupsAndFieldZeroAreRejected) {
  EXPECT_FALSE([] {
    ProtoReader r(std::string_view("\x0b", 1));
    r.Next();
    return r.ok();
  }());
  EXPECT_FALSE([] {
    ProtoReader r(std::string_view("\x00\x01", 2));
    r.Next();
    return r.ok();
  }());
}

TEST(ProtoReaderTest, EmptyBufferHasNoFieldsAndIsOk) {
  ProtoReader r("");
  EXPECT_FALSE(r.Next());
  EXPECT_TRUE(r.ok());
}

}  // namespace
}  // namespace sluice::wire
