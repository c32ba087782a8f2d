#pragma once

#include <functional>
#include <string>
#include <thread>

#include "base/clock.h"
#include "base/mutex.h"
#include "io/file_system.h"
#include "log/cursors.h"
#include "log/metrics.h"
#include "log/options.h"
#include "log/segment_table.h"

namespace sluice::log {

// Deletes old segments by age (retention.max_age) and by total size
// (retention.max_bytes, less one segment), never the active one. A segment
// a committed cursor still needs is kept under `when_full: reject` (the
// cursor's consumer is then `blocked_by`), or deleted under `drop_oldest`
// after the cursor has been moved past it and committed.
//
// Threads: its own ("log-retention"), woken every retention_interval and
// whenever Wake() is called (a segment closed, an append refused, a cursor
// committed while blocked); RunPass may also be called from any thread.
// One pass runs at a time (pass_mu_).
//
// Lock order: pass_mu_ before the table's mu, which guards wake_ and
// blocked_by_; the cursor table's locks after both.
class Retention {
 public:
  // `passed` runs after every pass (the log updates its health).
  Retention(const LogOptions& options, io::FileSystem& fs, Clock& clock, LogMetrics& metrics,
            SegmentTable& table, CursorTable& cursors, std::function<void()> passed);
  ~Retention();
  Retention(const Retention&) = delete;
  Retention& operator=(const Retention&) = delete;

  void Start();
  // Joins the thread; the table must be closing (SegmentTable::BeginClose).
  void Stop();

  // Runs one pass now.
  void RunPass() SLUICE_EXCLUDES(pass_mu_, table_.mu);
  // Asks for a pass soon.
  void Wake() SLUICE_EXCLUDES(table_.mu);
  // Wakes the thread without asking for a pass (it looks at the table's
  // closing flag).
  void Notify() { cv_.NotifyOne(); }
  // A cursor moved: if it was holding retention back, a pass may now delete.
  void CursorMoved() SLUICE_EXCLUDES(table_.mu);

  // The consumer holding retention back under `when_full: reject` ("" if
  // none), as of the last pass.
  std::string BlockedBy() const SLUICE_EXCLUDES(table_.mu);
  // BlockedBy(), or else the consumer whose cursor still needs the oldest
  // segment ("" if none).
  std::string Holder() const SLUICE_EXCLUDES(table_.mu);

 private:
  void Loop() SLUICE_EXCLUDES(table_.mu);

  const LogOptions& options_;
  io::FileSystem& fs_;
  Clock& clock_;
  LogMetrics& metrics_;
  SegmentTable& table_;
  CursorTable& cursors_;
  const std::function<void()> passed_;

  Mutex pass_mu_ SLUICE_ACQUIRED_BEFORE(table_.mu);  // one pass at a time
  CondVar cv_;
  bool wake_ SLUICE_GUARDED_BY(table_.mu) = false;
  std::string blocked_by_ SLUICE_GUARDED_BY(table_.mu);
  std::thread thread_;
};

}  // namespace sluice::log
