// Any bytes as OTLP/JSON for each signal: transcoding must not crash, what
// it produces must be protobuf our walkers can read, and rendering it back to
// JSON must round-trip.
#include <cstdint>
#include <string>

#include "otlp_json_round_trip.h"
#include "wire/otlp/inspect.h"
#include "wire/otlp/json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string proto;
  sluice::wire::otlp::Inspection ins;
  if (sluice::wire::otlp::TracesJsonToProto(in, &proto).ok()) {
    (void)sluice::wire::otlp::InspectTraces(proto, &ins);
    sluice::fuzz::CheckJsonRoundTrip(proto, sluice::wire::otlp::AppendTracesRequestJson,
                                     sluice::wire::otlp::TracesJsonToProto, /*must_render=*/true);
  }
  if (sluice::wire::otlp::MetricsJsonToProto(in, &proto).ok()) {
    (void)sluice::wire::otlp::InspectMetrics(proto, &ins);
    sluice::fuzz::CheckJsonRoundTrip(proto, sluice::wire::otlp::AppendMetricsRequestJson,
                                     sluice::wire::otlp::MetricsJsonToProto, /*must_render=*/true);
  }
  if (sluice::wire::otlp::LogsJsonToProto(in, &proto).ok()) {
    (void)sluice::wire::otlp::InspectLogs(proto, &ins);
    sluice::fuzz::CheckJsonRoundTrip(proto, sluice::wire::otlp::AppendLogsRequestJson,
                                     sluice::wire::otlp::LogsJsonToProto, /*must_render=*/true);
  }
  return 0;
}
