#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "exporters/common/delivery.h"
#include "exporters/common/destination.h"
#include "exporters/prometheusremotewrite/batch_series.h"
#include "exporters/prometheusremotewrite/translate.h"
#include "pipeline/component.h"

namespace sluice::exporters::prw {

struct RemoteWriteOptions {
  std::string endpoint;  // http://host:port/api/v1/write
  std::vector<std::pair<std::string, std::string>> headers;
  std::string tenant_header = kDefaultTenantHeader;
  net::TlsClientOptions tls;  // for https:// endpoints
  std::vector<std::pair<std::string, std::string>> external_labels;
  std::chrono::nanoseconds timeout = std::chrono::seconds(30);
  int64_t max_series_per_request = 500;
  bool add_metric_suffixes = true;
  bool send_target_info = true;
  bool add_scope_labels = true;
  struct ResourceToTelemetry {
    bool enabled = false;
  } resource_to_telemetry_conversion;
  RetryOptions retry_on_failure;
  QueueOptions sending_queue;  // num_consumers is the number of shards
  DeadLetterOptions dead_letter;
  log::StartAt start_at = log::StartAt::kOldest;
};

const config::Schema<RemoteWriteOptions>& RemoteWriteOptionsSchema();

// unsupported_items: wrong signal, or a request that failed to decode;
// dropped_points: OTLP points with no remote write form.
using RemoteWriteCounters = BatchCounters;

// Routes every series of a batch (OTLP metrics translated, remote write
// passed through) to the shard of its label-set hash, and emits a shard's
// WriteRequest once it holds max_series series or kMaxRequestBytes (series
// of many samples each, as a backfill sends, make requests of bounded
// size, and the encoder's memory stays bounded by shards × that). Requests
// carry the shard, so one worker sends each shard's requests in order.
class RemoteWriteEncoder final : public RequestEncoder, private SeriesSink {
 public:
  // `exporter_id` names the exporter in the log lines about batches skipped.
  RemoteWriteEncoder(std::unique_ptr<Translator> translator, size_t shards, size_t max_series,
                     RemoteWriteCounters counters, std::string exporter_id = {});
  void Add(const log::LogReader::Batch& batch, uint64_t record, const EmitFn& emit) override;
  void Flush(const EmitFn& emit) override;
  std::optional<uint64_t> OldestHeld() const override;

  static constexpr size_t kMaxRequestBytes = 256 << 10;  // uncompressed

 private:
  struct Shard {
    WriteRequestBuilder builder;
    uint64_t samples = 0;
    uint64_t first_record = 0;
  };
  void Series(uint64_t label_hash, std::string_view timeseries, uint64_t samples) override;
  void EmitShard(size_t i);

  MetricsBatchReader reader_;
  const size_t max_series_;
  std::vector<Shard> shards_;
  // Set for the duration of Add/Flush.
  const EmitFn* emit_ = nullptr;
  uint64_t record_ = 0;
};

// POSTs snappy-compressed WriteRequests with the remote write 1.0 headers.
class RemoteWriteSender final : public pipeline::Sender {
 public:
  explicit RemoteWriteSender(const RemoteWriteOptions& options);
  pipeline::SendResult Send(const pipeline::OutboundRequest& request) override;

 private:
  // A copy: a sender may outlive the options it was made from (a factory's
  // captured copy, a parsed configuration), whatever order owners declare
  // them in.
  const RemoteWriteOptions options_;
  std::unique_ptr<net::HttpClient> client_;
  std::string path_;
  std::string compressed_;
};

pipeline::ComponentType RemoteWriteExporterType();

}  // namespace sluice::exporters::prw
