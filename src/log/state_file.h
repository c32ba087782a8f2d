#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/result.h"
#include "io/file_system.h"
#include "telemetry/metrics.h"

namespace sluice::log {

// Small mutable state (cursor positions, the DLQ index, hook registrations)
// as an append-only file of key/value records, replayed into memory on open.
//
// File:   header "SLUICEST" (8) | version u16 | reserved u16 | reserved u32   (16 bytes)
// Record: crc32c u32 | length u32 | type u8 | expires_unix_nanos i64 |
//         key_len u16 | key | value
//         length = bytes after the length field; crc32c covers them and the length.
//         type 1 = put, 2 = delete. expires 0 = never.
//
// The file rewrites itself with only live entries (write a temporary, fsync,
// rename over, fsync the directory) once it is past the threshold, past twice
// its size after the previous rewrite, and the cooldown has passed since then.
// Expiry is recomputed on replay from each entry's expiry time, so an entry
// expiring writes nothing: it simply is not live any more.
//
// Replay stops at the first record that fails its checks; the rest of the
// file is truncated and counted (sluice_state_truncated_bytes_total).
//
// Thread-safe. Reads come from memory; Put/Delete append and, with
// Sync::kYes, fdatasync before returning.
class StateFile {
 public:
  struct Options {
    std::string path;
    uint64_t compaction_threshold_bytes = 64ull << 20;
    std::chrono::nanoseconds compaction_cooldown = std::chrono::minutes(1);
  };
  enum class Sync { kYes, kNo };

  static constexpr size_t kMaxKeySize = 4096;
  static constexpr size_t kMaxValueSize = 1 << 20;

  static Result<std::unique_ptr<StateFile>> Open(Options options, io::FileSystem& fs, Clock& clock,
                                                 telemetry::Registry& registry);

  std::optional<std::string> Get(std::string_view key) const;
  // Live entries whose key starts with `prefix`, in key order. Cost is
  // proportional to what matches, not to the whole state.
  std::vector<std::pair<std::string, std::string>> Scan(std::string_view prefix) const;

  // expires_unix_nanos = 0: never expires.
  Status Put(std::string_view key, std::string_view value, Sync sync = Sync::kYes,
             int64_t expires_unix_nanos = 0);
  Status Delete(std::string_view key, Sync sync = Sync::kYes);

  uint64_t file_bytes() const;
  size_t live_entries() const;
  uint64_t compactions() const;

 private:
  struct Entry {
    std::string value;
    int64_t expires = 0;
  };
  struct Metrics {
    explicit Metrics(telemetry::Registry& r);
    telemetry::Gauge& file_bytes;
    telemetry::Counter& compactions;
    telemetry::Counter& truncated_bytes;
  };

  StateFile(Options options, io::FileSystem& fs, Clock& clock, telemetry::Registry& registry);
  Status Replay();
  Status AppendRecord(uint8_t type, std::string_view key, std::string_view value, int64_t expires,
                      Sync sync);
  Status MaybeCompact();
  Status Compact();
  bool Live(const Entry& e) const { return e.expires == 0 || e.expires > clock_.NowUnixNanos(); }

  const Options options_;
  io::FileSystem& fs_;
  Clock& clock_;
  Metrics metrics_;

  mutable std::mutex mu_;
  std::map<std::string, Entry, std::less<>> entries_;
  std::unique_ptr<io::WritableFile> file_;
  uint64_t size_after_compaction_ = 0;
  int64_t last_compaction_mono_ = 0;
  uint64_t compactions_ = 0;
  std::string record_;
};

}  // namespace sluice::log
