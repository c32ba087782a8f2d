#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace sluice::wire::otlp {

// Field numbers from opentelemetry/proto/trace/v1/trace.proto and
// collector/trace/v1/trace_service.proto. ExportTraceServiceRequest and
// TracesData share one layout: repeated ResourceSpans = 1.
namespace field {
inline constexpr uint32_t kRequestResourceSpans = 1;
inline constexpr uint32_t kResourceSpansResource = 1;
inline constexpr uint32_t kResourceSpansScopeSpans = 2;
inline constexpr uint32_t kResourceSpansSchemaUrl = 3;
inline constexpr uint32_t kScopeSpansScope = 1;
inline constexpr uint32_t kScopeSpansSpans = 2;
inline constexpr uint32_t kScopeSpansSchemaUrl = 3;
inline constexpr uint32_t kSpanTraceId = 1;
inline constexpr uint32_t kSpanSpanId = 2;
inline constexpr uint32_t kSpanTraceState = 3;
inline constexpr uint32_t kSpanParentSpanId = 4;
inline constexpr uint32_t kSpanName = 5;
inline constexpr uint32_t kSpanKind = 6;
inline constexpr uint32_t kSpanStartTime = 7;
inline constexpr uint32_t kSpanEndTime = 8;
inline constexpr uint32_t kSpanAttributes = 9;
inline constexpr uint32_t kSpanDroppedAttributes = 10;
inline constexpr uint32_t kSpanEvents = 11;
inline constexpr uint32_t kSpanDroppedEvents = 12;
inline constexpr uint32_t kSpanLinks = 13;
inline constexpr uint32_t kSpanDroppedLinks = 14;
inline constexpr uint32_t kSpanStatus = 15;
inline constexpr uint32_t kSpanFlags = 16;
inline constexpr uint32_t kEventTime = 1;
inline constexpr uint32_t kEventName = 2;
inline constexpr uint32_t kEventAttributes = 3;
inline constexpr uint32_t kEventDroppedAttributes = 4;
inline constexpr uint32_t kLinkTraceId = 1;
inline constexpr uint32_t kLinkSpanId = 2;
inline constexpr uint32_t kLinkTraceState = 3;
inline constexpr uint32_t kLinkAttributes = 4;
inline constexpr uint32_t kLinkDroppedAttributes = 5;
inline constexpr uint32_t kLinkFlags = 6;
inline constexpr uint32_t kStatusMessage = 2;
inline constexpr uint32_t kStatusCode = 3;
}  // namespace field

inline constexpr size_t kTraceIdSize = 16;
inline constexpr size_t kSpanIdSize = 8;

// One span as views into the request buffer. Repeated members (attributes,
// events, links) stay encoded in `raw` and are walked on demand.
struct SpanView {
  std::string_view raw;
  std::string_view trace_id;
  std::string_view span_id;
  std::string_view trace_state;
  std::string_view parent_span_id;
  std::string_view name;
  std::string_view status;  // encoded Status message; empty when unset
  uint64_t start_time_unix_nano = 0;
  uint64_t end_time_unix_nano = 0;
  uint32_t flags = 0;
  int32_t kind = 0;
  uint32_t dropped_attributes_count = 0;
  uint32_t dropped_events_count = 0;
  uint32_t dropped_links_count = 0;
};

// Receives the structure of a traces request in order. Views are valid only
// for the duration of the call that hands them out, unless the caller keeps
// the request buffer alive.
class TracesVisitor {
 public:
  virtual ~TracesVisitor() = default;
  virtual void OnResourceSpans(std::string_view resource, std::string_view schema_url) {
    (void)resource;
    (void)schema_url;
  }
  virtual void OnScopeSpans(std::string_view scope, std::string_view schema_url) {
    (void)scope;
    (void)schema_url;
  }
  virtual void OnSpan(const SpanView& span) = 0;
};

struct TracesSummary {
  uint64_t spans = 0;
  uint64_t min_start_unix_nano = 0;  // 0 when there are no spans
  uint64_t max_end_unix_nano = 0;
};

// Parses and validates one encoded Span (ids, wire types, attributes of the
// span, its events and links). `index` names the span in error messages.
Status ValidateSpan(std::string_view raw, uint64_t index, SpanView* span);
// As ValidateSpan, for a span of a request already validated (processors):
// checks the span's own fields but not the attributes of it, its events and
// its links again.
Status ViewSpan(std::string_view raw, SpanView* span);

// Walks and validates an ExportTraceServiceRequest: structure, wire types,
// trace/span id lengths (16/8 bytes, not all zero), parent span id length,
// and nested attribute values. Returns InvalidArgument naming the first
// problem. The visitor (optional) sees every span of a valid request; when the
// request is invalid it may have seen a prefix.
Status WalkTraces(std::string_view request, TracesVisitor* visitor, TracesSummary* summary);

}  // namespace sluice::wire::otlp

namespace sluice::wire::otlp {

// Appends one span as an OTLP/JSON object, with its resource and scope
// embedded as "resource" and "scope" so each line stands alone:
//   {"resource":{...},"scope":{...},"traceId":"…","spanId":"…",…}
void AppendSpanJson(std::string& out, std::string_view resource, std::string_view scope,
                    const SpanView& span);

}  // namespace sluice::wire::otlp
