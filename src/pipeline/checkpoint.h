#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"
#include "log/cursors.h"

namespace sluice::pipeline {

// The state of a consumer that aggregates what it reads (a connector, the
// query layer's rollups), saved with the position in the log it covers, so
// that a restart resumes the state and skips the batches before the position.
//
// The file: four bytes of magic naming the consumer's kind, a version, the
// CRC-32C of the rest, then (protobuf wire format) the position, a start
// time and the consumer's state.
std::string EncodeCheckpoint(std::string_view magic, const log::Position& pos, int64_t start_time,
                             std::string_view state);
Status DecodeCheckpoint(std::string_view magic, std::string_view file, log::Position* pos,
                        int64_t* start_time, std::string_view* state);

}  // namespace sluice::pipeline
