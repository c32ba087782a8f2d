#pragma once

#include <string_view>

#include "wire/proto_reader.h"

namespace sluice::wire::otlp {

// Walks a stored OTLP request of any signal (request.1 → Resource{Spans,
// Metrics,Logs}, its .1 the Resource, .2 → Scope*, .2 → leaf) without
// checking it: calls resource_fn(resource) for each container's Resource
// ("" when absent) and, when it returns true, leaf_fn(resource, leaf) for
// each of its leaves, in wire order. Inline and by hand rather than through
// ForEachLeaf: the query layer walks every leaf of gigabytes, and a pass
// that asks each leaf one field must not pay for more.
template <typename ResourceFn, typename LeafFn>
void WalkLeaves(std::string_view request, ResourceFn&& resource_fn, LeafFn&& leaf_fn) {
  constexpr auto kBytes = WireType::kLengthDelimited;
  ProtoReader req(request);
  while (req.Next()) {
    if (req.field() != 1 || !req.Is(kBytes)) continue;
    const std::string_view container = req.bytes();
    std::string_view resource;
    ProtoReader find(container);
    while (find.Next()) {
      if (find.field() == 1 && find.Is(kBytes)) resource = find.bytes();
    }
    if (!resource_fn(resource)) continue;
    ProtoReader rc(container);
    while (rc.Next()) {
      if (rc.field() != 2 || !rc.Is(kBytes)) continue;
      ProtoReader scope(rc.bytes());
      while (scope.Next()) {
        if (scope.field() == 2 && scope.Is(kBytes)) leaf_fn(resource, scope.bytes());
      }
    }
  }
}

// An encoded span's trace id: its first field as every SDK writes it, else
// wherever it is.
inline std::string_view SpanTraceId(std::string_view span) {
  ProtoReader first(span);
  if (first.Next() && first.field() == 1 && first.Is(WireType::kLengthDelimited)) {
    return first.bytes();
  }
  return LastBytesField(span, 1);
}

}  // namespace sluice::wire::otlp
