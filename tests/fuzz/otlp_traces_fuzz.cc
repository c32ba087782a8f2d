// Any bytes as an OTLP trace export: inspection, filtering, the exporter's
// walk and JSON rendering must neither crash nor read out of bounds,
// whatever the filter keeps must inspect clean, and what renders as an
// OTLP/JSON request must round-trip through the JSON transcoder.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "otlp_json_round_trip.h"
#include "wire/otlp/inspect.h"
#include "wire/otlp/json.h"
#include "wire/otlp/traces.h"

namespace {
class Render final : public sluice::wire::otlp::TracesVisitor {
 public:
  void OnResourceSpans(std::string_view r, std::string_view) override { resource = r; }
  void OnScopeSpans(std::string_view s, std::string_view) override { scope = s; }
  void OnSpan(const sluice::wire::otlp::SpanView& span) override {
    out.clear();
    sluice::wire::otlp::AppendSpanJson(out, resource, scope, span);
  }
  std::string_view resource, scope;
  std::string out;
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  sluice::fuzz::CheckJsonRoundTrip(in, sluice::wire::otlp::AppendTracesRequestJson,
                                   sluice::wire::otlp::TracesJsonToProto, /*must_render=*/false);
  sluice::wire::otlp::Inspection ins;
  if (!sluice::wire::otlp::InspectTraces(in, &ins).ok()) return 0;
  std::string kept = sluice::wire::otlp::FilterRequest(in, ins.leaf_ok);
  sluice::wire::otlp::Inspection again;
  if (!sluice::wire::otlp::InspectTraces(kept, &again).ok() || again.rejected_leaves != 0) {
    std::abort();  // the filter must keep only valid spans
  }
  Render render;
  sluice::wire::otlp::TracesSummary summary;
  if (!sluice::wire::otlp::WalkTraces(kept, &render, &summary).ok()) std::abort();
  return 0;
}
