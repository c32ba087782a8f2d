#include "wire/otlp/traces.h"

#include <algorithm>

#include "base/strings.h"
#include "wire/otlp/common.h"
#include "wire/proto_reader.h"

namespace sluice::wire::otlp {
namespace {

Status Invalid(std::string why) {
  return Status::InvalidArgument(std::move(why));
}

bool AllZero(std::string_view id) {
  return std::all_of(id.begin(), id.end(), [](char c) { return c == 0; });
}

std::string SpanRef(uint64_t index) {
  return "span " + std::to_string(index);
}

}  // namespace

// One pass over the span's fields: its attributes, events and links are
// checked where they are met.
namespace {

// ValidateSpan, and ViewSpan without the nested attribute checks.
Status ParseSpan(std::string_view raw, uint64_t index, bool validate_nested, SpanView* s) {
  *s = SpanView{};
  s->raw = raw;
  ProtoReader r(raw);
  while (r.Next()) {
    bool ok = true;
    Status nested;
    switch (r.field()) {
      case field::kSpanTraceId:
        ok = r.Is(WireType::kLengthDelimited);
        s->trace_id = r.bytes();
        break;
      case field::kSpanSpanId:
        ok = r.Is(WireType::kLengthDelimited);
        s->span_id = r.bytes();
        break;
      case field::kSpanTraceState:
        ok = r.Is(WireType::kLengthDelimited);
        s->trace_state = r.bytes();
        break;
      case field::kSpanParentSpanId:
        ok = r.Is(WireType::kLengthDelimited);
        s->parent_span_id = r.bytes();
        break;
      case field::kSpanName:
        ok = r.Is(WireType::kLengthDelimited);
        s->name = r.bytes();
        break;
      case field::kSpanStatus:
        ok = r.Is(WireType::kLengthDelimited);
        s->status = r.bytes();
        break;
      case field::kSpanKind:
        ok = r.Is(WireType::kVarint);
        s->kind = static_cast<int32_t>(r.varint());
        break;
      case field::kSpanStartTime:
        ok = r.Is(WireType::kFixed64);
        s->start_time_unix_nano = r.fixed64();
        break;
      case field::kSpanEndTime:
        ok = r.Is(WireType::kFixed64);
        s->end_time_unix_nano = r.fixed64();
        break;
      case field::kSpanFlags:
        ok = r.Is(WireType::kFixed32);
        s->flags = r.fixed32();
        break;
      case field::kSpanDroppedAttributes:
        ok = r.Is(WireType::kVarint);
        s->dropped_attributes_count = static_cast<uint32_t>(r.varint());
        break;
      case field::kSpanDroppedEvents:
        ok = r.Is(WireType::kVarint);
        s->dropped_events_count = static_cast<uint32_t>(r.varint());
        break;
      case field::kSpanDroppedLinks:
        ok = r.Is(WireType::kVarint);
        s->dropped_links_count = static_cast<uint32_t>(r.varint());
        break;
      case field::kSpanAttributes:
        ok = r.Is(WireType::kLengthDelimited);
        if (ok && validate_nested) nested = ValidateKeyValue(r.bytes());
        break;
      case field::kSpanEvents:
        ok = r.Is(WireType::kLengthDelimited);
        if (ok && validate_nested) nested = ValidateKeyValues(r.bytes(), field::kEventAttributes);
        break;
      case field::kSpanLinks:
        ok = r.Is(WireType::kLengthDelimited);
        if (ok && validate_nested) nested = ValidateKeyValues(r.bytes(), field::kLinkAttributes);
        break;
      default:
        break;
    }
    if (!ok)
      return Invalid(SpanRef(index) + ": field " + std::to_string(r.field()) +
                     " has the wrong wire type");
    if (!nested.ok()) return Invalid(SpanRef(index) + ": " + nested.message());
  }
  if (!r.ok()) return Invalid(SpanRef(index) + ": " + r.error());
  if (s->trace_id.size() != kTraceIdSize || AllZero(s->trace_id)) {
    return Invalid(SpanRef(index) + ": trace_id must be 16 bytes and not all zero (got " +
                   std::to_string(s->trace_id.size()) + " bytes)");
  }
  if (s->span_id.size() != kSpanIdSize || AllZero(s->span_id)) {
    return Invalid(SpanRef(index) + ": span_id must be 8 bytes and not all zero (got " +
                   std::to_string(s->span_id.size()) + " bytes)");
  }
  if (!s->parent_span_id.empty() && s->parent_span_id.size() != kSpanIdSize) {
    return Invalid(SpanRef(index) + ": parent_span_id must be empty or 8 bytes (got " +
                   std::to_string(s->parent_span_id.size()) + " bytes)");
  }
  return Status::Ok();
}

}  // namespace

Status ValidateSpan(std::string_view raw, uint64_t index, SpanView* span) {
  return ParseSpan(raw, index, /*validate_nested=*/true, span);
}

Status ViewSpan(std::string_view raw, SpanView* span) {
  return ParseSpan(raw, 0, /*validate_nested=*/false, span);
}

Status WalkTraces(std::string_view request, TracesVisitor* visitor, TracesSummary* summary) {
  *summary = TracesSummary{};
  ProtoReader req(request);
  while (req.Next()) {
    if (req.field() != field::kRequestResourceSpans) continue;
    if (!req.Is(WireType::kLengthDelimited))
      return Invalid("resource_spans has the wrong wire type");
    std::string_view resource;
    std::string_view resource_schema;
    ProtoReader rs(req.bytes());
    // The resource may follow its scope_spans on the wire; find it first.
    while (rs.Next()) {
      if (rs.field() == field::kResourceSpansResource) resource = rs.bytes();
      if (rs.field() == field::kResourceSpansSchemaUrl) resource_schema = rs.bytes();
    }
    if (!rs.ok()) return Invalid(std::string("malformed resource_spans: ") + rs.error());
    SLUICE_RETURN_IF_ERROR(ValidateResource(resource));
    if (visitor != nullptr) visitor->OnResourceSpans(resource, resource_schema);
    ProtoReader rs2(req.bytes());
    while (rs2.Next()) {
      if (rs2.field() != field::kResourceSpansScopeSpans) continue;
      if (!rs2.Is(WireType::kLengthDelimited))
        return Invalid("scope_spans has the wrong wire type");
      std::string_view scope;
      std::string_view scope_schema;
      ProtoReader ss(rs2.bytes());
      while (ss.Next()) {
        if (ss.field() == field::kScopeSpansScope) scope = ss.bytes();
        if (ss.field() == field::kScopeSpansSchemaUrl) scope_schema = ss.bytes();
      }
      if (!ss.ok()) return Invalid(std::string("malformed scope_spans: ") + ss.error());
      SLUICE_RETURN_IF_ERROR(ValidateScope(scope));
      if (visitor != nullptr) visitor->OnScopeSpans(scope, scope_schema);
      ProtoReader ss2(rs2.bytes());
      while (ss2.Next()) {
        if (ss2.field() != field::kScopeSpansSpans) continue;
        if (!ss2.Is(WireType::kLengthDelimited)) return Invalid("spans has the wrong wire type");
        SpanView span;
        SLUICE_RETURN_IF_ERROR(ValidateSpan(ss2.bytes(), summary->spans, &span));
        ++summary->spans;
        if (summary->min_start_unix_nano == 0 ||
            (span.start_time_unix_nano != 0 &&
             span.start_time_unix_nano < summary->min_start_unix_nano)) {
          summary->min_start_unix_nano = span.start_time_unix_nano;
        }
        summary->max_end_unix_nano =
            std::max(summary->max_end_unix_nano,
                     std::max(span.end_time_unix_nano, span.start_time_unix_nano));
        if (visitor != nullptr) visitor->OnSpan(span);
      }
    }
  }
  if (!req.ok()) return Invalid(std::string("malformed request: ") + req.error());
  return Status::Ok();
}

namespace {

void Sep(std::string& out, bool* first) {
  if (!*first) out += ',';
  *first = false;
}

void AppendHexField(std::string& out, bool* first, const char* name, std::string_view id) {
  if (id.empty()) return;
  Sep(out, first);
  out += '"';
  out += name;
  out += "\":\"";
  AppendHex(out, id);
  out += '"';
}

void AppendStringField(std::string& out, bool* first, const char* name, std::string_view v) {
  if (v.empty()) return;
  Sep(out, first);
  out += '"';
  out += name;
  out += "\":";
  AppendJsonString(out, v);
}

void AppendUintField(std::string& out, bool* first, const char* name, uint64_t v, bool as_string) {
  if (v == 0) return;
  Sep(out, first);
  out += '"';
  out += name;
  out += as_string ? "\":\"" : "\":";
  out += std::to_string(v);
  if (as_string) out += '"';
}

void AppendEventJson(std::string& out, std::string_view event) {
  out += '{';
  bool first = true;
  ProtoReader r(event);
  while (r.Next()) {
    if (r.field() == field::kEventTime)
      AppendUintField(out, &first, "timeUnixNano", r.fixed64(), true);
    if (r.field() == field::kEventName) AppendStringField(out, &first, "name", r.bytes());
  }
  AppendKeyValuesJson(out, event, field::kEventAttributes, "attributes", &first);
  ProtoReader d(event);
  while (d.Next()) {
    if (d.field() == field::kEventDroppedAttributes) {
      AppendUintField(out, &first, "droppedAttributesCount", d.varint(), false);
    }
  }
  out += '}';
}

void AppendLinkJson(std::string& out, std::string_view link) {
  out += '{';
  bool first = true;
  ProtoReader r(link);
  while (r.Next()) {
    switch (r.field()) {
      case field::kLinkTraceId:
        AppendHexField(out, &first, "traceId", r.bytes());
        break;
      case field::kLinkSpanId:
        AppendHexField(out, &first, "spanId", r.bytes());
        break;
      case field::kLinkTraceState:
        AppendStringField(out, &first, "traceState", r.bytes());
        break;
      default:
        break;
    }
  }
  AppendKeyValuesJson(out, link, field::kLinkAttributes, "attributes", &first);
  ProtoReader d(link);
  while (d.Next()) {
    if (d.field() == field::kLinkDroppedAttributes) {
      AppendUintField(out, &first, "droppedAttributesCount", d.varint(), false);
    }
    if (d.field() == field::kLinkFlags) AppendUintField(out, &first, "flags", d.fixed32(), false);
  }
  out += '}';
}

void AppendRepeatedJson(std::string& out, bool* first, std::string_view raw, uint32_t field_number,
                        const char* name, void (*render)(std::string&, std::string_view)) {
  ProtoReader r(raw);
  bool opened = false;
  while (r.Next()) {
    if (r.field() != field_number) continue;
    if (!opened) {
      Sep(out, first);
      out += '"';
      out += name;
      out += "\":[";
      opened = true;
    } else {
      out += ',';
    }
    render(out, r.bytes());
  }
  if (opened) out += ']';
}

}  // namespace

void AppendSpanJson(std::string& out, std::string_view resource, std::string_view scope,
                    const SpanView& span) {
  out += "{\"resource\":";
  AppendResourceJson(out, resource);
  out += ",\"scope\":";
  AppendScopeJson(out, scope);
  bool first = false;
  AppendHexField(out, &first, "traceId", span.trace_id);
  AppendHexField(out, &first, "spanId", span.span_id);
  AppendStringField(out, &first, "traceState", span.trace_state);
  AppendHexField(out, &first, "parentSpanId", span.parent_span_id);
  AppendUintField(out, &first, "flags", span.flags, false);
  AppendStringField(out, &first, "name", span.name);
  AppendUintField(out, &first, "kind", static_cast<uint64_t>(span.kind), false);
  AppendUintField(out, &first, "startTimeUnixNano", span.start_time_unix_nano, true);
  AppendUintField(out, &first, "endTimeUnixNano", span.end_time_unix_nano, true);
  AppendKeyValuesJson(out, span.raw, field::kSpanAttributes, "attributes", &first);
  AppendUintField(out, &first, "droppedAttributesCount", span.dropped_attributes_count, false);
  AppendRepeatedJson(out, &first, span.raw, field::kSpanEvents, "events", AppendEventJson);
  AppendUintField(out, &first, "droppedEventsCount", span.dropped_events_count, false);
  AppendRepeatedJson(out, &first, span.raw, field::kSpanLinks, "links", AppendLinkJson);
  AppendUintField(out, &first, "droppedLinksCount", span.dropped_links_count, false);
  if (!span.status.empty()) {
    Sep(out, &first);
    out += "\"status\":{";
    bool sfirst = true;
    ProtoReader r(span.status);
    while (r.Next()) {
      if (r.field() == field::kStatusMessage) AppendStringField(out, &sfirst, "message", r.bytes());
      if (r.field() == field::kStatusCode) AppendUintField(out, &sfirst, "code", r.varint(), false);
    }
    out += '}';
  }
  out += '}';
}

}  // namespace sluice::wire::otlp
