#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/mutex.h"
#include "base/result.h"
#include "log/format.h"
#include "log/state_file.h"
#include "telemetry/metrics.h"

namespace sluice::log {

// A place in the log: the segment (named by its base offset), the byte
// position in that segment file, and the record offset found there.
struct Position {
  uint64_t segment = 0;
  uint64_t byte_offset = kSegmentHeaderSize;
  uint64_t record_offset = 0;
  bool operator==(const Position&) const = default;
};

// True when `a` lies before `b` in the log.
inline bool Before(const Position& a, const Position& b) {
  return a.segment < b.segment || (a.segment == b.segment && a.byte_offset < b.byte_offset);
}

// The state file value of a cursor: segment, byte and record offset, three
// little-endian u64 (24 bytes).
std::string EncodePosition(const Position& p);
bool DecodePosition(std::string_view s, Position* p);

// The consumers' durable cursors: the state file's "cursor/<name>" entries
// and their positions in memory, which retention consults.
//
// Durability: Open (of a new cursor), Commit, Evict and DropExcept return
// once the state file holds the change and has been fdatasync'ed.
// A cursor only moves forward.
//
// Thread-safety: every method may be called from any thread. Lock order:
// write_mu_ (orders writes to the state file) before mu_ (the positions);
// the log may hold its own lock around the const queries, never around a
// write.
class CursorTable {
 public:
  CursorTable(StateFile& state, telemetry::CounterFamily& evicted_records);
  CursorTable(const CursorTable&) = delete;
  CursorTable& operator=(const CursorTable&) = delete;

  // Loads every committed cursor, so that retention holds what they need
  // from the start, before their consumers open them.
  void Load() SLUICE_EXCLUDES(mu_, write_mu_);
  // The committed cursor of `consumer`; for a new one, `start`, committed at
  // once. A stored cursor past `end` (its bytes were lost in a crash) is
  // moved to `end`. Corruption if the stored value is damaged.
  Result<Position> Open(const std::string& consumer, const Position& start, const Position& end)
      SLUICE_EXCLUDES(mu_, write_mu_);
  // Durably records the consumer's position; an older one is ignored.
  Status Commit(const std::string& consumer, const Position& pos) SLUICE_EXCLUDES(mu_, write_mu_);
  // Forgets the cursors of consumers not in `keep`.
  Status DropExcept(const std::vector<std::string>& keep) SLUICE_EXCLUDES(mu_, write_mu_);
  // The consumer's position ({} if unknown).
  Position PositionOf(const std::string& consumer) const SLUICE_EXCLUDES(mu_);
  // A consumer whose position lies before `pos` ("" if none).
  std::string FirstBefore(const Position& pos) const SLUICE_EXCLUDES(mu_);

  // What deleting a segment [base, next) takes from a consumer behind it.
  struct Eviction {
    std::string consumer;
    uint64_t segment;  // the segment deleted
    Position to;       // where its cursor moves: the start of the next segment
    uint64_t records;  // records of the segment it had not read
  };
  // Every consumer whose position lies before `next`, the start of the
  // segment after the one (at `base`) about to be deleted.
  std::vector<Eviction> Behind(uint64_t base, const Position& next) const SLUICE_EXCLUDES(mu_);
  // Moves a consumer's cursor past a segment retention deletes, durably,
  // and counts the records it loses. The consumer is looked up, never
  // created: one dropped meanwhile stays dropped (Ok, nothing written), as
  // does one that read past the segment meanwhile.
  Status Evict(const Eviction& e) SLUICE_EXCLUDES(mu_, write_mu_);

 private:
  struct Consumer {
    Position position;
    telemetry::Counter* evicted = nullptr;
  };
  Consumer& Entry(const std::string& name) SLUICE_REQUIRES(mu_);

  StateFile& state_;
  telemetry::CounterFamily& evicted_records_;
  Mutex write_mu_ SLUICE_ACQUIRED_BEFORE(mu_);
  mutable Mutex mu_;
  std::map<std::string, Consumer> consumers_ SLUICE_GUARDED_BY(mu_);
};

}  // namespace sluice::log
