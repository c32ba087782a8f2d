// Any bytes as an OTLP metrics export: inspection and filtering must neither
// crash nor read out of bounds, and what the filter keeps must inspect clean.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "wire/otlp/inspect.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  sluice::wire::otlp::Inspection ins;
  if (!sluice::wire::otlp::InspectMetrics(in, &ins).ok()) return 0;
  std::string kept = sluice::wire::otlp::FilterRequest(in, ins.leaf_ok);
  sluice::wire::otlp::Inspection again;
  if (!sluice::wire::otlp::InspectMetrics(kept, &again).ok() || again.rejected_leaves != 0) {
    std::abort();
  }
  return 0;
}
