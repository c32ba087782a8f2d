#pragma once

#include <functional>
#include <string_view>

#include "base/status.h"
#include "pipeline/component.h"

namespace sluice::processors {

// Runs fn(request) on a remote-write batch's WriteRequest: a snappy body is
// decompressed first (to at most what the receivers accept) and whatever fn
// changed is compressed again, so snappy stays snappy. fn fills *out as a
// Processor does. Batches of other encodings are left alone.
Status WithRemoteWriteRequest(const pipeline::Processor::Input& in,
                              pipeline::Processor::Output* out,
                              const std::function<Status(std::string_view request)>& fn);

}  // namespace sluice::processors
