#include "log/cursors.h"

#include <algorithm>
#include <cstring>

#include "base/logging.h"
#include "log/coding.h"

namespace sluice::log {
namespace {

constexpr std::string_view kCursorPrefix = "cursor/";

std::string Key(std::string_view consumer) {
  return std::string(kCursorPrefix) + std::string(consumer);
}

}  // namespace

std::string EncodePosition(const Position& p) {
  std::string s;
  PutFixed<uint64_t>(&s, p.segment);
  PutFixed<uint64_t>(&s, p.byte_offset);
  PutFixed<uint64_t>(&s, p.record_offset);
  return s;
}

bool DecodePosition(std::string_view s, Position* p) {
  if (s.size() != 24) return false;
  p->segment = GetFixed<uint64_t>(s.data());
  p->byte_offset = GetFixed<uint64_t>(s.data() + 8);
  p->record_offset = GetFixed<uint64_t>(s.data() + 16);
  return true;
}

CursorTable::CursorTable(StateFile& state, telemetry::CounterFamily& evicted_records)
    : state_(state), evicted_records_(evicted_records) {}

CursorTable::Consumer& CursorTable::Entry(const std::string& name) {
  Consumer& c = consumers_[name];
  if (c.evicted == nullptr) c.evicted = &evicted_records_.With({name});
  return c;
}

void CursorTable::Load() {
  MutexLock lock(mu_);
  for (const auto& [key, value] : state_.Scan(kCursorPrefix)) {
    Position pos;
    if (!DecodePosition(value, &pos)) continue;
    Entry(key.substr(kCursorPrefix.size())).position = pos;
  }
}

Result<Position> CursorTable::Open(const std::string& consumer, const Position& start,
                                   const Position& end) {
  MutexLock ordered(write_mu_);
  Position pos = start;
  std::optional<std::string> stored = state_.Get(Key(consumer));
  if (stored && !DecodePosition(*stored, &pos)) {
    return Status::Corruption("cursor of " + consumer + " in the state file is damaged");
  }
  if (!stored) {
    SLUICE_RETURN_IF_ERROR(state_.Put(Key(consumer), EncodePosition(pos), StateFile::Sync::kYes));
  }
  if (Before(end, pos)) {
    // The cursor was committed before the bytes it passed were synced, and
    // they were lost: resume at the end instead of mid-frame.
    logging::Warn("log", "cursor is past the end of the log; resuming at the end",
                  {{"exporter", consumer}, {"segment", pos.segment}, {"at", pos.byte_offset}});
    pos = end;
  }
  MutexLock lock(mu_);
  Entry(consumer).position = pos;
  return pos;
}

Status CursorTable::Commit(const std::string& consumer, const Position& pos) {
  MutexLock ordered(write_mu_);
  {
    MutexLock lock(mu_);
    auto it = consumers_.find(consumer);
    if (it != consumers_.end() && !Before(it->second.position, pos)) return Status::Ok();
  }
  SLUICE_RETURN_IF_ERROR(state_.Put(Key(consumer), EncodePosition(pos), StateFile::Sync::kYes));
  MutexLock lock(mu_);
  Consumer& c = Entry(consumer);
  if (Before(c.position, pos)) c.position = pos;
  return Status::Ok();
}

Status CursorTable::DropExcept(const std::vector<std::string>& keep) {
  MutexLock ordered(write_mu_);
  for (const auto& [key, value] : state_.Scan(kCursorPrefix)) {
    std::string name = key.substr(kCursorPrefix.size());
    if (std::find(keep.begin(), keep.end(), name) != keep.end()) continue;
    logging::Warn("log", "dropping the cursor of an exporter that is no longer configured",
                  {{"exporter", name}});
    SLUICE_RETURN_IF_ERROR(state_.Delete(key, StateFile::Sync::kYes));
    MutexLock lock(mu_);
    consumers_.erase(name);
  }
  return Status::Ok();
}

Position CursorTable::PositionOf(const std::string& consumer) const {
  MutexLock lock(mu_);
  auto it = consumers_.find(consumer);
  return it == consumers_.end() ? Position{} : it->second.position;
}

std::string CursorTable::FirstBefore(const Position& pos) const {
  MutexLock lock(mu_);
  for (const auto& [name, c] : consumers_) {
    if (Before(c.position, pos)) return name;
  }
  return "";
}

std::vector<CursorTable::Eviction> CursorTable::Behind(uint64_t base, const Position& next) const {
  MutexLock lock(mu_);
  std::vector<Eviction> out;
  for (const auto& [name, c] : consumers_) {
    if (!Before(c.position, next)) continue;  // already past the segment
    uint64_t from = std::max(c.position.record_offset, base);
    out.push_back(
        Eviction{name, base, next, next.record_offset > from ? next.record_offset - from : 0});
  }
  return out;
}

Status CursorTable::Evict(const Eviction& e) {
  MutexLock ordered(write_mu_);
  {
    // Looked up, never inserted: a cursor dropped meanwhile stays dropped.
    MutexLock lock(mu_);
    auto it = consumers_.find(e.consumer);
    if (it == consumers_.end() || !Before(it->second.position, e.to)) return Status::Ok();
  }
  SLUICE_RETURN_IF_ERROR(state_.Put(Key(e.consumer), EncodePosition(e.to), StateFile::Sync::kYes));
  MutexLock lock(mu_);
  auto it = consumers_.find(e.consumer);
  if (it == consumers_.end() || !Before(it->second.position, e.to)) return Status::Ok();
  it->second.position = e.to;
  it->second.evicted->Inc(e.records);
  if (e.records > 0) {
    logging::Warn("log", "retention deleted records an exporter had not read",
                  {{"exporter", e.consumer},
                   {"records", e.records},
                   {"segment", SegmentFileName(e.segment)}});
  }
  return Status::Ok();
}

}  // namespace sluice::log
