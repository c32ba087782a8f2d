// Writes the seed inputs in tests/fuzz/seeds/: valid requests of every kind,
// built with the protobuf library, and files as the log and the dead-letter
// queue write them, so fuzzing starts from inputs that reach deep into each
// decoder. Usage: fuzz_make_seeds <tests/fuzz/seeds>
#include <filesystem>
#include <fstream>
#include <string>

#include "base/clock.h"
#include "exporters/common/dead_letter.h"
#include "io/memory_file_system.h"
#include "log/format.h"
#include "log/state_file.h"
#include "support/otlp_builders.h"
#include "telemetry/metrics.h"
#include "wire/compression.h"
#include "wire/prom/remote_read.h"
#include "wire/proto_writer.h"

namespace {
void Write(const std::string& dir, const std::string& target, const std::string& name,
           const std::string& bytes) {
  std::filesystem::create_directories(dir + "/" + target);
  std::ofstream(dir + "/" + target + "/" + name, std::ios::binary) << bytes;
}

// The file targets read one byte of flags before the file; 0 takes the file
// as it is.
std::string AsIs(const std::string& file) {
  return std::string(1, '\0') + file;
}

// A segment of three batches, the second with a tenant.
std::string Segment() {
  using namespace sluice::log;
  std::string seg = EncodeSegmentHeader(100, 1'700'000'000'000'000'000);
  BatchHeader h;
  h.base_offset = 100;
  h.item_count = 2;
  h.min_event_unix_nanos = 1;
  h.max_event_unix_nanos = 2;
  h.append_unix_nanos = 3;
  h.pipelines = {PipelineId("traces")};
  EncodeFrame(h, "", "first payload", &seg);
  h.base_offset = 102;
  h.signal = Signal::kMetrics;
  h.encoding = Encoding::kPromRemoteWriteProto;
  EncodeFrame(h, "tenant-a", std::string(300, 'p'), &seg);
  h.base_offset = 104;
  h.signal = Signal::kLogs;
  EncodeFrame(h, "", "third", &seg);
  return seg;
}

// A state file with cursors, a deleted key and one that expired.
std::string StateFileBytes() {
  sluice::io::MemoryFileSystem fs;
  sluice::ManualClock clock;
  sluice::telemetry::Registry registry;
  sluice::log::StateFile::Options o;
  o.path = "/state";
  auto f = sluice::log::StateFile::Open(o, fs, clock, registry);
  if (!f.ok()) return "";
  using Sync = sluice::log::StateFile::Sync;
  (void)(*f)->Put("cursor/otlphttp", std::string(24, '\x01'), Sync::kNo);
  (void)(*f)->Put("cursor/kafka", std::string(24, '\x02'), Sync::kNo);
  (void)(*f)->Put("gone", "soon", Sync::kNo);
  (void)(*f)->Delete("gone", Sync::kNo);
  (void)(*f)->Put("expired", "x", Sync::kNo, clock.NowUnixNanos() - 1);
  f->reset();
  return *fs.Contents("/state");
}

// A dead-letter entry as Put writes it (version 2).
std::string DeadLetterBytes() {
  sluice::io::MemoryFileSystem fs;
  auto q = sluice::exporters::DeadLetterQueue::Open(fs, "/dlq", "e", 1 << 20, nullptr);
  if (!q.ok()) return "";
  sluice::pipeline::OutboundRequest r;
  r.signal = sluice::log::Signal::kTraces;
  r.route = "/v1/traces";
  r.tenant = "tenant-a";
  r.body = sluice::testing::MakeTraceRequest(1, 2, 1).SerializeAsString();
  r.items = 2;
  if (!(*q)->Put(r, "HTTP 400: bad span", 1'700'000'000'000'000'000).ok()) return "";
  return *fs.Contents("/dlq/00000000000000000001.dlq");
}

// The same entry in version 1, which had no tenant: the v2 header without
// tenant_len, magic "SLDLQ001", checksum left to the fuzzer's flag.
std::string DeadLetterV1Bytes(const std::string& v2) {
  constexpr size_t kHeaderV1 = 8 + 4 + 8 + 1 + 8 + 4 + 4 + 8;
  if (v2.size() < kHeaderV1 + 4) return "";
  uint32_t tenant_len = 0;
  for (int i = 0; i < 4; ++i)
    tenant_len |= static_cast<uint32_t>(uint8_t(v2[kHeaderV1 + i])) << (8 * i);
  std::string v1 = "SLDLQ001" + v2.substr(8, kHeaderV1 - 8);
  uint32_t route_len = 0;
  uint32_t reason_len = 0;
  for (int i = 0; i < 4; ++i) {
    route_len |= static_cast<uint32_t>(uint8_t(v2[29 + i])) << (8 * i);
    reason_len |= static_cast<uint32_t>(uint8_t(v2[33 + i])) << (8 * i);
  }
  size_t strings = kHeaderV1 + 4;
  v1 += v2.substr(strings, route_len + reason_len);
  v1 += v2.substr(strings + route_len + reason_len + tenant_len);
  return v1;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  std::string dir = argv[1];
  using namespace sluice::testing;
  auto traces = MakeTraceRequest(2, 3, 1);
  auto* span = traces.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans(0);
  span->add_events()->set_name("event");
  span->add_links()->set_trace_id(std::string(16, '\x01'));
  Write(dir, "otlp_traces_fuzz", "valid", traces.SerializeAsString());
  Write(dir, "otlp_metrics_fuzz", "valid", MakeMetricsRequest(3, 1).SerializeAsString());
  {
    // Every point kind, two points of each at one time: what folding merges.
    namespace m = otlp_pb::metrics::v1;
    otlp_pb::collector::metrics::v1::ExportMetricsServiceRequest req;
    auto* metrics = req.add_resource_metrics()->add_scope_metrics();
    for (int i = 0; i < 2; ++i) {
      m::ExponentialHistogramDataPoint* e =
          (i == 0 ? metrics->add_metrics() : metrics->mutable_metrics(0))
              ->mutable_exponential_histogram()
              ->add_data_points();
      e->set_time_unix_nano(9);
      e->set_scale(3 - i);
      e->set_count(2);
      e->set_zero_count(1);
      e->mutable_positive()->set_offset(-4 + i);
      e->mutable_positive()->add_bucket_counts(1);
      e->mutable_negative()->add_bucket_counts(0);
    }
    auto* summary = metrics->add_metrics()->mutable_summary();
    auto* gauge = metrics->add_metrics()->mutable_gauge();
    for (int i = 0; i < 2; ++i) {
      auto* s = summary->add_data_points();
      s->set_time_unix_nano(9);
      s->set_count(3);
      s->set_sum(1.5);
      s->add_quantile_values()->set_quantile(0.5);
      auto* g = gauge->add_data_points();
      g->set_time_unix_nano(9);
      if (i == 0) g->set_as_int(4);
      if (i == 1) g->set_as_double(0.25);
    }
    Write(dir, "otlp_metrics_fuzz", "every_kind", req.SerializeAsString());
  }
  Write(dir, "otlp_logs_fuzz", "valid", MakeLogsRequest(3, 1).SerializeAsString());
  Write(dir, "otlp_json_fuzz", "traces",
        R"({"resourceSpans":[{"resource":{"attributes":[{"key":"a","value":{"arrayValue":)"
        R"({"values":[{"intValue":"1"},{"kvlistValue":{"values":[{"key":"b","value":)"
        R"({"bytesValue":"aGk="}}]}}]}}}]},"scopeSpans":[{"spans":[{"traceId":)"
        R"("5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"n",)"
        R"("startTimeUnixNano":"1","status":{"code":2}}]}]}]})");
  Write(dir, "otlp_json_fuzz", "metrics",
        R"({"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"h","histogram":)"
        R"({"dataPoints":[{"count":"3","bucketCounts":["1","2"],"explicitBounds":[0.5]}]}},)"
        R"({"name":"e","exponentialHistogram":{"dataPoints":[{"scale":-2,"positive":)"
        R"({"offset":1,"bucketCounts":["4"]}}]}}]}]}]})");
  Write(dir, "otlp_json_fuzz", "logs",
        R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"5",)"
        R"("body":{"stringValue":"x"},"spanId":"eee19b7ec3c1b174"}]}]}]})");
  std::string write = MakeWriteRequest(3, 2, 1).SerializeAsString();
  Write(dir, "remote_write_fuzz", "plain", write);
  Write(dir, "remote_write_fuzz", "snappy",
        sluice::wire::Compress(sluice::wire::Compression::kSnappyBlock, write));
  auto v1 = MakeWriteRequest(3, 2, 1);
  auto* ex = v1.mutable_timeseries(0)->add_exemplars();
  auto* label = ex->add_labels();
  label->set_name("trace_id");
  label->set_value("4bf92f3577b34da6a3ce929d0e0e4736");
  ex->set_value(1);
  auto* histogram = v1.mutable_timeseries(2);
  histogram->clear_samples();
  auto* h = histogram->add_histograms();
  h->set_count_int(3);
  h->set_schema(2);
  h->add_positive_spans()->set_length(2);
  h->add_positive_deltas(1);
  h->add_positive_deltas(1);
  h->set_timestamp(1'700'000'001'000);
  auto v2 = ToRemoteWriteV2(v1);
  v2.mutable_timeseries(1)->mutable_metadata()->set_type(
      ::io::prometheus::write::v2::Metadata::METRIC_TYPE_COUNTER);
  std::string write_v2 = v2.SerializeAsString();
  Write(dir, "remote_write_v2_fuzz", "plain", write_v2);
  Write(dir, "remote_write_v2_fuzz", "snappy",
        sluice::wire::Compress(sluice::wire::Compression::kSnappyBlock, write_v2));
  {
    // A streamed remote read answer of two frames (a series over two
    // chunks, another over one), and one sampled answer; two bytes of
    // flags first.
    namespace prom = sluice::wire::prom;
    std::vector<prom::Sample> samples;
    for (int i = 0; i < 40; ++i) samples.push_back({1'700'000'000'000 + i * 15'000, i * 0.5});
    std::string first, second;
    prom::EncodeXorChunk(std::span(samples).first(20), &first);
    prom::EncodeXorChunk(std::span(samples).subspan(20), &second);
    const prom::LabelView a[] = {{"__name__", "up"}, {"job", "api"}};
    const prom::LabelView b[] = {{"__name__", "up"}, {"job", "db"}};
    const prom::ChunkView two[] = {
        {samples[0].timestamp_ms, samples[19].timestamp_ms, prom::ChunkEncoding::kXor, first},
        {samples[20].timestamp_ms, samples[39].timestamp_ms, prom::ChunkEncoding::kXor, second}};
    std::string m1, m2, body;
    prom::EncodeChunkedReadResponse(a, two, 0, &m1);
    prom::EncodeChunkedReadResponse(b, std::span(two).first(1), 0, &m2);
    prom::AppendChunkedReadFrame(m1, &body);
    prom::AppendChunkedReadFrame(m2, &body);
    Write(dir, "remote_read_fuzz", "streamed", std::string("\x07\x00", 2) + body);
    Write(dir, "remote_read_fuzz", "streamed_small_limit", std::string("\x07\x02", 2) + body);
    Write(dir, "remote_read_fuzz", "xor_chunk", std::string("\x07\x00", 2) + first);
    std::string series = MakeWriteRequest(2, 3, 1).timeseries(0).SerializeAsString();
    std::string result, response;
    sluice::wire::ProtoWriter(&result).Bytes(1, series);
    sluice::wire::ProtoWriter(&response).Bytes(1, result);
    Write(dir, "remote_read_fuzz", "sampled", std::string("\x07\x00", 2) + response);
  }
  for (auto [name, c] : {std::pair{"gzip", sluice::wire::Compression::kGzip},
                         std::pair{"zstd", sluice::wire::Compression::kZstd},
                         std::pair{"snappy", sluice::wire::Compression::kSnappyBlock}}) {
    Write(dir, "decompress_fuzz", name, sluice::wire::Compress(c, traces.SerializeAsString()));
  }

  std::string segment = Segment();
  Write(dir, "log_scan_fuzz", "segment", AsIs(segment));
  std::string damaged = segment;
  damaged[sluice::log::kSegmentHeaderSize + sluice::log::kFrameHeaderSize + 2] ^= 0x40;
  Write(dir, "log_scan_fuzz", "damaged_first_batch", AsIs(damaged));
  Write(dir, "log_scan_fuzz", "torn_tail", AsIs(segment.substr(0, segment.size() - 3)));
  // Flag bit 0: the fuzz target mends the checksums the damage broke.
  Write(dir, "log_scan_fuzz", "checksums_mended", std::string(1, '\x01') + damaged);
  std::string state = StateFileBytes();
  Write(dir, "state_file_fuzz", "state", AsIs(state));
  Write(dir, "state_file_fuzz", "torn_record", AsIs(state.substr(0, state.size() - 5)));
  Write(dir, "state_file_fuzz", "compacted", std::string(1, '\x02') + state);
  std::string entry = DeadLetterBytes();
  Write(dir, "dead_letter_fuzz", "entry", AsIs(entry));
  Write(dir, "dead_letter_fuzz", "entry_v1", std::string(1, '\x01') + DeadLetterV1Bytes(entry));
  Write(dir, "dead_letter_fuzz", "two_entries_tmp_and_bound", std::string(1, '\x0e') + entry);
  return 0;
}
