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
  for (auto [name, c] : {std::pair{"gzip", sluice::wire::Compression::kGzip},
                         std::pair{"zstd", sluice::wire::Compression::kZstd},
                         std::pair{"snappy", sluice::wire::Compression::kSnappyBlock}}) {
    Write(dir, "decompress_fuzz", name, sluice::wire::Compress(c, traces.SerializeAsString()));
  }
  return 0;
}
