#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "pipeline/component.h"
#include "receivers/common/ingest.h"
#include "wire/otlp/inspect.h"

namespace sluice::receivers::otlp {

// What differs between the three OTLP signals.
struct SignalSpec {
  log::Signal signal;
  const char* name;           // "traces"
  const char* item;           // "spans": metric names and messages
  const char* request_type;   // "ExportTraceServiceRequest"
  const char* grpc_method;    // "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
  const char* json_rejected;  // "rejectedSpans": the partial_success count in OTLP/JSON
  Status (*inspect)(std::string_view, wire::otlp::Inspection*);
  Status (*from_json)(std::string_view, std::string*);
};

// The three signals, in the order traces, metrics, logs.
const std::vector<SignalSpec>& Signals();

// How an export request ended, for the transport to answer.
struct Outcome {
  enum class Kind {
    kStored,   // body: Export*ServiceResponse (partial_success set if items were dropped)
    kInvalid,  // nothing kept; message says why (HTTP 400, gRPC INVALID_ARGUMENT)
    kRetry,    // sluice cannot take it now (HTTP 503, gRPC UNAVAILABLE + RetryInfo)
  };
  Kind kind = Kind::kStored;
  std::string message;  // why (kInvalid, kRetry), or what was dropped (kStored)
  std::string body;
  uint64_t rejected = 0;  // items dropped from a stored request
};

// The transport-independent part of the OTLP receiver: validates a
// decompressed export request, drops invalid items, appends the rest once per
// pipeline of its signal, and reports the outcome. Shared by HTTP and gRPC.
// Thread-safe: Ingest may run concurrently on any thread.
class OtlpIngest {
 public:
  OtlpIngest(const std::string& receiver_id, const std::vector<pipeline::PipelineRef>& pipelines,
             pipeline::Runtime& rt);

  // False when no pipeline of `signal` uses this receiver.
  bool Serves(log::Signal signal) const;
  IngestCounters& counters(log::Signal signal);

  // `done` runs exactly once, possibly on the log's writer thread.
  void Ingest(log::Signal signal, std::string body, std::string tenant,
              std::function<void(Outcome)> done);

 private:
  struct Route {
    const SignalSpec* spec;
    std::vector<pipeline::PipelineRef> pipelines;
    std::unique_ptr<IngestCounters> counters;
  };
  Route& RouteOf(log::Signal signal);

  pipeline::Runtime& rt_;
  std::vector<Route> routes_;
};

}  // namespace sluice::receivers::otlp
