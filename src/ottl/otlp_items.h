#pragma once

#include <string>
#include <string_view>

#include "ottl/ottl.h"
#include "wire/otlp/edit.h"
#include "wire/otlp/traces.h"

namespace sluice::ottl {

// The OTLP items conditions are evaluated against, as views of the encoded
// request (nothing is decoded until a path asks for it).

// What resource and scope an item belongs to (encoded Resource and
// InstrumentationScope messages; empty when absent).
struct Parents {
  std::string_view resource;
  std::string_view scope;
};

// Paths every item has: resource.* and instrumentation_scope.*; Nil for
// anything else.
Value GetParentField(const Parents& parents, const Path& path);

class SpanItem final : public Item {
 public:
  SpanItem(const Parents& parents, const wire::otlp::SpanView& span)
      : parents_(parents), span_(span) {}
  Value Get(const Path& path) const override;

 private:
  const Parents& parents_;
  const wire::otlp::SpanView& span_;
};

// `record`: an encoded LogRecord.
class LogItem final : public Item {
 public:
  LogItem(const Parents& parents, std::string_view record) : parents_(parents), record_(record) {}
  Value Get(const Path& path) const override;

 private:
  const Parents& parents_;
  std::string_view record_;
};

// `event`: an encoded Span.Event.
class SpanEventItem final : public Item {
 public:
  SpanEventItem(const Parents& parents, std::string_view event)
      : parents_(parents), event_(event) {}
  Value Get(const Path& path) const override;

 private:
  const Parents& parents_;
  std::string_view event_;
};

// `metric`: an encoded Metric.
class MetricItem final : public Item {
 public:
  MetricItem(const Parents& parents, std::string_view metric)
      : parents_(parents), metric_(metric) {}
  Value Get(const Path& path) const override;

 private:
  const Parents& parents_;
  std::string_view metric_;
};

// `point`: one encoded data point of `metric`, of `kind`.
class DataPointItem final : public Item {
 public:
  DataPointItem(const Parents& parents, std::string_view metric, wire::otlp::PointKind kind,
                std::string_view point)
      : parents_(parents), metric_(metric), kind_(kind), point_(point) {}
  Value Get(const Path& path) const override;

 private:
  const Parents& parents_;
  std::string_view metric_;
  wire::otlp::PointKind kind_;
  std::string_view point_;
};

// Any item of any context as encoded bytes that statements change: every
// Set re-encodes the item (its other fields copied as they are), and Get
// reads the current bytes. For the resource and scope contexts the bytes
// are the Resource or InstrumentationScope itself.
class EditableItem final : public MutableItem {
 public:
  // `metric` and `point_kind`: for data points, the Metric holding it.
  EditableItem(ContextKind kind, std::string_view bytes, const Parents& parents,
               std::string_view metric = {},
               wire::otlp::PointKind point_kind = wire::otlp::PointKind::kNumber)
      : kind_(kind), bytes_(bytes), parents_(parents), metric_(metric), point_kind_(point_kind) {}
  EditableItem(const EditableItem&) = delete;
  EditableItem& operator=(const EditableItem&) = delete;

  Value Get(const Path& path) const override;
  Status Set(const Path& path, const Value& value) override;

  // The item's current encoding, and whether any Set changed it.
  std::string_view bytes() const { return bytes_; }
  bool changed() const { return changed_; }

 private:
  void Replace(std::string next);

  ContextKind kind_;
  std::string_view bytes_;  // the received bytes, or owned_
  std::string owned_;
  Parents parents_;
  std::string_view metric_;
  wire::otlp::PointKind point_kind_;
  bool changed_ = false;
};

}  // namespace sluice::ottl
