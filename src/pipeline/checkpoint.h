#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "log/cursors.h"

namespace sluice::pipeline {

// The state of a consumer that aggregates what it reads (a connector, the
// query layer's rollups), saved with the position in the log it covers, so
// that a restart resumes the state and skips the batches before the position.
//
// The file: four bytes of magic naming the consumer's kind, a version, the
// CRC-32C of the rest, then (protobuf wire format) the position = 1..3, a
// start time = 4, the consumer's state = 5 (the default tenant's, for a
// consumer that keeps one per tenant), and repeated tenant = 6 {name = 1,
// state = 2} for the other tenants.
struct TenantState {
  std::string_view tenant;
  std::string_view state;
};
std::string EncodeCheckpoint(std::string_view magic, const log::Position& pos, int64_t start_time,
                             std::string_view state, const std::vector<TenantState>& tenants = {});
// `tenants` may be null for a consumer that keeps no per-tenant state; the
// views point into `file`.
Status DecodeCheckpoint(std::string_view magic, std::string_view file, log::Position* pos,
                        int64_t* start_time, std::string_view* state,
                        std::vector<TenantState>* tenants = nullptr);

}  // namespace sluice::pipeline
