#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"
#include "log/log.h"
#include "query/indexer.h"
#include "query/params.h"

namespace sluice::query {

// A trace search (GET /api/v1/traces, docs/api.md). Conditions are on the
// trace: a trace matches when some span of it is of `service` (and
// `operation`), each attribute pair is on some span (or its resource), it
// has a failed span when `errors_only`, its duration lies within the bounds,
// and it started within [start, end].
struct TraceQuery {
  std::string service;
  std::string operation;
  std::vector<std::pair<std::string, std::string>> attributes;
  int64_t min_duration_nanos = 0;
  int64_t max_duration_nanos = std::numeric_limits<int64_t>::max();
  bool errors_only = false;
  int64_t start_unix_nano = 0;
  int64_t end_unix_nano = std::numeric_limits<int64_t>::max();
  size_t limit = 20;
  enum class Order { kNewest, kSlowest } order = Order::kNewest;
  TenantScope scope;  // set by the caller from the request
};

// From the URL query's pairs; `now` sets the default range (the last hour).
// InvalidArgument saying which parameter is wrong.
Result<TraceQuery> ParseTraceQuery(const std::vector<std::pair<std::string, std::string>>& params,
                                   int64_t now_unix_nano);

struct TraceSummary {
  std::string trace_id;                 // 16 bytes
  std::string root_service, root_name;  // empty when the root span was not read
  int64_t start_unix_nano = std::numeric_limits<int64_t>::max();
  int64_t end_unix_nano = std::numeric_limits<int64_t>::min();
  uint64_t spans = 0;
  uint64_t errors = 0;
  std::vector<std::string> services;  // in the order first seen
};

struct SearchResult {
  std::vector<TraceSummary> traces;
  // The search stopped at its budget before it had read every segment that
  // could hold a match: there may be more, or better, results.
  bool partial = false;
  uint64_t scanned_bytes = 0;
  uint64_t segments_read = 0;
};

// Reads the traces batches of the segments the index allows (newest
// first), at most `max_scan_bytes` of them (every pass counted) and
// `max_traces` traces in memory at once. Newest-first searches stop once a
// segment completes `limit` matches. Summaries count the spans read, in the
// range searched.
//
// With a service condition each segment is read twice: first the
// service's resources alone, for the traces with a span of it (and of the
// operation); then every span, but only those traces' spans are decoded.
// A trace first met in an older segment gets its spans in the newer
// segments already read from the blocks whose trace id filter passes it,
// so a trace is summarized from all its spans in the segments read,
// whichever segment holds the service's span.
Result<SearchResult> SearchTraces(log::Log& log, const Indexer& index, const TraceQuery& query,
                                  uint64_t max_scan_bytes, size_t max_traces);

// {"traces": [...], "partial": bool, "scannedBytes": "...", "segmentsRead": n}
std::string RenderSearch(const SearchResult& result);

}  // namespace sluice::query
