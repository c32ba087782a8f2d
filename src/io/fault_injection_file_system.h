#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>

#include "io/file_system.h"

namespace sluice::io {

// A FileSystem that forwards to another and injects the failures disks
// produce: ENOSPC, EDQUOT, EIO, a short write followed by an error, and a failed
// fdatasync. Faults are armed for a number of operations on paths containing
// a substring, so a test can fail exactly the segment write it means to.
// Thread-safe.
class FaultInjectionFileSystem final : public ForwardingFileSystem {
 public:
  enum class WriteFault {
    kEnospc,             // nothing written, ENOSPC
    kEdquot,             // nothing written, EDQUOT (the user's quota is used up)
    kEio,                // nothing written, EIO
    kShortWriteThenEio,  // the first half written, then EIO
  };

  explicit FaultInjectionFileSystem(FileSystem& base) : ForwardingFileSystem(base) {}

  // The next `count` appends to files whose path contains `path_part` fail.
  void FailWrites(WriteFault fault, int count = 1, std::string path_part = "");
  // The next `count` syncs of files whose path contains `path_part` fail (EIO).
  void FailSyncs(int count = 1, std::string path_part = "");
  // Every later append fails with ENOSPC until Heal().
  void FillDisk();
  void Heal();
  // While held, a SyncWritten (the log's background sync) waits inside the
  // file system, as on a disk slow to flush; ReleaseSyncs lets it finish.
  void HoldSyncs();
  void ReleaseSyncs();
  // SyncWritten calls waiting in HoldSyncs.
  int held_syncs() const;

  uint64_t writes() const { return writes_.load(); }
  uint64_t syncs() const { return syncs_.load(); }
  uint64_t injected() const { return injected_.load(); }

  // Consulted by files opened through this file system.
  enum class Decision { kPass, kEnospc, kEdquot, kEio, kShortWrite };
  Decision OnWrite(const std::string& path);
  bool OnSync(const std::string& path);  // true: fail this sync
  void WaitWhileSyncsHeld();

  Result<std::unique_ptr<WritableFile>> OpenWritable(const std::string& path,
                                                     OpenMode mode) override;
  Result<std::unique_ptr<WritableFile>> OpenDirectWritable(const std::string& path,
                                                           OpenMode mode) override;

 private:
  mutable std::mutex mu_;
  std::condition_variable syncs_released_;
  bool syncs_held_ = false;
  int held_syncs_ = 0;
  WriteFault write_fault_ = WriteFault::kEio;
  int write_failures_ = 0;
  std::string write_path_;
  int sync_failures_ = 0;
  std::string sync_path_;
  bool disk_full_ = false;
  std::atomic<uint64_t> writes_{0};
  std::atomic<uint64_t> syncs_{0};
  std::atomic<uint64_t> injected_{0};
};

}  // namespace sluice::io
