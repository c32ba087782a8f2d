#include "receivers/otlp/ingest.h"

#include "wire/otlp/json.h"

namespace sluice::receivers::otlp {

const std::vector<SignalSpec>& Signals() {
  static const std::vector<SignalSpec> signals = {
      {log::Signal::kTraces, "traces", "spans", "ExportTraceServiceRequest",
       "/opentelemetry.proto.collector.trace.v1.TraceService/Export", "rejectedSpans",
       wire::otlp::InspectTraces, wire::otlp::TracesJsonToProto},
      {log::Signal::kMetrics, "metrics", "metric_points", "ExportMetricsServiceRequest",
       "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export", "rejectedDataPoints",
       wire::otlp::InspectMetrics, wire::otlp::MetricsJsonToProto},
      {log::Signal::kLogs, "logs", "log_records", "ExportLogsServiceRequest",
       "/opentelemetry.proto.collector.logs.v1.LogsService/Export", "rejectedLogRecords",
       wire::otlp::InspectLogs, wire::otlp::LogsJsonToProto},
  };
  return signals;
}

OtlpIngest::OtlpIngest(const std::string& receiver_id,
                       const std::vector<pipeline::PipelineRef>& pipelines, pipeline::Runtime& rt)
    : rt_(rt) {
  for (const SignalSpec& spec : Signals()) {
    Route route{&spec, {}, std::make_unique<IngestCounters>(rt.metrics, receiver_id, spec.item)};
    for (const auto& p : pipelines) {
      if (p.signal == spec.signal) route.pipelines.push_back(p);
    }
    routes_.push_back(std::move(route));
  }
}

OtlpIngest::Route& OtlpIngest::RouteOf(log::Signal signal) {
  for (auto& r : routes_) {
    if (r.spec->signal == signal) return r;
  }
  return routes_.front();
}

bool OtlpIngest::Serves(log::Signal signal) const {
  for (const auto& r : routes_) {
    if (r.spec->signal == signal) return !r.pipelines.empty();
  }
  return false;
}

IngestCounters& OtlpIngest::counters(log::Signal signal) {
  return *RouteOf(signal).counters;
}

void OtlpIngest::Ingest(log::Signal signal, std::string body, std::string tenant,
                        std::function<void(Outcome)> done) {
  Route& route = RouteOf(signal);
  IngestCounters& m = *route.counters;
  if (tenant.size() > log::kMaxTenantSize) {
    m.Refused("invalid", 0);
    return done({Outcome::Kind::kInvalid, "tenant longer than 256 bytes", "", 0});
  }
  wire::otlp::Inspection ins;
  Status st = route.spec->inspect(body, &ins);
  if (!st.ok()) {
    m.Refused("invalid", ins.items);
    return done({Outcome::Kind::kInvalid,
                 std::string("invalid ") + route.spec->request_type + ": " + st.message(), "", 0});
  }
  if (ins.leaves > 0 && ins.rejected_leaves == ins.leaves) {
    m.Refused("invalid", ins.items);
    return done({Outcome::Kind::kInvalid,
                 std::string("invalid ") + route.spec->request_type + ": " + ins.first_error, "",
                 0});
  }
  Outcome stored{Outcome::Kind::kStored, "", "", ins.rejected_items};
  if (ins.rejected_leaves > 0) {
    m.Refused("invalid", ins.rejected_items);
    body = wire::otlp::FilterRequest(body, ins.leaf_ok);
    stored.message = "rejected " + std::to_string(ins.rejected_items) + " " + route.spec->item +
                     "; first: " + ins.first_error;
    stored.body = wire::otlp::EncodePartialSuccess(ins.rejected_items, stored.message);
  }
  Batch batch;
  batch.signal = signal;
  batch.encoding = log::Encoding::kOtlpProto;
  batch.tenant = std::move(tenant);
  batch.items = ins.items - ins.rejected_items;
  batch.min_time_unix_nano = ins.min_time_unix_nano;
  batch.max_time_unix_nano = ins.max_time_unix_nano;
  batch.payload = std::move(body);
  if (batch.items == 0) return done(std::move(stored));
  auto reply = std::make_shared<std::function<void(Outcome)>>(std::move(done));
  bool queued = Store(
      rt_, route.pipelines, m, std::move(batch),
      [reply, stored = std::move(stored)](Status st) mutable {
        if (st.code() == StatusCode::kInvalidArgument) {
          (*reply)({Outcome::Kind::kInvalid, st.message(), "", 0});
        } else if (!st.ok()) {
          (*reply)({Outcome::Kind::kRetry, "cannot store the request now: " + st.message(), "", 0});
        } else {
          (*reply)(std::move(stored));
        }
      });
  if (!queued) {
    (*reply)({Outcome::Kind::kRetry, "too many request bytes in flight; retry later", "", 0});
  }
}

}  // namespace sluice::receivers::otlp
