#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "config/schema.h"

namespace sluice::log {

enum class FsyncPolicy {
  kAlways,    // an append completes after fdatasync of its group
  kInterval,  // completes after write(); the writer syncs every fsync_interval
  kNever,     // completes after write(); the OS decides when to flush
};

// The `storage:` section.
struct LogOptions {
  std::string directory = "./data";
  FsyncPolicy fsync = FsyncPolicy::kInterval;
  std::chrono::nanoseconds fsync_interval = std::chrono::milliseconds(100);
  uint64_t segment_bytes = 64ull << 20;
  std::chrono::nanoseconds segment_max_age = std::chrono::hours(1);
  // Bytes of appends waiting for the writer before new appends are refused
  // with ResourceExhausted.
  uint64_t max_pending_bytes = 64ull << 20;
};

const config::Schema<LogOptions>& LogOptionsSchema();

}  // namespace sluice::log
