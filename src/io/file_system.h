#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "base/status.h"

namespace sluice::io {

// A file opened for appending. Durability contract:
//   Append() returns once the bytes are in the OS page cache (not durable);
//   Sync()   returns once the bytes appended so far are on stable storage.
// A failed Append may have written a prefix; the caller owns recovery (the log
// truncates back to its last whole batch). Not thread-safe.
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  virtual Status Append(std::span<const uint8_t> data) = 0;
  // Appends the pieces in order, as one write where the OS allows (writev),
  // so callers need not copy them into one buffer first. Same failure
  // contract as Append: a prefix may have been written.
  virtual Status AppendV(std::span<const std::span<const uint8_t>> pieces) {
    for (const auto& p : pieces) SLUICE_RETURN_IF_ERROR(Append(p));
    return Status::Ok();
  }
  virtual Status Sync() = 0;
  // Makes durable the bytes that had reached the OS (below Written()) when
  // it was called; bytes still held by write-behind are not waited for.
  // Unlike the rest, may run on another thread while the owner goes on
  // appending (not while it closes the file), so a periodic sync need not
  // stop the appends.
  virtual Status SyncWritten() = 0;
  // Asks the kernel to start writing [offset, offset + length) to disk now,
  // without waiting (a hint: keeps dirty pages few so writes are not
  // throttled, and leaves less for the next Sync). Durability still comes
  // only from Sync.
  virtual void StartWriteback(uint64_t offset, uint64_t length) {
    (void)offset;
    (void)length;
  }
  virtual Status Close() = 0;
  // Bytes in the file, including what was there when opened.
  virtual uint64_t Size() const = 0;

  // Write-behind. A file may return from Append before its bytes reach the
  // OS and write them in the background, in order (the direct-I/O file does,
  // so its caller can prepare the next write while the disk takes this one).
  // Written() is how many of Size() bytes have reached the OS; Flush() waits
  // until all have. A background write's failure is returned by the next
  // Append, Flush or Sync, and Written() stays at the last byte before it.
  // Sync() includes Flush(). Files without write-behind have Written() ==
  // Size() at all times.
  virtual uint64_t Written() const { return Size(); }
  virtual Status Flush() { return Status::Ok(); }
  // Hands any buffered bytes to the OS and waits until at least one more
  // write has finished (or none is left): lets a caller act on each write
  // as it lands rather than on the last.
  virtual Status WaitForWrite() { return Flush(); }
  // The caller expects no appends for a while: the file writes out what it
  // holds and frees its write-behind memory, allocating it again on the
  // next append. An error is that of the write-out, as Flush.
  virtual Status ReleaseMemory() { return Flush(); }

  // Copies bytes [offset, offset + out.size()) that have reached the OS
  // (below Written()) from the file's own memory, if it still holds all of
  // them; false otherwise (read the file instead). A file written around
  // the page cache keeps its last few write buffers this way, so that
  // readers close behind the writer need not go to the disk. Thread-safe:
  // may be called from any thread while the file is open.
  virtual bool ReadRecent(uint64_t offset, std::span<uint8_t> out) const {
    (void)offset;
    (void)out;
    return false;
  }
};

// A file read by offset. Thread-safe: Read may be called concurrently.
class RandomAccessFile {
 public:
  virtual ~RandomAccessFile() = default;
  // Reads up to out.size() bytes at offset; returns the count read (0 at EOF).
  virtual Result<size_t> Read(uint64_t offset, std::span<uint8_t> out) const = 0;
  virtual Result<uint64_t> Size() const = 0;
  // Tells the OS that [offset, offset + length) will be read soon, so it
  // starts reading it in the background. Best effort; no-op by default.
  virtual void Prefetch(uint64_t /*offset*/, uint64_t /*length*/) const {}
  // Reads what of [offset, offset + out.size()) the OS holds in memory, up
  // to the first byte it would have to wait for the disk for; returns the
  // count read. By default (a file system that cannot tell) reads it all.
  virtual Result<size_t> ReadCached(uint64_t offset, std::span<uint8_t> out) const {
    return Read(offset, out);
  }
};

enum class OpenMode { kTruncate, kAppend };

// An exclusive hold on a path, given up when destroyed (FileSystem::LockFile).
class FileLock {
 public:
  virtual ~FileLock() = default;
};

// Every file operation the log and state files perform goes through here.
class FileSystem {
 public:
  virtual ~FileSystem() = default;
  virtual Result<std::unique_ptr<WritableFile>> OpenWritable(const std::string& path,
                                                             OpenMode mode) = 0;
  // A file written around the page cache (O_DIRECT) where the file system
  // allows it, with write-behind (see WritableFile::Written). The file may
  // carry zero padding past Size() until Close() trims it. Falls back to
  // OpenWritable where direct I/O is not supported.
  virtual Result<std::unique_ptr<WritableFile>> OpenDirectWritable(const std::string& path,
                                                                   OpenMode mode) {
    return OpenWritable(path, mode);
  }
  virtual Result<std::unique_ptr<RandomAccessFile>> OpenReadable(const std::string& path) = 0;
  virtual Status CreateDirs(const std::string& path) = 0;
  // File names (not paths) in a directory, unsorted; excludes "." and "..".
  virtual Result<std::vector<std::string>> ListDir(const std::string& path) = 0;
  virtual Status Remove(const std::string& path) = 0;
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  virtual Status Truncate(const std::string& path, uint64_t size) = 0;
  virtual Status SyncDir(const std::string& path) = 0;
  virtual Result<uint64_t> FileSize(const std::string& path) = 0;
  // Last modification time (for age-based retention of segments written
  // before this process started).
  virtual Result<int64_t> ModifiedUnixNanos(const std::string& path) = 0;
  virtual bool Exists(const std::string& path) = 0;
  // Takes an exclusive lock on `path` (a file, created if missing) for as
  // long as the returned object lives; while it does, another LockFile of
  // the same path fails with FailedPrecondition, in this process or another
  // (flock(2) on the real file system; the operating system gives it up when
  // the process dies). A file system no other process can see (in memory)
  // hands out a lock that excludes nothing.
  virtual Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) {
    (void)path;
    return std::make_unique<FileLock>();
  }

  // The real file system.
  static FileSystem& Posix();
};

// A FileSystem that hands every call to another: the base of file systems
// that change a few operations (fault injection, counting in tests) and
// pass the rest through.
class ForwardingFileSystem : public FileSystem {
 public:
  explicit ForwardingFileSystem(FileSystem& base) : base_(base) {}
  Result<std::unique_ptr<WritableFile>> OpenWritable(const std::string& path,
                                                     OpenMode mode) override {
    return base_.OpenWritable(path, mode);
  }
  Result<std::unique_ptr<WritableFile>> OpenDirectWritable(const std::string& path,
                                                           OpenMode mode) override {
    return base_.OpenDirectWritable(path, mode);
  }
  Result<std::unique_ptr<RandomAccessFile>> OpenReadable(const std::string& path) override {
    return base_.OpenReadable(path);
  }
  Status CreateDirs(const std::string& path) override { return base_.CreateDirs(path); }
  Result<std::vector<std::string>> ListDir(const std::string& path) override {
    return base_.ListDir(path);
  }
  Status Remove(const std::string& path) override { return base_.Remove(path); }
  Status Rename(const std::string& from, const std::string& to) override {
    return base_.Rename(from, to);
  }
  Status Truncate(const std::string& path, uint64_t size) override {
    return base_.Truncate(path, size);
  }
  Status SyncDir(const std::string& path) override { return base_.SyncDir(path); }
  Result<uint64_t> FileSize(const std::string& path) override { return base_.FileSize(path); }
  Result<int64_t> ModifiedUnixNanos(const std::string& path) override {
    return base_.ModifiedUnixNanos(path);
  }
  bool Exists(const std::string& path) override { return base_.Exists(path); }
  Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) override {
    return base_.LockFile(path);
  }

 protected:
  FileSystem& base() { return base_; }

 private:
  FileSystem& base_;
};

// Whether an error from this layer means the disk (or the user's quota) is
// full: ENOSPC or EDQUOT, read from the errno the failing call recorded
// (Status::os_error), never from the message text. Such a failure is
// expected to clear once space is freed, unlike EIO.
bool IsDiskFull(const Status& status);

// Whether WriteFileAtomically makes the new content durable before returning.
enum class Durability {
  kSynced,    // fsync the file and, after the rename, the directory
  kUnsynced,  // for files rebuilt when lost or torn (a checksum tells)
};
// Replaces `path` with `data` so that readers see either the old or the new
// content, never a partial one: write path.tmp, rename over path. kSynced
// (the default) also fsyncs both, so that a crash leaves one or the other.
Status WriteFileAtomically(FileSystem& fs, const std::string& path, std::string_view data,
                           Durability durability = Durability::kSynced);
// Reads a whole small file.
Result<std::string> ReadSmallFile(FileSystem& fs, const std::string& path);

std::string JoinPath(std::string_view dir, std::string_view name);

// A file rotated by size, as the `file` exporter rotates its output: the
// rotated copies of `dir/<stem><ext>` are `dir/<stem>-<time><ext>`, where
// <ext> runs from the last dot of the file's name ("" without one) and
// <time> sorts as it passes, so name order is age order.
struct RotatedName {
  std::string stem;  // of the file's name, without its directory
  std::string ext;
};
RotatedName SplitRotatedName(std::string_view path);
// The names (not paths) of the rotated copies of `path`, oldest first,
// without `path` itself and without files being written (".tmp").
Result<std::vector<std::string>> RotatedCopies(FileSystem& fs, const std::string& path);
std::string DirName(std::string_view path);

}  // namespace sluice::io
