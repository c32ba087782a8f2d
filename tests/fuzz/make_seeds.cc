// Writes the seed inputs in tests/fuzz/seeds/: valid requests of every kind,
// built with the protobuf library, so fuzzing starts from inputs that reach
// deep into each decoder. Usage: fuzz_make_seeds <tests/fuzz/seeds>
#include <filesystem>
#include <fstream>
#include <string>

#include "support/otlp_builders.h"
#include "wire/compression.h"

namespace {
void Write(const std::string& dir, const std::string& target, const std::string& name,
           const std::string& bytes) {
  std::filesystem::create_directories(dir + "/" + target);
  std::ofstream(dir + "/" + target + "/" + name, std::ios::binary) << bytes;
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
  for (auto [name, c] : {std::pair{"gzip", sluice::wire::Compression::kGzip},
                         std::pair{"zstd", sluice::wire::Compression::kZstd},
                         std::pair{"snappy", sluice::wire::Compression::kSnappyBlock}}) {
    Write(dir, "decompress_fuzz", name, sluice::wire::Compress(c, traces.SerializeAsString()));
  }
  return 0;
}
