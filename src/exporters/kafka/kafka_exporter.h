#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "exporters/common/delivery.h"
#include "log/format.h"
#include "pipeline/component.h"

namespace sluice::exporters::kafka {

// How messages are keyed (and so spread over partitions).
enum class PartitionBy {
  kNone,     // one message per stored batch, without a key
  kTraceId,  // traces: one message per trace, keyed by its 16-byte id
  kService,  // one message per service.name, keyed by it
};

// Broker acknowledgements a message needs before it counts as delivered.
enum class Acks {
  kNone,    // "0": none; a broker failure loses what was in flight
  kLeader,  // "1": the partition leader wrote it
  kAll,     // "all" / "-1": every in-sync replica; enables the idempotent producer
};

enum class Compression { kNone, kGzip, kSnappy, kLz4, kZstd };

// The topic defaults follow the OpenTelemetry Collector's kafka exporter.
constexpr std::string_view DefaultTopic(log::Signal signal) {
  switch (signal) {
    case log::Signal::kTraces:
      return "otlp_spans";
    case log::Signal::kMetrics:
      return "otlp_metrics";
    case log::Signal::kLogs:
      return "otlp_logs";
  }
  return "";
}

// Per-signal settings; one type per signal so each documents its own default.
template <log::Signal S>
struct SignalOptions {
  std::string topic{DefaultTopic(S)};
};

struct KafkaOptions {
  std::vector<std::string> brokers{"localhost:9092"};
  std::string client_id = "sluice";
  SignalOptions<log::Signal::kTraces> traces;
  SignalOptions<log::Signal::kMetrics> metrics;
  SignalOptions<log::Signal::kLogs> logs;
  PartitionBy partition_by = PartitionBy::kNone;
  Acks acks = Acks::kAll;
  Compression compression = Compression::kNone;
  // How long the producer keeps trying one message (librdkafka's
  // message.timeout.ms) before reporting it failed; the exporter then sends
  // it again, so this bounds one attempt, not the delivery.
  std::chrono::nanoseconds timeout = std::chrono::seconds(10);
  uint64_t max_message_bytes = 1'000'000;
  std::chrono::nanoseconds connection_max_lifetime = std::chrono::minutes(30);
  DeadLetterOptions dead_letter;
  log::StartAt start_at = log::StartAt::kOldest;
};

const config::Schema<KafkaOptions>& KafkaOptionsSchema();

// The librdkafka configuration properties the options translate to, in the
// order they are set.
std::vector<std::pair<std::string, std::string>> ProducerProperties(const KafkaOptions& options);

// One Kafka message's worth of an export request.
struct KeyedRequest {
  std::string key;      // empty: the message has no key
  std::string request;  // a complete Export{Trace,Metrics,Logs}ServiceRequest
};

// Splits an ExportTraceServiceRequest into one request per trace id, in the
// order each trace first appears. Every part keeps the resource and scope of
// its spans (all their fields but the span lists, copied byte for byte); the
// spans themselves are copied unchanged, none decoded beyond its trace id.
// Resources and scopes without spans are dropped. InvalidArgument when the
// request does not parse.
Status SplitByTraceId(std::string_view request, std::vector<KeyedRequest>* out);

// Splits an Export{Trace,Metrics,Logs}ServiceRequest (all three hold
// Resource{Spans,Metrics,Logs} at field 1 with the Resource at field 1) into
// one request per distinct `service.name` resource attribute, keyed by it;
// resources without one form a part with an empty key. InvalidArgument when
// the request does not parse.
Status SplitByService(std::string_view request, std::vector<KeyedRequest>* out);

// The `kafka` exporter type's registration record.
//
// Each stored OTLP batch becomes one or more Kafka messages holding
// Export{Trace,Metrics,Logs}ServiceRequest protobuf, produced asynchronously
// by one librdkafka producer. Delivery is at least once: the exporter's
// cursor is committed only after every message produced before it was
// acknowledged (or dead-lettered as undeliverable), and messages whose
// delivery failed are kept and sent again. Threads: the LogConsumer thread
// plus librdkafka's own.
pipeline::ComponentType KafkaExporterType();

}  // namespace sluice::exporters::kafka
