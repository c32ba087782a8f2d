#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "exporters/prometheusremotewrite/remote_write_exporter.h"
#include "support/otlp_builders.h"
#include "telemetry/metrics.h"
#include "wire/compression.h"

namespace sluice::exporters::prw {
namespace {

// Feeds log batches to a RemoteWriteEncoder the way the delivery loop does
// and keeps every request it emits.
class EncoderTest : public ::testing::Test {
 protected:
  EncoderTest()
      : unsupported_(registry_.AddCounter("unsupported", "", {}).With({})),
        dropped_(registry_.AddCounter("dropped", "", {}).With({})),
        encoder_(std::move(*Translator::Create({})), /*shards=*/3, /*max_series=*/4,
                 RemoteWriteCounters{&unsupported_, &dropped_}) {}

  void Add(log::Encoding encoding, std::string_view payload, uint32_t items) {
    log::LogReader::Batch b;
    b.header.signal = log::Signal::kMetrics;
    b.header.encoding = encoding;
    b.header.item_count = items;
    b.payload = payload;
    encoder_.Add(b, next_record_, emit_);
    next_record_ += items;
  }

  // Every series sent, per shard in the order sent.
  std::vector<std::vector<std::string>> SentSeries() {
    encoder_.Flush(emit_);
    std::vector<std::vector<std::string>> out(3);
    for (const auto& r : requests_) {
      prometheus::WriteRequest w;
      EXPECT_TRUE(w.ParseFromString(r.body));
      for (const auto& ts : w.timeseries()) out[r.shard].push_back(ts.SerializeAsString());
    }
    requests_.clear();
    return out;
  }

  telemetry::Registry registry_;
  telemetry::Counter& unsupported_;
  telemetry::Counter& dropped_;
  RemoteWriteEncoder encoder_;
  std::vector<pipeline::OutboundRequest> requests_;
  EmitFn emit_ = [this](pipeline::OutboundRequest&& r) { requests_.push_back(std::move(r)); };
  uint64_t next_record_ = 0;
};

TEST_F(EncoderTest, RequestStoredAsSentIsSplitExactlyLikeItsDecompressedForm) {
  std::string plain = testing::MakeWriteRequest(23, 2, 1).SerializeAsString();
  Add(log::Encoding::kPromRemoteWriteProto, plain, 46);
  auto expected = SentSeries();
  Add(log::Encoding::kPromRemoteWriteSnappy, wire::Compress(wire::Compression::kSnappyBlock, plain),
      46);
  auto got = SentSeries();
  EXPECT_EQ(got, expected);
  size_t total = 0;
  for (const auto& shard : got) total += shard.size();
  EXPECT_EQ(total, 23u);
  EXPECT_EQ(unsupported_.Value(), 0u);
}

TEST_F(EncoderTest, DamagedSnappyBatchIsCountedAndTheNextOneStillSent) {
  std::string compressed = wire::Compress(wire::Compression::kSnappyBlock,
                                          testing::MakeWriteRequest(5, 1, 1).SerializeAsString());
  std::string damaged = compressed.substr(0, compressed.size() / 2);
  Add(log::Encoding::kPromRemoteWriteSnappy, damaged, 5);
  EXPECT_EQ(unsupported_.Value(), 5u);
  Add(log::Encoding::kPromRemoteWriteSnappy, compressed, 5);
  size_t total = 0;
  for (const auto& shard : SentSeries()) total += shard.size();
  EXPECT_EQ(total, 5u);
  EXPECT_EQ(unsupported_.Value(), 5u);
}

TEST_F(EncoderTest, BatchLargerThanTheKeptBufferIsSplitWhole) {
  // About 6 MiB decompressed: past the buffer the encoder keeps, so it is
  // released after this batch; every series must still arrive intact.
  auto req = testing::MakeWriteRequest(2000, 200, 1);
  std::string plain = req.SerializeAsString();
  ASSERT_GT(plain.size(), 4u << 20);
  Add(log::Encoding::kPromRemoteWriteSnappy, wire::Compress(wire::Compression::kSnappyBlock, plain),
      400000);
  std::vector<std::string> all;
  for (const auto& shard : SentSeries()) all.insert(all.end(), shard.begin(), shard.end());
  std::sort(all.begin(), all.end());
  std::vector<std::string> want;
  for (const auto& ts : req.timeseries()) want.push_back(ts.SerializeAsString());
  std::sort(want.begin(), want.end());
  EXPECT_EQ(all, want);
}

}  // namespace
}  // namespace sluice::exporters::prw
