#include "exporters/debug/debug_exporter.h"

#include <gtest/gtest.h>

#include "support/otlp_builders.h"

namespace sluice::exporters::debug {
namespace {

log::LogReader::Batch TraceBatch(const std::string& payload, uint32_t items) {
  log::LogReader::Batch b;
  b.header.signal = log::Signal::kTraces;
  b.header.encoding = log::Encoding::kOtlpProto;
  b.header.item_count = items;
  b.payload = payload;
  return b;
}

TEST(DebugExporterTest, EachVerbosityPrintsWhatTheCollectorsDoes) {
  std::string payload = testing::MakeTraceRequest(1, 2, 3).SerializeAsString();
  auto batch = TraceBatch(payload, 2);
  EXPECT_EQ(Describe(batch, Verbosity::kBasic), "traces: 2 spans\n");
  std::string normal = Describe(batch, Verbosity::kNormal);
  EXPECT_EQ(std::count(normal.begin(), normal.end(), '\n'), 3) << normal;
  EXPECT_NE(normal.find("span op-3000000 service=service-3-0 trace_id="), std::string::npos)
      << normal;
  std::string detailed = Describe(batch, Verbosity::kDetailed);
  EXPECT_NE(detailed.find("{\"resource\":{\"attributes\":[{\"key\":\"service.name\""),
            std::string::npos)
      << detailed;
  EXPECT_NE(Describe(TraceBatch("\xff", 1), Verbosity::kNormal).find("does not decode"),
            std::string::npos);
}

TEST(DebugExporterTest, SamplingPrintsTheFirstOnesEachSecondThenEveryNth) {
  Sampler s(2, 3);
  const int64_t sec = 1'000'000'000;
  std::string taken;
  for (int i = 0; i < 8; ++i) taken += s.Take(5 * sec + i) ? '1' : '0';
  EXPECT_EQ(taken, "11001001");
  EXPECT_TRUE(s.Take(6 * sec)) << "a new second starts over";
  Sampler none(0, 0);
  EXPECT_FALSE(none.Take(sec));
}

}  // namespace
}  // namespace sluice::exporters::debug
