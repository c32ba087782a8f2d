#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace sluice::log {

enum class FsyncPolicy {
  kAlways,    // an append completes after fdatasync of its group
  kInterval,  // completes after write(); the writer syncs every fsync_interval
  kNever,     // completes after write(); the OS decides when to flush
};

// What happens when the log reaches retention.max_bytes and the oldest data
// is still needed by an exporter.
enum class WhenFull {
  kReject,      // receivers refuse new data (503 + Retry-After) until space frees
  kDropOldest,  // the oldest segments go even if unread; counted per exporter
};

struct RetentionOptions {
  std::chrono::nanoseconds max_age = std::chrono::hours(24);
  uint64_t max_bytes = 10ull << 30;
};

struct StateCompactionOptions {
  uint64_t threshold_bytes = 64ull << 20;
  std::chrono::nanoseconds cooldown = std::chrono::minutes(1);
};

// The `storage:` section. A plain struct, so that the log's users do not
// compile the configuration machinery (yaml-cpp) with it; the YAML schema that
// reads it is in options_schema.h.
struct LogOptions {
  std::string directory = "./data";
  FsyncPolicy fsync = FsyncPolicy::kInterval;
  std::chrono::nanoseconds fsync_interval = std::chrono::milliseconds(100);
  uint64_t segment_bytes = 64ull << 20;
  // Write segments with O_DIRECT (where the file system supports it).
  bool direct_io = true;
  // Run the writer and retention threads as background work (SCHED_BATCH):
  // set by the service, whose request threads hand appends over one at a
  // time and should not be preempted by every wake-up. Left off for callers
  // whose appending threads are themselves always busy, where it would
  // starve the writer. Not a configuration key.
  bool background_threads = false;
  std::chrono::nanoseconds segment_max_age = std::chrono::hours(1);
  // Bytes of appends waiting for the writer before new appends are refused
  // with ResourceExhausted.
  uint64_t max_pending_bytes = 64ull << 20;
  RetentionOptions retention;
  WhenFull when_full = WhenFull::kReject;
  StateCompactionOptions state_compaction;
  // How often retention runs when nothing wakes it earlier.
  std::chrono::nanoseconds retention_interval = std::chrono::seconds(1);
};

}  // namespace sluice::log
