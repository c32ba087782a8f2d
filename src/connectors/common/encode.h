#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <string_view>
#include <vector>

#include "config/schema.h"
#include "wire/proto_writer.h"

namespace sluice::connectors {

// An OTLP KeyValue with a string value, at `field` of the message being
// written.
void AppendStringAttribute(wire::ProtoWriter& w, uint32_t field, std::string_view key,
                           std::string_view value);

// A list of durations ([2ms, 4ms, 1s]) as histogram bounds in seconds,
// which must increase; errors go to ctx at their place.
void ParseBucketDurations(const YAML::Node& node, config::Context& ctx,
                          std::vector<double>* seconds);

}  // namespace sluice::connectors
