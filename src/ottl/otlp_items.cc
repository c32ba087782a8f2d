#include "ottl/otlp_items.h"

#include "base/strings.h"
#include "wire/otlp/common.h"
#include "wire/otlp/logs.h"
#include "wire/otlp/metrics.h"
#include "wire/proto_reader.h"
#include "wire/proto_writer.h"

namespace sluice::ottl {
namespace {

namespace f = wire::otlp::field;

Value Hex(std::string_view bytes) {
  if (bytes.empty()) return Value::String("");
  std::string out;
  AppendHex(out, bytes);
  return Value::Owned(std::move(out));
}

// The string field `number` of `message`, "" when unset (proto3 default).
Value StringField(std::string_view message, uint32_t number) {
  return Value::String(wire::LastBytesField(message, number));
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

namespace sluice::ottl {
namespace {

namespace f = wire::otlp::field;

// METRIC_DATA_TYPE_* of an encoded Metric (0 when it has no data).
int64_t MetricType(std::string_view metric) {
  int64_t type = 0;
  wire::ProtoReader r(metric);
  while (r.Next()) {
    switch (r.field()) {
      case f::kMetricGauge:
        type = 1;
        break;
      case f::kMetricSum:
        type = 2;
        break;
      case f::kMetricHistogram:
        type = 3;
        break;
      case f::kMetricExponentialHistogram:
        type = 4;
        break;
      case f::kMetricSummary:
        type = 5;
        break;
      default:
        break;
    }
  }
  return type;
}

Value MetricField(std::string_view metric, Field field) {
  switch (field) {
    case Field::kName:
      return Value::String(wire::LastBytesField(metric, f::kMetricName));
    case Field::kMetricType:
      return Value::Int(MetricType(metric));
    case Field::kMetricUnit:
      return Value::String(wire::LastBytesField(metric, f::kMetricUnit));
    case Field::kMetricDescription:
      return Value::String(wire::LastBytesField(metric, f::kMetricDescription));
    default:
      return Value::Nil();
  }
}

}  // namespace

Value SpanEventItem::Get(const Path& path) const {
  switch (path.field) {
    case Field::kAttributes:
      return LookupAttribute(event_, f::kEventAttributes, path.keys);
    case Field::kName:
      return Value::String(wire::LastBytesField(event_, f::kEventName));
    case Field::kTime:
      return Value::Int(static_cast<int64_t>(wire::LastFixed64Field(event_, f::kEventTime)));
    case Field::kDroppedAttributesCount: {
      uint64_t v = 0;
      wire::ProtoReader r(event_);
      while (r.Next()) {
        if (r.field() == f::kEventDroppedAttributes && r.Is(wire::WireType::kVarint)) {
          v = r.varint();
        }
      }
      return Value::Int(static_cast<int64_t>(v));
    }
    default:
      return GetParentField(parents_, path);
  }
}

Value MetricItem::Get(const Path& path) const {
  Value v = MetricField(metric_, path.field);
  if (v.type != Value::Type::kNil) return v;
  return GetParentField(parents_, path);
}

Value DataPointItem::Get(const Path& path) const {
  switch (path.field) {
    case Field::kAttributes:
      return LookupAttribute(point_, wire::otlp::PointAttributesField(kind_), path.keys);
    case Field::kTime:
      return Value::Int(static_cast<int64_t>(wire::LastFixed64Field(point_, f::kPointTime)));
    case Field::kStartTime:
      return Value::Int(static_cast<int64_t>(wire::LastFixed64Field(point_, f::kPointStartTime)));
    case Field::kName:
    case Field::kMetricType:
    case Field::kMetricUnit:
    case Field::kMetricDescription:
      return MetricField(metric_, path.field);
    default:
      return GetParentField(parents_, path);
  }
}

Value EditableItem::Get(const Path& path) const {
  switch (kind_) {
    case ContextKind::kSpan: {
      wire::otlp::SpanView span;
      if (!wire::otlp::ViewSpan(bytes_, &span).ok()) return Value::Nil();
      return SpanItem(parents_, span).Get(path);
    }
    case ContextKind::kSpanEvent:
      return SpanEventItem(parents_, bytes_).Get(path);
    case ContextKind::kLog:
      return LogItem(parents_, bytes_).Get(path);
    case ContextKind::kMetric:
      return MetricItem(parents_, bytes_).Get(path);
    case ContextKind::kDataPoint:
      return DataPointItem(parents_, metric_, point_kind_, bytes_).Get(path);
    case ContextKind::kResource:
      return GetParentField(Parents{bytes_, {}}, path);
    case ContextKind::kScope:
      return GetParentField(Parents{parents_.resource, bytes_}, path);
  }
  return Value::Nil();
}

namespace {

// Where a field lives in each context's message (0: not settable there).
uint32_t FieldNumber(ContextKind kind, Field field, wire::otlp::PointKind point_kind) {
  using K = ContextKind;
  switch (field) {
    case Field::kAttributes:
      switch (kind) {
        case K::kSpan:
          return f::kSpanAttributes;
        case K::kSpanEvent:
          return f::kEventAttributes;
        case K::kLog:
          return f::kRecordAttributes;
        case K::kDataPoint:
          return wire::otlp::PointAttributesField(point_kind);
        default:
          return 0;
      }
    case Field::kResourceAttributes:
      return kind == K::kResource ? f::kResourceAttributes : 0;
    case Field::kScopeAttributes:
      return kind == K::kScope ? f::kScopeAttributes : 0;
    case Field::kScopeName:
      return kind == K::kScope ? f::kScopeName : 0;
    case Field::kScopeVersion:
      return kind == K::kScope ? f::kScopeVersion : 0;
    case Field::kName:
      return kind == K::kSpan        ? f::kSpanName
             : kind == K::kSpanEvent ? f::kEventName
             : kind == K::kMetric    ? f::kMetricName
                                     : 0;
    case Field::kKind:
      return kind == K::kSpan ? f::kSpanKind : 0;
    case Field::kTraceState:
      return kind == K::kSpan ? f::kSpanTraceState : 0;
    case Field::kStatusCode:
    case Field::kStatusMessage:
      return kind == K::kSpan ? f::kSpanStatus : 0;
    case Field::kStartTime:
      return kind == K::kSpan ? f::kSpanStartTime : kind == K::kDataPoint ? f::kPointStartTime : 0;
    case Field::kEndTime:
      return kind == K::kSpan ? f::kSpanEndTime : 0;
    case Field::kTime:
      return kind == K::kLog         ? f::kRecordTime
             : kind == K::kSpanEvent ? f::kEventTime
             : kind == K::kDataPoint ? f::kPointTime
                                     : 0;
    case Field::kObservedTime:
      return kind == K::kLog ? f::kRecordObservedTime : 0;
    case Field::kSeverityNumber:
      return kind == K::kLog ? f::kRecordSeverityNumber : 0;
    case Field::kSeverityText:
      return kind == K::kLog ? f::kRecordSeverityText : 0;
    case Field::kBody:
      return kind == K::kLog ? f::kRecordBody : 0;
    case Field::kMetricUnit:
      return kind == K::kMetric ? f::kMetricUnit : 0;
    case Field::kMetricDescription:
      return kind == K::kMetric ? f::kMetricDescription : 0;
    default:
      return 0;
  }
}

// `any` (an AnyValue, "" for none) with the entry at keys set to `leaf`,
// creating kvlists on the way (a non-map in the way is replaced).
std::string SetNested(std::string_view any, const std::string* keys, size_t n,
                      std::string_view leaf) {
  if (n == 0) return std::string(leaf);
  wire::otlp::AttributeMap map = wire::otlp::AttributeMap::FromKvlist(any);
  const std::string_view* current = map.Find(keys[0]);
  std::string inner = SetNested(current ? *current : std::string_view(), keys + 1, n - 1, leaf);
  map.Set(keys[0], inner);
  return map.ToKvlist();
}

Status TypeError(const Path& path, const char* want, const Value& got) {
  return Status::InvalidArgument(path.text + " takes " + want + ", got " + TypeName(got));
}

}  // namespace

void EditableItem::Replace(std::string next) {
  owned_ = std::move(next);
  bytes_ = owned_;
  changed_ = true;
}

Status EditableItem::Set(const Path& path, const Value& value) {
  const uint32_t number = FieldNumber(kind_, path.field, point_kind_);
  if (number == 0) return Status::InvalidArgument(path.text + " cannot be set here");
  std::string field;
  wire::ProtoWriter w(&field);
  switch (path.field) {
    case Field::kAttributes:
    case Field::kResourceAttributes:
    case Field::kScopeAttributes: {
      wire::otlp::AttributeMap attrs;
      if (path.keys.empty()) {
        if (value.type != Value::Type::kMap) return TypeError(path, "a map", value);
        attrs.Reset(value.s, f::kKvlistValues);  // value.s: a KeyValueList
      } else {
        attrs.Reset(bytes_, number);
        const std::string_view* current = attrs.Find(path.keys[0]);
        std::string leaf = ToAnyValue(value);
        std::string entry = SetNested(current ? *current : std::string_view(), path.keys.data() + 1,
                                      path.keys.size() - 1, leaf);
        attrs.Set(path.keys[0], entry);
      }
      std::string next;
      wire::otlp::AppendWithAttributes(bytes_, number, attrs, &next);
      Replace(std::move(next));
      return Status::Ok();
    }
    case Field::kBody: {
      std::string body = ToAnyValue(value);
      if (!path.keys.empty()) {
        std::string_view current = wire::LastBytesField(bytes_, number);
        body = SetNested(current, path.keys.data(), path.keys.size(), body);
      }
      w.Bytes(number, body);
      break;
    }
    case Field::kStatusCode:
    case Field::kStatusMessage: {
      std::string inner;
      uint32_t inner_number = path.field == Field::kStatusCode ? f::kStatusCode : f::kStatusMessage;
      if (path.field == Field::kStatusCode) {
        if (value.type != Value::Type::kInt) return TypeError(path, "an int", value);
        wire::ProtoWriter(&inner).Varint(inner_number, static_cast<uint64_t>(value.i));
      } else {
        if (value.type != Value::Type::kString) return TypeError(path, "a string", value);
        wire::ProtoWriter(&inner).Bytes(inner_number, value.s);
      }
      std::string status =
          wire::otlp::ReplaceFields(wire::LastBytesField(bytes_, number), {inner_number}, inner);
      w.Bytes(number, status);
      break;
    }
    case Field::kKind:
    case Field::kSeverityNumber:
      if (value.type != Value::Type::kInt) return TypeError(path, "an int", value);
      w.Varint(number, static_cast<uint64_t>(value.i));
      break;
    case Field::kStartTime:
    case Field::kEndTime:
    case Field::kTime:
    case Field::kObservedTime:
      if (value.type != Value::Type::kInt) return TypeError(path, "an int", value);
      w.Fixed64(number, static_cast<uint64_t>(value.i));
      break;
    default:  // the string fields
      if (value.type != Value::Type::kString) return TypeError(path, "a string", value);
      w.Bytes(number, value.s);
      break;
  }
  Replace(wire::otlp::ReplaceFields(bytes_, {number}, field));
  return Status::Ok();
}

}  // namespace sluice::ottl
