#include "ottl/otlp_items.h"

#include "wire/otlp/common.h"
#include "wire/otlp/logs.h"
#include "wire/proto_reader.h"

namespace sluice::ottl {
namespace {

namespace f = wire::otlp::field;

constexpr char kHex[] = "0123456789abcdef";

Value Hex(std::string_view bytes) {
  if (bytes.empty()) return Value::String("");
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return Value::Owned(std::move(out));
}

// The string field `number` of `message`, "" when unset (proto3 default).
Value StringField(std::string_view message, uint32_t number) {
  std::string_view v;
  wire::ProtoReader r(message);
  while (r.Next()) {
    if (r.field() == number && r.Is(wire::WireType::kLengthDelimited)) v = r.bytes();
  }
  return Value::String(v);
}

Value U64(uint64_t v) {
  return Value::Int(static_cast<int64_t>(v));
}

}  // namespace

Value GetParentField(const Parents& parents, const Path& path) {
  switch (path.field) {
    case Field::kResourceAttributes:
      return LookupAttribute(parents.resource, f::kResourceAttributes, path.keys);
    case Field::kScopeAttributes:
      return LookupAttribute(parents.scope, f::kScopeAttributes, path.keys);
    case Field::kScopeName:
      return StringField(parents.scope, f::kScopeName);
    case Field::kScopeVersion:
      return StringField(parents.scope, f::kScopeVersion);
    default:
      return Value::Nil();
  }
}

Value SpanItem::Get(const Path& path) const {
  switch (path.field) {
    case Field::kAttributes:
      return LookupAttribute(span_.raw, f::kSpanAttributes, path.keys);
    case Field::kName:
      return Value::String(span_.name);
    case Field::kKind:
      return Value::Int(span_.kind);
    case Field::kStatusCode: {
      int64_t code = 0;
      wire::ProtoReader r(span_.status);
      while (r.Next()) {
        if (r.field() == f::kStatusCode && r.Is(wire::WireType::kVarint)) code = r.as_int64();
      }
      return Value::Int(code);
    }
    case Field::kStatusMessage:
      return StringField(span_.status, f::kStatusMessage);
    case Field::kStartTime:
      return U64(span_.start_time_unix_nano);
    case Field::kEndTime:
      return U64(span_.end_time_unix_nano);
    case Field::kTraceIdString:
      return Hex(span_.trace_id);
    case Field::kSpanIdString:
      return Hex(span_.span_id);
    case Field::kParentSpanIdString:
      return Hex(span_.parent_span_id);
    case Field::kTraceState:
      return Value::String(span_.trace_state);
    case Field::kDroppedAttributesCount:
      return Value::Int(span_.dropped_attributes_count);
    default:
      return GetParentField(parents_, path);
  }
}

Value LogItem::Get(const Path& path) const {
  auto scalar = [&](uint32_t number) {
    uint64_t v = 0;
    wire::ProtoReader r(record_);
    while (r.Next()) {
      if (r.field() == number && !r.Is(wire::WireType::kLengthDelimited)) v = r.varint();
    }
    return v;
  };
  switch (path.field) {
    case Field::kAttributes:
      return LookupAttribute(record_, f::kRecordAttributes, path.keys);
    case Field::kBody: {
      wire::ProtoReader r(record_);
      std::string_view body;
      bool present = false;
      while (r.Next()) {
        if (r.field() == f::kRecordBody && r.Is(wire::WireType::kLengthDelimited)) {
          body = r.bytes();
          present = true;
        }
      }
      if (!present) return Value::Nil();
      Value v = FromAnyValue(body);
      if (path.keys.empty()) return v;
      if (v.type != Value::Type::kMap) return Value::Nil();
      return LookupAttribute(v.s, f::kKvlistValues, path.keys);
    }
    case Field::kSeverityNumber:
      return Value::Int(static_cast<int32_t>(scalar(f::kRecordSeverityNumber)));
    case Field::kSeverityText:
      return StringField(record_, f::kRecordSeverityText);
    case Field::kTime:
      return U64(scalar(f::kRecordTime));
    case Field::kObservedTime:
      return U64(scalar(f::kRecordObservedTime));
    case Field::kTraceIdString:
      return Hex(StringField(record_, f::kRecordTraceId).s);
    case Field::kSpanIdString:
      return Hex(StringField(record_, f::kRecordSpanId).s);
    case Field::kDroppedAttributesCount:
      return Value::Int(static_cast<int64_t>(scalar(f::kRecordDroppedAttributes)));
    default:
      return GetParentField(parents_, path);
  }
}

}  // namespace sluice::ottl
