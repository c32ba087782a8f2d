#pragma once

#include <string_view>

#include "ottl/ottl.h"
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

}  // namespace sluice::ottl
