#pragma once

#include <re2/re2.h>

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "log/log.h"
#include "query/indexer.h"
#include "query/params.h"
#include "wire/otlp/common.h"
#include "wire/otlp/walk.h"

namespace sluice::query {

// Where a page of log records ended: records sort newest first by time,
// then segment, then their place in the segment.
struct LogCursor {
  int64_t time_unix_nano = 0;
  uint64_t segment = 0;
  uint64_t ordinal = 0;
};

// A log search (GET /api/v1/logs) or a tail's filter (GET
// /api/v1/logs/tail), docs/api.md.
struct LogQuery {
  int64_t start_unix_nano = 0;
  int64_t end_unix_nano = std::numeric_limits<int64_t>::max();
  std::string service;
  int32_t min_severity = 0;  // SeverityNumber; 0: any
  std::string contains;      // in the body
  std::shared_ptr<const RE2> regex;
  std::vector<std::pair<std::string, std::string>> attributes;
  std::string trace_id;  // 16 bytes, or empty
  size_t limit = 100;
  std::optional<LogCursor> before;
  TenantScope scope;  // set by the caller from the request
};

// From the URL query's pairs; `now` sets the default range (the last hour).
// A tail takes only the filters (no range, limit, paging or trace id).
// InvalidArgument naming the parameter that is wrong.
Result<LogQuery> ParseLogQuery(const std::vector<std::pair<std::string, std::string>>& params,
                               int64_t now_unix_nano, bool tail);

// One stored log record and what it came with, its fields read once.
struct LogRecordRef {
  std::string_view resource;  // encoded Resource
  std::string_view service;
  std::string_view record;     // encoded LogRecord
  int64_t time_unix_nano = 0;  // its time, or its observed time when it has none
  int32_t severity = 0;        // SeverityNumber
  std::string_view severity_text, body, trace_id, span_id;  // body: an encoded AnyValue
};

// Whether a record passes the query's filters (time range, service,
// severity, body, attributes, trace id).
bool LogMatches(const LogQuery& q, const LogRecordRef& r);

// Appends the record as the JSON object docs/api.md shows.
void AppendLogRecordJson(std::string& out, const LogRecordRef& r);

// The record's fields, read in one pass over it.
LogRecordRef ReadLogRecord(std::string_view resource, std::string_view service,
                           std::string_view record);

// Calls fn(const LogRecordRef&) for each record of a stored OTLP logs
// request, with its service. Walked by hand, inline: a scan calls it for
// every record of gigabytes of logs.
template <typename Fn>
void ForEachLogRecord(std::string_view request, Fn&& fn) {
  std::string service;
  wire::otlp::WalkLeaves(
      request,
      [&](std::string_view resource) {
        service = wire::otlp::ServiceName(resource);
        return true;
      },
      [&](std::string_view resource, std::string_view record) {
        fn(ReadLogRecord(resource, service, record));
      });
}

struct LogSearchResult {
  std::string records_json;  // the objects of the page, comma-separated
  size_t count = 0;
  std::optional<LogCursor> next;  // set when more may follow
  bool partial = false;           // stopped at the scan budget
  uint64_t scanned_bytes = 0;
};

// Reads the logs batches of the segments the index allows, newest segment
// first, at most `max_scan_bytes` of them, and keeps the `limit` newest
// records that match (and are older than `before`).
Result<LogSearchResult> SearchLogs(log::Log& log, const Indexer& index, const LogQuery& q,
                                   uint64_t max_scan_bytes);
std::string RenderLogs(const LogSearchResult& result);

}  // namespace sluice::query
