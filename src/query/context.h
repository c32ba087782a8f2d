#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "log/log.h"
#include "query/indexer.h"
#include "query/params.h"
#include "query/rollups.h"

namespace sluice::query {

struct QueryOptions {
  struct RollupOptions {
    uint64_t max_memory = 64ull << 20;
    std::chrono::nanoseconds retention = std::chrono::hours(24 * 7);
  };
  bool enabled = false;  // the embedded default turns it on
  int64_t max_queued_queries = 64;
  uint64_t max_scan_bytes = 2ull << 30;
  int64_t max_traces_per_search = 200'000;
  int64_t max_tail_clients = 32;
  RollupOptions rollups;
  std::string tenant_header = "X-Scope-OrgID";
  std::string default_tenant;
};

// What a query route answers from: the log, its index and rollups, the
// options, whose data the request may see, and the time it is asked at.
// Valid for the duration of one query, on the query thread.
struct QueryContext {
  log::Log& log;
  const Indexer& index;
  const RollupReader& rollups;
  const QueryOptions& options;
  TenantScope scope;
  int64_t now_unix_nano;
};

}  // namespace sluice::query
