#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace sluice::wire::otlp {

// What a receiver learns from an OTLP export request before storing it.
// All three signals nest the same way:
//   request.1 → Resource{Spans,Metrics,Logs}
//     .2 → Scope{Spans,Metrics,Logs}
//       .2 → leaf: Span, Metric or LogRecord
// A leaf that fails validation is marked, not fatal, so the rest of the
// request can be kept (OTLP partial success).
struct Inspection {
  uint64_t items = 0;           // spans, metric data points or log records
  uint64_t rejected_items = 0;  // of those, in invalid leaves
  uint64_t leaves = 0;
  uint64_t rejected_leaves = 0;
  int64_t min_time_unix_nano = 0;  // over valid items; 0 when none
  int64_t max_time_unix_nano = 0;
  std::string first_error;    // the first leaf problem, e.g. "span 3: span_id must be 8 bytes"
  std::vector<bool> leaf_ok;  // per leaf, in wire order
};

// Each returns InvalidArgument when the request's structure above the leaves
// is malformed (nothing can be kept); leaf problems go into *out.
Status InspectTraces(std::string_view request, Inspection* out);
Status InspectLogs(std::string_view request, Inspection* out);
Status InspectMetrics(std::string_view request, Inspection* out);

// Calls fn(resource, scope, leaf) for every leaf of a request the inspection
// accepted, in wire order (the order of Inspection::leaf_ok, which
// FilterRequest takes), with the encoded Resource and InstrumentationScope
// of its containers ("" when absent). Stops at the first error fn returns.
Status ForEachLeaf(std::string_view request,
                   const std::function<Status(std::string_view resource, std::string_view scope,
                                              std::string_view leaf)>& fn);

// Re-encodes a request keeping only the leaves marked ok (containers left
// without leaves are dropped). Everything kept is copied byte for byte.
std::string FilterRequest(std::string_view request, const std::vector<bool>& leaf_ok);

// Export{Trace,Metrics,Logs}ServiceResponse with partial_success set (the
// three share one layout: partial_success = 1 { rejected = 1, message = 2 }).
// Empty when nothing was rejected.
std::string EncodePartialSuccess(uint64_t rejected, std::string_view message);

}  // namespace sluice::wire::otlp
