#include "connectors/common/encode.h"

#include <algorithm>
#include <chrono>

#include "wire/otlp/common.h"

namespace sluice::connectors {

void AppendStringAttribute(wire::ProtoWriter& w, uint32_t field, std::string_view key,
                           std::string_view value) {
  namespace of = wire::otlp::field;
  size_t kv = w.BeginMessage(field);
  w.Bytes(of::kKeyValueKey, key);
  size_t any = w.BeginMessage(of::kKeyValueValue);
  w.Bytes(of::kAnyString, value);
  w.EndMessage(any);
  w.EndMessage(kv);
}

void ParseBucketDurations(const YAML::Node& node, config::Context& ctx,
                          std::vector<double>* seconds) {
  if (!node.IsSequence()) {
    ctx.AddError(node, "expected a list of durations");
    return;
  }
  seconds->clear();
  for (const auto& b : node) {
    std::chrono::nanoseconds d{};
    if (config::internal::ParseDuration(b, ctx, {0, {}}, &d)) {
      seconds->push_back(static_cast<double>(d.count()) * 1e-9);
    }
  }
  if (!std::is_sorted(seconds->begin(), seconds->end())) {
    ctx.AddError(node, "buckets must be in increasing order");
  }
}

}  // namespace sluice::connectors
