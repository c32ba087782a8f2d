// Any bytes as OTLP/JSON for each signal: transcoding must not crash, and
// what it produces must be protobuf our walkers can read.
#include <cstdint>
#include <string>

#include "wire/otlp/inspect.h"
#include "wire/otlp/json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string proto;
  sluice::wire::otlp::Inspection ins;
  if (sluice::wire::otlp::TracesJsonToProto(in, &proto).ok()) {
    (void)sluice::wire::otlp::InspectTraces(proto, &ins);
  }
  if (sluice::wire::otlp::MetricsJsonToProto(in, &proto).ok()) {
    (void)sluice::wire::otlp::InspectMetrics(proto, &ins);
  }
  if (sluice::wire::otlp::LogsJsonToProto(in, &proto).ok()) {
    (void)sluice::wire::otlp::InspectLogs(proto, &ins);
  }
  return 0;
}
