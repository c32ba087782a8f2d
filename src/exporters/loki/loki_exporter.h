#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "exporters/common/delivery.h"
#include "exporters/common/destination.h"
#include "pipeline/component.h"

namespace sluice::exporters::loki {

enum class LineFormat { kJson, kRaw };
// How push requests are encoded: Loki's JSON, or its protobuf PushRequest
// compressed with snappy (what Loki's own clients send).
enum class PushEncoding { kJson, kProtobuf };

struct LokiOptions {
  std::string endpoint;  // http://loki:3100/loki/api/v1/push
  std::vector<std::pair<std::string, std::string>> headers;
  std::string tenant_header = kDefaultTenantHeader;
  net::TlsClientOptions tls;  // for an https:// endpoint
  // Attribute key → Loki label name, from the resource and from each record.
  std::vector<std::pair<std::string, std::string>> resource_labels = {
      {"service.name", "service_name"}};
  std::vector<std::pair<std::string, std::string>> attribute_labels;
  // Adds `level` from the record's severity text (or number) when set.
  bool severity_label = false;
  LineFormat format = LineFormat::kJson;
  PushEncoding encoding = PushEncoding::kJson;
  bool gzip = true;
  std::chrono::nanoseconds timeout = std::chrono::seconds(30);
  uint64_t max_request_bytes = 1ull << 20;
  RetryOptions retry_on_failure;
  QueueOptions sending_queue;  // num_consumers is the number of shards
  DeadLetterOptions dead_letter;
  log::StartAt start_at = log::StartAt::kOldest;
};

const config::Schema<LokiOptions>& LokiOptionsSchema();

// Groups OTLP log records into Loki streams by their labels and renders push
// requests (JSON, or a protobuf PushRequest) with each stream's entries in
// timestamp order. A stream always goes to the same shard, so one worker
// sends its entries in order.
class LokiEncoder final : public RequestEncoder {
 public:
  LokiEncoder(const LokiOptions& options, size_t shards, telemetry::Counter& unsupported_items);
  void Add(const log::LogReader::Batch& batch, uint64_t record, const EmitFn& emit) override;
  void Flush(const EmitFn& emit) override;
  std::optional<uint64_t> OldestHeld() const override;

 private:
  struct Entry {
    int64_t unix_nanos;
    std::string line;
  };
  struct Shard {
    // Label set (a JSON object, or a LogQL selector for protobuf) → entries.
    std::map<std::string, std::vector<Entry>> streams;
    uint64_t bytes = 0;
    uint64_t items = 0;
    uint64_t first_record = 0;
  };
  void EmitShard(size_t i, const EmitFn& emit);
  static void RenderJson(Shard& shard, std::string* body);
  static void RenderProtobuf(Shard& shard, std::string* body);
  // Renders the label set of one record (sorted keys) as a JSON object, or
  // for protobuf as a LogQL selector: {a="x", b="y"}.
  void StreamKey(std::string_view resource, std::string_view record, std::string* out);
  void Line(std::string_view resource, std::string_view scope, std::string_view record,
            std::string* out);

  const LokiOptions options_;
  telemetry::Counter& unsupported_items_;
  std::vector<Shard> shards_;
  std::vector<std::pair<std::string, std::string>> labels_;  // scratch
};

pipeline::ComponentType LokiExporterType();

}  // namespace sluice::exporters::loki
