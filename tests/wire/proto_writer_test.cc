#include "wire/proto_writer.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "wire/proto_reader.h"

namespace sluice::wire {
namespace {

// The size functions are what a canonical encoding (MessageHeader) is
// written with; a size that disagreed with the bytes would corrupt the
// message around it.
TEST(ProtoWriterTest, SizesMatchTheBytesWrittenAtEveryVarintLength) {
  for (uint64_t v : {uint64_t{0}, uint64_t{127}, uint64_t{128}, uint64_t{16383}, uint64_t{16384},
                     (uint64_t{1} << 35) - 1, ~uint64_t{0}}) {
    std::string out;
    ProtoWriter w(&out);
    w.RawVarint(v);
    EXPECT_EQ(out.size(), ProtoWriter::VarintSize(v)) << v;
    out.clear();
    w.Varint(16, v);  // a two-byte key
    EXPECT_EQ(out.size(), ProtoWriter::VarintFieldSize(16, v)) << v;
  }
  std::string out;
  ProtoWriter w(&out);
  w.Fixed64(3, 1);
  EXPECT_EQ(out.size(), ProtoWriter::Fixed64FieldSize(3));
  out.clear();
  std::string payload(200, 'x');
  w.Bytes(2000, payload);
  EXPECT_EQ(out.size(), ProtoWriter::LengthDelimitedSize(2000, payload.size()));
}

TEST(ProtoWriterTest, MessageHeaderWritesTheMinimalLength) {
  std::string out;
  ProtoWriter w(&out);
  const uint64_t inner =
      ProtoWriter::LengthDelimitedSize(1, 4) + ProtoWriter::VarintFieldSize(2, 300);
  w.MessageHeader(7, inner);
  w.Bytes(1, "name");
  w.Varint(2, 300);
  // Key, a one-byte length, then the fields: what protobuf encoders write,
  // where BeginMessage would have reserved five bytes for the length.
  EXPECT_EQ(out.size(), ProtoWriter::LengthDelimitedSize(7, inner));
  EXPECT_EQ(out.size(), 2 + inner);
  ProtoReader r(out);
  ASSERT_TRUE(r.Next());
  EXPECT_EQ(r.field(), 7u);
  ProtoReader nested(r.bytes());
  ASSERT_TRUE(nested.Next());
  EXPECT_EQ(nested.bytes(), "name");
  ASSERT_TRUE(nested.Next());
  EXPECT_EQ(nested.varint(), 300u);
  EXPECT_FALSE(nested.Next());
  EXPECT_FALSE(r.Next());
  EXPECT_TRUE(r.ok());
}

}  // namespace
}  // namespace sluice::wire
