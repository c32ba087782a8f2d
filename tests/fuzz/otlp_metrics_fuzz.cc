// Any bytes as an OTLP metrics export: inspection, filtering, OTLP/JSON
// rendering and folding into overflow series (the cardinality_limit
// processor's FoldPoints) must neither crash nor read out of bounds, what
// the filter keeps and what folding makes of it must inspect clean, and
// what renders must round-trip through the JSON transcoder.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "otlp_json_round_trip.h"
#include "processors/cardinality/fold.h"
#include "wire/otlp/edit.h"
#include "wire/otlp/inspect.h"
#include "wire/otlp/json.h"
#include "wire/otlp/metrics.h"
#include "wire/proto_reader.h"
#include "wire/proto_writer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  sluice::fuzz::CheckJsonRoundTrip(in, sluice::wire::otlp::AppendMetricsRequestJson,
                                   sluice::wire::otlp::MetricsJsonToProto, /*must_render=*/false);
  sluice::wire::otlp::Inspection ins;
  if (!sluice::wire::otlp::InspectMetrics(in, &ins).ok()) return 0;
  std::string kept = sluice::wire::otlp::FilterRequest(in, ins.leaf_ok);
  sluice::wire::otlp::Inspection again;
  if (!sluice::wire::otlp::InspectMetrics(kept, &again).ok() || again.rejected_leaves != 0) {
    std::abort();
  }
  return 0;
}
