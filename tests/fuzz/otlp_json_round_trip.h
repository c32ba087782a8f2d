#pragma once

// The OTLP/JSON renderer and the OTLP/JSON transcoder must agree: whatever
// protobuf renders, the JSON transcodes back, and that protobuf renders to the
// same JSON and transcodes to the same bytes again.
#include <cstdlib>
#include <string>
#include <string_view>

#include "base/status.h"

namespace sluice::fuzz {

using RenderFn = Status (*)(std::string_view proto, std::string* out);
using TranscodeFn = Status (*)(std::string_view json, std::string* out);

// Aborts if the round trip disagrees. `must_render`: proto came from the
// transcoder itself, so rendering it must succeed.
inline void CheckJsonRoundTrip(std::string_view proto, RenderFn render, TranscodeFn transcode,
                               bool must_render) {
  std::string json1;
  if (!render(proto, &json1).ok()) {
    if (must_render) std::abort();
    return;
  }
  std::string proto2;
  if (!transcode(json1, &proto2).ok()) std::abort();
  std::string json2;
  if (!render(proto2, &json2).ok() || json2 != json1) std::abort();
  std::string proto3;
  if (!transcode(json2, &proto3).ok() || proto3 != proto2) std::abort();
}

}  // namespace sluice::fuzz
