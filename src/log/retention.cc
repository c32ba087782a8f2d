#include "log/retention.h"

#include <algorithm>
#include <utility>

#include "base/logging.h"
#include "base/thread.h"

namespace sluice::log {

Retention::Retention(const LogOptions& options, io::FileSystem& fs, Clock& clock,
                     LogMetrics& metrics, SegmentTable& table, CursorTable& cursors,
                     std::function<void()> passed)
    : options_(options),
      fs_(fs),
      clock_(clock),
      metrics_(metrics),
      table_(table),
      cursors_(cursors),
      passed_(std::move(passed)) {}

Retention::~Retention() {
  Stop();
}

void Retention::Start() {
  thread_ = std::thread([this] {
    SetThreadName("log-retention");
    if (options_.background_threads) SetThreadBackground();
    Loop();
  });
}

void Retention::Stop() {
  cv_.NotifyAll();
  if (thread_.joinable()) thread_.join();
}

void Retention::Wake() {
  {
    MutexLock lock(table_.mu);
    wake_ = true;
  }
  cv_.NotifyOne();
}

void Retention::CursorMoved() {
  {
    MutexLock lock(table_.mu);
    if (!blocked_by_.empty()) wake_ = true;
  }
  cv_.NotifyOne();
}

void Retention::Loop() {
  MutexLock lock(table_.mu);
  while (!table_.closing()) {
    cv_.WaitFor(lock, options_.retention_interval,
                [&]() SLUICE_REQUIRES(table_.mu) { return wake_ || table_.closing(); });
    if (table_.closing()) break;
    wake_ = false;
    lock.Unlock();
    RunPass();
    lock.Lock();
  }
}

std::string Retention::BlockedBy() const {
  MutexLock lock(table_.mu);
  return blocked_by_;
}

std::string Retention::Holder() const {
  MutexLock lock(table_.mu);
  if (!blocked_by_.empty()) return blocked_by_;
  const auto& segments = table_.segments();
  if (segments.size() < 2) return "";
  uint64_t next_base = std::next(segments.begin())->first;
  return cursors_.FirstBefore(Position{next_base, kSegmentHeaderSize, next_base});
}

void Retention::RunPass() {
  MutexLock pass(pass_mu_);
  const uint64_t target = options_.retention.max_bytes > options_.segment_bytes
                              ? options_.retention.max_bytes - options_.segment_bytes
                              : options_.retention.max_bytes;
  while (true) {
    // Plan the deletion of the oldest segment under the lock...
    uint64_t base;
    uint64_t bytes;
    std::vector<CursorTable::Eviction> evictions;  // cursors drop_oldest moves
    {
      MutexLock lock(table_.mu);
      blocked_by_.clear();
      const auto& segments = table_.segments();
      if (segments.size() < 2 || segments.begin()->first == table_.end().segment) break;
      auto it = segments.begin();
      base = it->first;
      bytes = it->second.bytes;
      uint64_t next_base = std::next(it)->first;
      bool over = table_.total_bytes() > target;
      bool expired = clock_.NowUnixNanos() - it->second.newest_unix_nanos >=
                     options_.retention.max_age.count();
      if (!over && !expired) break;
      evictions = cursors_.Behind(base, Position{next_base, kSegmentHeaderSize, next_base});
      if (!evictions.empty() && options_.when_full == WhenFull::kReject) {
        blocked_by_ = evictions.front().consumer;
        break;
      }
    }
    // ...commit every cursor it moves before the segment goes...
    bool committed = true;
    for (const CursorTable::Eviction& e : evictions) {
      Status st = cursors_.Evict(e);
      if (!st.ok()) {
        logging::Error("log", "cannot commit an evicted cursor; keeping the segment",
                       {{"exporter", e.consumer}, {"error", st.ToString()}});
        committed = false;
        break;
      }
    }
    if (!committed) break;
    // ...then delete it.
    {
      MutexLock lock(table_.mu);
      table_.EraseSegment(base, bytes);
    }
    Status st = fs_.Remove(table_.SegmentPath(base));
    if (!st.ok()) logging::Error("log", "cannot delete segment", {{"error", st.ToString()}});
    // Missing when it was never written (an older segment not yet read).
    fs_.Remove(table_.IndexPath(base)).IgnoreError();
    metrics_.deleted_segments.Inc();
  }
  {
    MutexLock lock(table_.mu);
    uint64_t total = table_.total_bytes();
    metrics_.retention_backlog_bytes.Set(static_cast<double>(total > target ? total - target : 0));
  }
  passed_();
}

}  // namespace sluice::log
