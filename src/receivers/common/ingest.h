#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "net/http_server.h"
#include "pipeline/component.h"

namespace sluice::receivers {

std::string Lower(std::string_view s);
// Media type without parameters, lower-cased: "application/x-protobuf".
std::string MediaType(std::string_view content_type);
// The value of a media type parameter ("proto" in "...; proto=x"), or "".
std::string MediaTypeParameter(std::string_view content_type, std::string_view name);

// Compares without an early exit, so the time taken does not reveal how much
// of a guessed token was right.
bool ConstantTimeEquals(std::string_view a, std::string_view b);
// True when no token is configured or the request carries
// "Authorization: Bearer <token>".
bool Authorized(const net::HttpRequest& request, const std::string& bearer_token);

// sluice_receiver_{accepted,refused,failed}_<item>_total for one receiver and
// one kind of item ("spans", "metric_points", "log_records", "samples").
struct IngestCounters {
  IngestCounters(telemetry::Registry& r, const std::string& receiver, const std::string& item);
  void Refused(const char* reason, uint64_t n) { refused.With({receiver, reason}).Inc(n); }
  void Failed(const char* reason, uint64_t n) { failed.With({receiver, reason}).Inc(n); }

  telemetry::Counter& accepted;
  telemetry::CounterFamily& refused;
  telemetry::CounterFamily& failed;
  std::string receiver;
};

// One validated request body on its way into the log.
struct Batch {
  log::Signal signal = log::Signal::kTraces;
  log::Encoding encoding = log::Encoding::kOtlpProto;
  std::string tenant;
  uint64_t items = 0;
  int64_t min_time_unix_nano = 0;
  int64_t max_time_unix_nano = 0;
  std::string payload;
};

// Runs each pipeline's processors over `batch`, then appends each version of
// it to the log once, naming every pipeline it goes to, holding its bytes
// against the memory limiter until the append has completed, then calls
// `done` once (on the log's writer thread) with the first error or Ok.
// Counts accepted or failed items. Returns false without calling `done` when
// the limiter refuses (the caller answers 503); nothing is appended then.
// A processor's error is passed to `done` at once as InvalidArgument (the
// caller answers 400), and nothing is appended.
// Precondition (checked): `pipelines` is not empty.
bool Store(pipeline::Runtime& rt, const std::vector<pipeline::PipelineRef>& pipelines,
           IngestCounters& counters, Batch batch, std::function<void(Status)> done);

// Stores one remote write request (prometheus.WriteRequest, uncompressed)
// of `items` samples between min_ms and max_ms, made by a receiver that
// pulls (a scrape, a SQL tick): nobody waits for it, and when the memory
// limiter refuses it Store counts its samples as refused (the next pull
// stores its own). Empty payloads are not stored.
void StorePulled(pipeline::Runtime& rt, const std::vector<pipeline::PipelineRef>& pipelines,
                 IngestCounters& counters, std::string payload, uint64_t items, int64_t min_ms,
                 int64_t max_ms);

// 503 with Retry-After and a plain-text reason.
net::HttpResponse RetryLaterText(const std::string& reason);

}  // namespace sluice::receivers
