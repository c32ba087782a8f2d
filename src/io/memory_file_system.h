#pragma once

#include <memory>
#include <string>
#include <vector>

#include "io/file_system.h"

namespace sluice::io {
namespace internal {
struct MemoryFiles;
}  // namespace internal

// A FileSystem held in memory, for fuzz targets and tests that want a fresh,
// hermetic file system per case at no cost: a file is a byte string under its
// path, a directory a path in a set. It keeps the Posix semantics the log
// and its state files rely on: a file opened for writing needs its directory,
// a file stays readable through a handle after it was renamed over or
// removed, Rename replaces its target, and a missing file is NotFound where
// the Posix file system says so. Nothing is durable, so Sync and SyncDir do
// nothing, and there is no direct I/O (OpenDirectWritable is OpenWritable).
// Thread-safe: one lock guards every file.
class MemoryFileSystem final : public FileSystem {
 public:
  MemoryFileSystem();
  ~MemoryFileSystem() override;
  MemoryFileSystem(const MemoryFileSystem&) = delete;
  MemoryFileSystem& operator=(const MemoryFileSystem&) = delete;

  Result<std::unique_ptr<WritableFile>> OpenWritable(const std::string& path,
                                                     OpenMode mode) override;
  Result<std::unique_ptr<RandomAccessFile>> OpenReadable(const std::string& path) override;
  Status CreateDirs(const std::string& path) override;
  Result<std::vector<std::string>> ListDir(const std::string& path) override;
  Status Remove(const std::string& path) override;
  Status Rename(const std::string& from, const std::string& to) override;
  Status Truncate(const std::string& path, uint64_t size) override;
  Status SyncDir(const std::string& path) override;
  Result<uint64_t> FileSize(const std::string& path) override;
  // Counts writes rather than telling time: each write to a file moves its
  // time one nanosecond past the last write to any file.
  Result<int64_t> ModifiedUnixNanos(const std::string& path) override;
  bool Exists(const std::string& path) override;

  // A file's bytes; NotFound when there is none.
  Result<std::string> Contents(const std::string& path);

 private:
  // Shared with the files opened through this file system, which may
  // outlive it.
  std::shared_ptr<internal::MemoryFiles> files_;
};

}  // namespace sluice::io
