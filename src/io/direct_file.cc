#include "io/direct_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <utility>

#include "base/thread.h"

namespace sluice::io {
namespace {

constexpr size_t kBlock = 4096;
// Write-behind buffers: while one is written the next ones fill. 1 MiB
// writes run at the disk's full sequential speed; four keep the disk busy
// across the gaps while the appender prepares more.
constexpr size_t kBuffers = 4;
constexpr size_t kStaging = 1 << 20;
constexpr size_t kHugePage = 2 << 20;

uint64_t RoundDown(uint64_t v) {
  return v & ~uint64_t{kBlock - 1};
}
uint64_t RoundUp(uint64_t v) {
  return RoundDown(v + kBlock - 1);
}

// The staging memory of the last closed file, kept for the next one: the
// log closes a segment and opens the next one many times a second at full
// speed, and fresh staging memory costs a page fault per page.
std::mutex spare_mu;
uint8_t* spare_buffers = nullptr;

// Staging memory is mapped directly rather than taken from malloc, so that
// freeing it gives it back to the OS at once (a heap keeps what it frees).
void UnmapBuffers(uint8_t* buffers) {
  if (buffers != nullptr) ::munmap(buffers, kBuffers * kStaging);
}

uint8_t* TakeBuffers() {
  {
    std::lock_guard<std::mutex> lock(spare_mu);
    if (spare_buffers != nullptr) return std::exchange(spare_buffers, nullptr);
  }
  // On 2 MiB pages where the kernel allows (transparent huge pages in
  // `madvise` mode): an O_DIRECT write pins and maps its buffer page by
  // page, and 1 MiB in 4 KiB pages takes the device path a quarter longer
  // than the same write from one huge page. A huge page needs an aligned
  // range: map one page more and cut the ends.
  size_t size = kBuffers * kStaging;
  void* p =
      ::mmap(nullptr, size + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  auto start = reinterpret_cast<uintptr_t>(p);
  uintptr_t aligned = (start + kHugePage - 1) & ~uintptr_t{kHugePage - 1};
  if (aligned > start) ::munmap(p, aligned - start);
  if (uintptr_t end = start + size + kHugePage; end > aligned + size) {
    ::munmap(reinterpret_cast<void*>(aligned + size), end - aligned - size);
  }
  ::madvise(reinterpret_cast<void*>(aligned), size, MADV_HUGEPAGE);
  return reinterpret_cast<uint8_t*>(aligned);
}

// Frees the spare staging memory, if any.
void FreeSpare() {
  uint8_t* spare;
  {
    std::lock_guard<std::mutex> lock(spare_mu);
    spare = std::exchange(spare_buffers, nullptr);
  }
  UnmapBuffers(spare);
}

void ReturnBuffers(uint8_t* buffers) {
  if (buffers == nullptr) return;
  {
    std::lock_guard<std::mutex> lock(spare_mu);
    if (spare_buffers == nullptr) {
      spare_buffers = buffers;
      return;
    }
  }
  UnmapBuffers(buffers);
}

// Appends through O_DIRECT with write-behind: Append copies into one staging
// buffer while a background thread writes the ones filled before it, so the
// caller's copying overlaps the disk's writing instead of alternating with
// it (a synchronous O_DIRECT write holds the caller for the whole device
// round trip).
//
//   file:  | full blocks already on disk | tail block | zero padding |
//                                        ^ block_offset_  ^ logical_size_
//   bufs_[fill_][0, used_) holds the file's bytes from block_offset_ on,
//   starting with the tail block already handed over. Submit() queues that
//   buffer, padded to whole blocks, for the writer thread and starts the
//   next buffer with a copy of the partial last block, which the next write
//   rewrites in place.
//
// Buffers are used round robin and written in the order queued, so writes
// reach the file in order; Submit waits while the next buffer is still
// queued, so a buffer is never filled while it is being written.
//
// The buffers are allocated by the first append and freed by
// ReleaseMemory, which keeps only the partial last block (in tail_).
class DirectWritableFile final : public WritableFile {
 public:
  // `tail`: the file's bytes from its last block boundary to its end.
  DirectWritableFile(std::string path, int fd, uint64_t size, std::span<const uint8_t> tail)
      : path_(std::move(path)),
        fd_(fd),
        logical_size_(size),
        block_offset_(RoundDown(size)),
        used_(tail.size()),
        written_(size) {
    std::memcpy(tail_, tail.data(), tail.size());
    thread_ = std::thread([this] { WriterLoop(); });
  }
  ~DirectWritableFile() override {
    Close().IgnoreError();
    ReturnBuffers(buffers_);
  }
  DirectWritableFile(const DirectWritableFile&) = delete;
  DirectWritableFile& operator=(const DirectWritableFile&) = delete;

  Status Append(std::span<const uint8_t> data) override {
    std::span<const uint8_t> one[1] = {data};
    return AppendV(one);
  }

  Status AppendV(std::span<const std::span<const uint8_t>> pieces) override {
    if (broken_) return BrokenStatus();
    if (buffers_ == nullptr) SLUICE_RETURN_IF_ERROR(AllocateBuffers());
    for (size_t i = 0; i < pieces.size(); ++i) {
      const auto& piece = pieces[i];
      // The pieces are usually batches just written by other threads, so
      // each starts cold in this core's cache: ask for the next ones early.
      for (size_t ahead = i + 1; ahead < std::min(i + 3, pieces.size()); ++ahead) {
        const uint8_t* p = pieces[ahead].data();
        size_t len = std::min<size_t>(pieces[ahead].size(), 4096);
        for (size_t off = 0; off < len; off += 64) __builtin_prefetch(p + off);
      }
      size_t done = 0;
      while (done < piece.size()) {
        size_t n = std::min(piece.size() - done, kStaging - used_);
        std::memcpy(Buffer(fill_) + used_, piece.data() + done, n);
        used_ += n;
        done += n;
        logical_size_ += n;
        unsubmitted_ = true;
        if (used_ == kStaging) SLUICE_RETURN_IF_ERROR(Submit());
      }
    }
    // Hand the rest over now only if the disk is idle; otherwise let it
    // grow while the queued writes go out (bigger writes are faster:
    // per-write latency dominates below a few hundred KiB).
    if (unsubmitted_ && Idle()) SLUICE_RETURN_IF_ERROR(Submit());
    return Status::Ok();
  }

  Status Flush() override {
    if (broken_) return BrokenStatus();
    if (unsubmitted_) SLUICE_RETURN_IF_ERROR(Submit());
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return queued_ == 0; });
    if (!error_.ok()) {
      broken_ = true;
      return error_;
    }
    return Status::Ok();
  }

  Status WaitForWrite() override {
    if (broken_) return BrokenStatus();
    if (unsubmitted_) SLUICE_RETURN_IF_ERROR(Submit());
    std::unique_lock<std::mutex> lock(mu_);
    uint64_t done = completed_;
    cv_.wait(lock, [&] { return queued_ == 0 || completed_ != done; });
    if (!error_.ok()) {
      broken_ = true;
      return error_;
    }
    return Status::Ok();
  }

  Status ReleaseMemory() override {
    SLUICE_RETURN_IF_ERROR(Flush());
    FreeSpare();
    if (buffers_ == nullptr) return Status::Ok();
    // After Flush only the partial last block is left in the buffer.
    std::memcpy(tail_, Buffer(fill_), used_);
    uint8_t* buffers;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (Held& h : held_) h = Held{};  // ReadRecent no longer looks here
      buffers = std::exchange(buffers_, nullptr);
    }
    UnmapBuffers(buffers);
    return Status::Ok();
  }

  Status Sync() override {
    SLUICE_RETURN_IF_ERROR(Flush());
    if (::fdatasync(fd_) != 0) return Status::FromErrno("fdatasync " + path_, errno);
    return Status::Ok();
  }

  // fdatasync covers every pwrite the writer thread has finished.
  Status SyncWritten() override {
    if (::fdatasync(fd_) != 0) return Status::FromErrno("fdatasync " + path_, errno);
    return Status::Ok();
  }

  Status Close() override {
    if (fd_ < 0) return Status::Ok();
    Status flushed = broken_ ? BrokenStatus() : Flush();
    StopWriter();
    if (!flushed.ok()) {
      // What the file holds after a failed write is not known here; the
      // caller cuts it back to the last size it trusts.
      ::close(fd_);
      fd_ = -1;
      return Status::Ok();
    }
    // Trim the padding so the file ends at its last byte.
    int rc = ::ftruncate(fd_, static_cast<off_t>(logical_size_));
    int err = errno;
    if (rc == 0 && ::fdatasync(fd_) != 0) {
      rc = -1;
      err = errno;
    }
    ::close(fd_);
    fd_ = -1;
    if (rc != 0) return Status::FromErrno("close " + path_, err);
    return Status::Ok();
  }

  uint64_t Size() const override { return logical_size_; }

  uint64_t Written() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return written_;
  }

  bool ReadRecent(uint64_t offset, std::span<uint8_t> out) const override {
    std::lock_guard<std::mutex> lock(mu_);
    uint64_t end = offset + out.size();
    if (end > written_) return false;
    // The range may run across consecutive buffers.
    uint64_t at = offset;
    while (at < end) {
      const Held* from = nullptr;
      size_t index = 0;
      for (size_t i = 0; i < kBuffers; ++i) {
        if (held_[i].start <= at && at < held_[i].end) {
          from = &held_[i];
          index = i;
          break;
        }
      }
      if (from == nullptr) return false;
      uint64_t n = std::min(end, from->end) - at;
      std::memcpy(out.data() + (at - offset), Buffer(index) + (at - from->start), n);
      at += n;
    }
    return true;
  }

 private:
  struct Job {
    const uint8_t* data = nullptr;
    size_t length = 0;         // whole blocks
    uint64_t offset = 0;       // block-aligned
    uint64_t logical_end = 0;  // Written() once this job is on disk
  };

  uint8_t* Buffer(size_t i) const { return buffers_ + i * kStaging; }

  // Precondition: nothing is queued (the buffers were never taken, or
  // ReleaseMemory freed them after a Flush).
  Status AllocateBuffers() {
    uint8_t* buffers = TakeBuffers();
    if (buffers == nullptr) return Status::ResourceExhausted("cannot allocate direct I/O buffers");
    std::memcpy(buffers, tail_, used_);
    std::lock_guard<std::mutex> lock(mu_);
    buffers_ = buffers;
    fill_ = 0;
    return Status::Ok();
  }

  // The file bytes [start, end) a buffer holds for ReadRecent: set when it
  // is handed to the writer thread, cleared before it is filled again.
  struct Held {
    uint64_t start = 0;
    uint64_t end = 0;
  };

  Status BrokenStatus() {
    std::lock_guard<std::mutex> lock(mu_);
    return error_.ok() ? Status::IoError("write " + path_ + ": an earlier write failed") : error_;
  }

  bool Idle() const {
    std::lock_guard<std::mutex> lock(mu_);
    return queued_ == 0;
  }

  // Queues Buffer(fill_) for the writer thread and goes on filling the
  // next buffer once it is free.
  Status Submit() {
    size_t padded = static_cast<size_t>(RoundUp(used_));
    std::memset(Buffer(fill_) + used_, 0, padded - used_);
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (!error_.ok()) {
        broken_ = true;
        return error_;
      }
      jobs_[(first_ + queued_) % kBuffers] =
          Job{Buffer(fill_), padded, block_offset_, logical_size_};
      held_[fill_] = Held{block_offset_, logical_size_};
      ++queued_;
      cv_.notify_all();
      // The next buffer is free once fewer than all of them are queued.
      cv_.wait(lock, [&] { return queued_ < kBuffers || !error_.ok(); });
      if (!error_.ok()) {
        broken_ = true;
        return error_;
      }
      held_[(fill_ + 1) % kBuffers] = Held{};  // about to be overwritten
    }
    // The partial last block starts the next buffer; the writer thread only
    // reads the one it was given.
    size_t full = static_cast<size_t>(RoundDown(used_));
    size_t tail = used_ - full;
    size_t next = (fill_ + 1) % kBuffers;
    std::memcpy(Buffer(next), Buffer(fill_) + full, tail);
    fill_ = next;
    block_offset_ += full;
    used_ = tail;
    unsubmitted_ = false;
    return Status::Ok();
  }

  void WriterLoop() {
    SetThreadName("log-io");
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      cv_.wait(lock, [&] { return queued_ > 0 || stop_; });
      if (queued_ == 0) return;  // stop_ is set only when nothing is queued
      Job job = jobs_[first_];
      bool failed_before = !error_.ok();
      lock.unlock();
      Status st = failed_before ? Status::Ok() : Write(job);
      lock.lock();
      if (!st.ok()) {
        error_ = st;
      } else if (error_.ok()) {
        written_ = job.logical_end;
      }
      // After a failure the rest are dropped unwritten: nothing after a
      // hole may reach the file.
      first_ = (first_ + 1) % kBuffers;
      --queued_;
      ++completed_;
      cv_.notify_all();
    }
  }

  Status Write(const Job& job) {
    size_t done = 0;
    while (done < job.length) {
      ssize_t n =
          ::pwrite(fd_, job.data + done, job.length - done, static_cast<off_t>(job.offset + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return Status::FromErrno("write " + path_, errno);
      }
      done += static_cast<size_t>(n);
    }
    return Status::Ok();
  }

  void StopWriter() {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return queued_ == 0; });
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  // Caller's thread.
  std::string path_;
  int fd_;
  uint64_t logical_size_;
  uint64_t block_offset_;
  size_t used_;
  size_t fill_ = 0;
  bool unsubmitted_ = false;
  bool broken_ = false;
  uint8_t tail_[kBlock];  // the partial last block while buffers_ is null

  // kBuffers * kStaging, or null; changed by the caller's thread under mu_
  // (ReadRecent reads it from others).
  uint8_t* buffers_ = nullptr;

  // Shared with the writer thread.
  mutable std::mutex mu_;
  std::condition_variable cv_;
  Job jobs_[kBuffers];
  size_t first_ = 0;   // the oldest queued job
  size_t queued_ = 0;  // jobs queued or being written
  uint64_t completed_ = 0;
  Held held_[kBuffers];
  bool stop_ = false;
  uint64_t written_;
  Status error_;
  std::thread thread_;
};

}  // namespace

Result<std::unique_ptr<WritableFile>> OpenDirect(const std::string& path, OpenMode mode) {
  int flags =
      O_WRONLY | O_CREAT | O_CLOEXEC | O_DIRECT | (mode == OpenMode::kTruncate ? O_TRUNC : 0);
  int fd = ::open(path.c_str(), flags, 0644);
  if (fd < 0) {
    if (errno == EINVAL) return Status::FailedPrecondition("O_DIRECT not supported for " + path);
    return Status::FromErrno("open " + path, errno);
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return Status::FromErrno("stat " + path, err);
  }
  uint64_t size = static_cast<uint64_t>(st.st_size);
  // Load the partial last block, which the next write rewrites.
  uint8_t tail[kBlock];
  uint64_t tail_start = RoundDown(size);
  size_t tail_size = static_cast<size_t>(size - tail_start);
  if (tail_size > 0) {
    int rfd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    ssize_t n = rfd >= 0 ? ::pread(rfd, tail, tail_size, static_cast<off_t>(tail_start)) : -1;
    int err = errno;
    if (rfd >= 0) ::close(rfd);
    if (n != static_cast<ssize_t>(tail_size)) {
      ::close(fd);
      return Status::FromErrno("read tail of " + path, n < 0 ? err : EIO);
    }
  }
  return std::unique_ptr<WritableFile>(
      new DirectWritableFile(path, fd, size, std::span<const uint8_t>(tail, tail_size)));
}

}  // namespace sluice::io
