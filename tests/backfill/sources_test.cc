#include <gtest/gtest.h>
#include <zstd.h>

#include <filesystem>
#include <fstream>

#include "backfill/command.h"
#include "backfill/feed.h"
#include "backfill/file_input.h"
#include "backfill/otlp_json_source.h"
#include "backfill/prom_text_source.h"
#include "io/file_system.h"
#include "prometheus/remote.pb.h"
#include "support/stored_samples.h"
#include "support/temp_dir.h"
#include "wire/otlp/inspect.h"

namespace sluice::backfill {
namespace {

using testing::TempDir;

struct DecodedSample {
  int64_t timestamp_ms;
  double value;
  bool operator==(const DecodedSample&) const = default;
};
using DecodedSeries = std::map<std::string, std::vector<DecodedSample>>;

// Parsed by the protobuf library, not by sluice's own reader.
void DecodeWriteRequest(std::string_view payload, DecodedSeries* out) {
  ::prometheus::WriteRequest req;
  ASSERT_TRUE(req.ParseFromArray(payload.data(), static_cast<int>(payload.size())));
  for (const auto& ts : req.timeseries()) {
    std::string last;
    for (const auto& l : ts.labels()) {
      EXPECT_LT(last, l.name()) << "labels sorted by name, without repeats";
      last = l.name();
    }
    auto& into = (*out)[testing::SeriesKey(ts)];
    for (const auto& s : ts.samples()) into.push_back({s.timestamp(), s.value()});
  }
}

void WriteFile(const std::string& path, std::string_view data) {
  std::ofstream(path, std::ios::binary) << data;
}

std::string Zstd(std::string_view data) {
  std::string out(ZSTD_compressBound(data.size()), '\0');
  out.resize(ZSTD_compress(out.data(), out.size(), data.data(), data.size(), 3));
  return out;
}

// `series` series of `points` samples each, a minute apart, from t0 (ms).
std::string OpenMetrics(int series, int points, int64_t t0_ms) {
  std::string out = "# TYPE room_temperature gauge\n# HELP room_temperature Degrees.\n";
  for (int s = 0; s < series; ++s) {
    for (int i = 0; i < points; ++i) {
      out += "room_temperature{room=\"r" + std::to_string(s) + "\",floor=\"1\"} " +
             std::to_string(i) + ".5 " + std::to_string((t0_ms + i * 60'000) / 1000) + "\n";
    }
  }
  return out + "# EOF\n";
}

struct Read {
  DecodedSeries series;
  std::vector<log::Position> starts;
  uint64_t samples = 0;
};

Read ReadAll(Source& source) {
  Read r;
  InputBatch batch;
  for (;;) {
    Result<bool> more = source.Next(&batch);
    EXPECT_TRUE(more.ok()) << more.status().ToString();
    if (!more.ok() || !*more) break;
    EXPECT_EQ(batch.encoding, log::Encoding::kPromRemoteWriteProto);
    r.starts.push_back(batch.start);
    r.samples += batch.items;
    DecodeWriteRequest(batch.payload, &r.series);
  }
  return r;
}

TEST(PromTextSourceTest, EverySampleArrivesOnceWithItsSeriesGroupedAndSortedLabels) {
  TempDir dir;
  const int64_t t0 = 1'700'000'000'000;
  WriteFile(dir.Sub("in.om"), OpenMetrics(30, 400, t0));
  PromTextSource::Options o;
  o.path = dir.Sub("in.om");
  o.batch_samples = 1000;
  auto source = PromTextSource::Open(io::FileSystem::Posix(), o);
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  Read r = ReadAll(**source);
  EXPECT_EQ(r.samples, 12'000u);
  ASSERT_EQ(r.series.size(), 30u);
  const auto& one = r.series["room_temperature{floor=\"1\",room=\"r7\"}"];
  ASSERT_EQ(one.size(), 400u);
  for (int i = 0; i < 400; ++i) EXPECT_EQ(one[i], (DecodedSample{t0 + i * 60'000, i + 0.5}));
  EXPECT_GT(r.starts.size(), 5u) << "batches are bounded, not one for the file";
  EXPECT_EQ((*source)->skipped_items(), 0u);
}

TEST(PromTextSourceTest, ResumingAtAnyBatchStartSendsExactlyTheRest) {
  TempDir dir;
  WriteFile(dir.Sub("in.txt"), [] {
    std::string out;
    for (int i = 0; i < 5000; ++i) {
      out += "jobs_total{queue=\"q" + std::to_string(i % 7) + "\"} " + std::to_string(i) + " " +
             std::to_string(1'600'000'000'000 + i * 1000) + "\n";
    }
    return out;
  }());
  PromTextSource::Options o;
  o.path = dir.Sub("in.txt");
  o.format = wire::prom::ExpositionFormat::kText004;
  o.batch_samples = 300;
  auto whole = PromTextSource::Open(io::FileSystem::Posix(), o);
  ASSERT_TRUE(whole.ok());
  Read all = ReadAll(**whole);
  ASSERT_EQ(all.samples, 5000u);
  for (size_t b = 1; b < all.starts.size(); b += 3) {
    auto resumed = PromTextSource::Open(io::FileSystem::Posix(), o);
    ASSERT_TRUE(resumed.ok());
    ASSERT_TRUE((*resumed)->Seek(all.starts[b]).ok());
    Read rest = ReadAll(**resumed);
    // Exactly the samples of the batches from b on.
    uint64_t expected = 0;
    {
      auto again = PromTextSource::Open(io::FileSystem::Posix(), o);
      InputBatch batch;
      for (size_t i = 0; (*again)->Next(&batch).value(); ++i) {
        if (i >= b) expected += batch.items;
      }
    }
    EXPECT_EQ(rest.samples, expected) << "resumed at batch " << b;
    EXPECT_LT(rest.samples, all.samples);
  }
}

TEST(PromTextSourceTest, TimeRangeAndSelectorsSkipAndCountTheRest) {
  TempDir dir;
  const int64_t t0 = 1'700'000'000'000;
  WriteFile(dir.Sub("in.om"), OpenMetrics(4, 100, t0));
  PromTextSource::Options o;
  o.path = dir.Sub("in.om");
  o.range.start_ms = t0 + 10 * 60'000;
  o.range.end_ms = t0 + 19 * 60'000;
  o.match.push_back(*relabel::Selector::Parse("{room=~\"r[01]\"}"));
  auto source = PromTextSource::Open(io::FileSystem::Posix(), o);
  ASSERT_TRUE(source.ok());
  Read r = ReadAll(**source);
  EXPECT_EQ(r.samples, 20u);  // 2 rooms × 10 minutes
  EXPECT_EQ(r.series.size(), 2u);
  EXPECT_EQ((*source)->skipped_items(), 400u - 20u);
}

TEST(PromTextSourceTest, ASampleWithoutTimestampStopsTheRunNamingItsLine) {
  TempDir dir;
  WriteFile(dir.Sub("in.txt"), "a 1 1000\nb 2\n");
  PromTextSource::Options o;
  o.path = dir.Sub("in.txt");
  o.format = wire::prom::ExpositionFormat::kText004;
  auto source = PromTextSource::Open(io::FileSystem::Posix(), o);
  ASSERT_TRUE(source.ok());
  InputBatch batch;
  Result<bool> r = (*source)->Next(&batch);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("line 2"), std::string::npos) << r.status().ToString();
  EXPECT_NE(r.status().message().find("timestamp"), std::string::npos);
}

TEST(PromTextSourceTest, AMalformedLineIsAnErrorNamingTheFile) {
  TempDir dir;
  WriteFile(dir.Sub("in.om"), "# TYPE a gauge\na{x=\"1\" 1 1\n# EOF\n");
  PromTextSource::Options o;
  o.path = dir.Sub("in.om");
  auto source = PromTextSource::Open(io::FileSystem::Posix(), o);
  ASSERT_TRUE(source.ok());
  InputBatch batch;
  Result<bool> r = (*source)->Next(&batch);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(dir.Sub("in.om")), std::string::npos);
}

TEST(LineInputTest, ZstdAndPlainFilesGiveTheSameLinesAndOffsets) {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 20000; ++i) text += "line number " + std::to_string(i) + "\n";
  WriteFile(dir.Sub("plain"), text);
  // Several frames, as the file exporter writes one per batch.
  WriteFile(dir.Sub("packed"), Zstd(text.substr(0, 100000)) + Zstd(text.substr(100000)));
  for (const char* name : {"plain", "packed"}) {
    auto in = LineInput::Open(io::FileSystem::Posix(), dir.Sub(name));
    ASSERT_TRUE(in.ok());
    std::string got;
    for (;;) {
      EXPECT_EQ((*in)->offset(), got.size());
      Result<std::string_view> lines = (*in)->Next(4096);
      ASSERT_TRUE(lines.ok());
      if (lines->empty()) break;
      EXPECT_EQ(lines->back(), '\n');
      got.append(*lines);
    }
    EXPECT_EQ(got, text) << name;
    auto skipped = LineInput::Open(io::FileSystem::Posix(), dir.Sub(name));
    const size_t at = text.find("line number 12345");
    ASSERT_TRUE((*skipped)->SkipTo(at).ok());
    Result<std::string_view> lines = (*skipped)->Next(10);
    ASSERT_TRUE(lines.ok());
    EXPECT_EQ(*lines, "line number 12345\n") << name;
  }
}

std::string MetricsLine(const std::string& name, int points, int64_t t0_ns) {
  std::string dp;
  for (int i = 0; i < points; ++i) {
    dp += std::string(i ? "," : "") + "{\"timeUnixNano\":\"" +
          std::to_string(t0_ns + i * 1'000'000'000LL) + "\",\"asDouble\":" + std::to_string(i) +
          "}";
  }
  return "{\"resourceMetrics\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\","
         "\"value\":{\"stringValue\":\"shop\"}}]},\"scopeMetrics\":[{\"metrics\":[{\"name\":\"" +
         name + "\",\"gauge\":{\"dataPoints\":[" + dp + "]}}]}]}]}\n";
}

std::string SpanLine(int i) {
  return "{\"resourceSpans\":[{\"resource\":{},\"scopeSpans\":[{\"spans\":[{\"traceId\":"
         "\"5b8efff798038103d269b633813fc60c\",\"spanId\":\"eee19b7ec3c1b17" +
         std::to_string(i % 10) +
         "\",\"name\":\"op\",\"startTimeUnixNano\":\"1700000000000000000\","
         "\"endTimeUnixNano\":\"1700000001000000000\"}]}]}]}\n";
}

TEST(OtlpJsonSourceTest, ARotatedSetIsReadOldestFirstWithZstdFilesAndSignalsApart) {
  TempDir dir;
  const int64_t t0 = 1'700'000'000'000'000'000;
  // out-<time>.json are rotated files (the second zstd-compressed, as the
  // file exporter's compression: zstd writes them), out.json the live one.
  WriteFile(dir.Sub("out-20260101T000000.000Z.json"), MetricsLine("a", 3, t0) + SpanLine(1));
  WriteFile(dir.Sub("out-20260102T000000.000Z.json"), Zstd(MetricsLine("b", 4, t0 + 10)));
  WriteFile(dir.Sub("out.json"), SpanLine(2) + SpanLine(3) + MetricsLine("c", 5, t0 + 20));
  WriteFile(dir.Sub("other.json"), MetricsLine("x", 9, t0));
  OtlpJsonSource::Options o;
  o.path = dir.Sub("out.json");
  auto source = OtlpJsonSource::Open(io::FileSystem::Posix(), o);
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  std::vector<std::pair<log::Signal, uint64_t>> batches;
  InputBatch batch;
  while ((*source)->Next(&batch).value()) {
    batches.emplace_back(batch.signal, batch.items);
    wire::otlp::Inspection ins;
    Status st = batch.signal == log::Signal::kTraces
                    ? wire::otlp::InspectTraces(batch.payload, &ins)
                    : wire::otlp::InspectMetrics(batch.payload, &ins);
    ASSERT_TRUE(st.ok()) << st.ToString();
    EXPECT_EQ(ins.items, batch.items) << "a batch is the lines' requests joined";
  }
  const std::vector<std::pair<log::Signal, uint64_t>> expected = {{log::Signal::kMetrics, 3},
                                                                  {log::Signal::kTraces, 1},
                                                                  {log::Signal::kMetrics, 4},
                                                                  {log::Signal::kTraces, 2},
                                                                  {log::Signal::kMetrics, 5}};
  EXPECT_EQ(batches, expected);
}

TEST(OtlpJsonSourceTest, ResumingAtABatchStartSendsTheRestOfTheSet) {
  TempDir dir;
  const int64_t t0 = 1'700'000'000'000'000'000;
  std::string first, second;
  for (int i = 0; i < 50; ++i) first += MetricsLine("m" + std::to_string(i), 10, t0);
  for (int i = 0; i < 50; ++i) second += MetricsLine("n" + std::to_string(i), 10, t0);
  WriteFile(dir.Sub("set-20260101T000000.000Z.json"), Zstd(first));
  WriteFile(dir.Sub("set.json"), second);
  OtlpJsonSource::Options o;
  o.path = dir.Sub("set.json");
  o.batch_items = 70;
  auto source = OtlpJsonSource::Open(io::FileSystem::Posix(), o);
  ASSERT_TRUE(source.ok());
  std::vector<std::pair<log::Position, uint64_t>> starts;
  InputBatch batch;
  while ((*source)->Next(&batch).value()) starts.emplace_back(batch.start, batch.items);
  ASSERT_GT(starts.size(), 10u);
  for (size_t b = 0; b < starts.size(); b += 2) {
    auto resumed = OtlpJsonSource::Open(io::FileSystem::Posix(), o);
    ASSERT_TRUE((*resumed)->Seek(starts[b].first).ok());
    uint64_t items = 0;
    while ((*resumed)->Next(&batch).value()) items += batch.items;
    uint64_t expected = 0;
    for (size_t i = b; i < starts.size(); ++i) expected += starts[i].second;
    EXPECT_EQ(items, expected) << "resumed at batch " << b;
  }
}

TEST(OtlpJsonSourceTest, RotatedFilesOfANameWithTwoExtensionsAreFoundAndAGoneFileIsAnError) {
  TempDir dir;
  const int64_t t0 = 1'700'000'000'000'000'000;
  // spans.jsonl.zst rotates into spans.jsonl-<time>.zst (the extension is
  // what follows the last dot).
  WriteFile(dir.Sub("spans.jsonl-20260101T000000.000Z.zst"), Zstd(MetricsLine("a", 2, t0)));
  WriteFile(dir.Sub("spans.jsonl-20260102T000000.000Z.zst"), Zstd(MetricsLine("b", 3, t0)));
  WriteFile(dir.Sub("spans.jsonl.zst"), Zstd(MetricsLine("c", 4, t0)));
  OtlpJsonSource::Options o;
  o.path = dir.Sub("spans.jsonl.zst");
  auto source = OtlpJsonSource::Open(io::FileSystem::Posix(), o);
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  std::vector<uint64_t> items;
  std::vector<log::Position> starts;
  InputBatch batch;
  while ((*source)->Next(&batch).value()) {
    items.push_back(batch.items);
    starts.push_back(batch.start);
  }
  EXPECT_EQ(items, (std::vector<uint64_t>{2, 3, 4}));
  // The oldest file deleted between runs (max_backups): a checkpoint in the
  // second file still finds it; one in the deleted file is an error.
  std::filesystem::remove(dir.Sub("spans.jsonl-20260101T000000.000Z.zst"));
  auto again = OtlpJsonSource::Open(io::FileSystem::Posix(), o);
  ASSERT_TRUE((*again)->Seek(starts[1]).ok());
  uint64_t rest = 0;
  while ((*again)->Next(&batch).value()) rest += batch.items;
  EXPECT_EQ(rest, 7u);
  auto gone = OtlpJsonSource::Open(io::FileSystem::Posix(), o);
  Status st = (*gone)->Seek(starts[0]);
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(st.message().find("--restart"), std::string::npos);
}

TEST(PromTextSourceTest, AFileShorterThanItsCheckpointIsAnError) {
  TempDir dir;
  WriteFile(dir.Sub("in.om"), OpenMetrics(2, 10, 1'700'000'000'000));
  PromTextSource::Options o;
  o.path = dir.Sub("in.om");
  auto source = PromTextSource::Open(io::FileSystem::Posix(), o);
  Status st = (*source)->Seek({0, 1'000'000, 0});
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
}

TEST(OtlpJsonSourceTest, ALineThatIsNoOtlpRequestNamesItsFileAndLine) {
  TempDir dir;
  WriteFile(dir.Sub("bad.json"), MetricsLine("a", 1, 1) + "{\"hello\":1}\n");
  OtlpJsonSource::Options o;
  o.path = dir.Sub("bad.json");
  auto source = OtlpJsonSource::Open(io::FileSystem::Posix(), o);
  ASSERT_TRUE(source.ok());
  InputBatch batch;
  Result<bool> r = (*source)->Next(&batch);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(dir.Sub("bad.json") + ": line 2"), std::string::npos)
      << r.status().ToString();
}

TEST(OtlpJsonSourceTest, AMissingFileAndSetIsNotFound) {
  TempDir dir;
  OtlpJsonSource::Options o;
  o.path = dir.Sub("none.json");
  auto source = OtlpJsonSource::Open(io::FileSystem::Posix(), o);
  ASSERT_FALSE(source.ok());
  EXPECT_EQ(source.status().code(), StatusCode::kNotFound);
}

TEST(BackfillTimeTest, TimesAreReadAsRfc3339UnixSecondsNowAndAgo) {
  const int64_t now = 1'767'366'245'000;
  EXPECT_EQ(ParseTimeMs("2026-01-02T15:04:05Z", now).value(), 1'767'366'245'000);
  EXPECT_EQ(ParseTimeMs("2026-01-02T15:04:05.25Z", now).value(), 1'767'366'245'250);
  EXPECT_EQ(ParseTimeMs("2026-01-02T17:04:05+02:00", now).value(), 1'767'366'245'000);
  EXPECT_EQ(ParseTimeMs("1767366245.5", now).value(), 1'767'366'245'500);
  EXPECT_EQ(ParseTimeMs("now", now).value(), now);
  EXPECT_EQ(ParseTimeMs("-6h", now).value(), now - 6 * 3'600'000);
  EXPECT_FALSE(ParseTimeMs("yesterday", now).ok());
  EXPECT_FALSE(ParseTimeMs("2026-01-02T15:04:05", now).ok()) << "no zone: ambiguous";
}

TEST(BackfillRefusalTest, OldSampleRefusalsAreToldApartFromOtherErrors) {
  EXPECT_TRUE(RefusesOldSamples("HTTP 400: out of bounds"));
  EXPECT_TRUE(RefusesOldSamples("HTTP 400: too old sample"));
  EXPECT_TRUE(RefusesOldSamples("HTTP 400: out of order sample"));
  EXPECT_FALSE(RefusesOldSamples("HTTP 400: invalid label name"));
  EXPECT_FALSE(RefusesOldSamples("HTTP 413: request too large"));
  const std::string m = OldSamplesMessage("prometheusremotewrite", "HTTP 400: out of bounds");
  EXPECT_NE(m.find("out_of_order_time_window"), std::string::npos);
  EXPECT_NE(m.find("VictoriaMetrics"), std::string::npos);
}

TEST(BackfillCheckpointTest, ACheckpointOfAnotherCommandIsNotContinued) {
  TempDir dir;
  Checkpoint mine(io::FileSystem::Posix(), dir.Sub("cp"), "backfill from=a");
  ASSERT_TRUE(mine.Save({2, 100, 7}, false).ok());
  auto loaded = mine.Load();
  ASSERT_TRUE(loaded.ok());
  ASSERT_TRUE(loaded->has_value());
  EXPECT_EQ((*loaded)->position, (log::Position{2, 100, 7}));
  EXPECT_FALSE((*loaded)->finished);
  Checkpoint other(io::FileSystem::Posix(), dir.Sub("cp"), "backfill from=b");
  auto refused = other.Load();
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("--restart"), std::string::npos);
  WriteFile(dir.Sub("cp"), "garbage");
  EXPECT_EQ(mine.Load().status().code(), StatusCode::kCorruption);
}

}  // namespace
}  // namespace sluice::backfill
