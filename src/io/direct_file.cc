#include "io/direct_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace sluice::io {
namespace {

constexpr size_t kBlock = 4096;
constexpr size_t kStaging = 4 << 20;

uint64_t RoundDown(uint64_t v) {
  return v & ~uint64_t{kBlock - 1};
}
uint64_t RoundUp(uint64_t v) {
  return RoundDown(v + kBlock - 1);
}

// Appends through O_DIRECT from an aligned staging buffer.
//
//   file:  | full blocks already on disk | tail block | zero padding |
//                                        ^ block_offset_  ^ logical_size_
//   staging_[0, tail) holds the tail block's bytes; each Append copies new
//   bytes after them and writes [block_offset_, RoundUp(end)) with one pwrite
//   per staging buffer's worth, then keeps the new partial block.
//
// Invariant: staging_[0, logical_size_ - block_offset_) equals the file's
// bytes at [block_offset_, logical_size_).
class DirectWritableFile final : public WritableFile {
 public:
  DirectWritableFile(std::string path, int fd, uint64_t size, uint8_t* staging)
      : path_(std::move(path)),
        fd_(fd),
        logical_size_(size),
        block_offset_(RoundDown(size)),
        staging_(staging) {}
  ~DirectWritableFile() override {
    Close().IgnoreError();
    std::free(staging_);
  }
  DirectWritableFile(const DirectWritableFile&) = delete;
  DirectWritableFile& operator=(const DirectWritableFile&) = delete;

  Status Append(std::span<const uint8_t> data) override {
    std::span<const uint8_t> one[1] = {data};
    return AppendV(one);
  }

  Status AppendV(std::span<const std::span<const uint8_t>> pieces) override {
    if (broken_) return Status::IoError("write " + path_ + ": an earlier write failed");
    size_t used = static_cast<size_t>(logical_size_ - block_offset_);
    for (const auto& piece : pieces) {
      size_t done = 0;
      while (done < piece.size()) {
        size_t n = std::min(piece.size() - done, kStaging - used);
        std::memcpy(staging_ + used, piece.data() + done, n);
        used += n;
        done += n;
        logical_size_ += n;
        if (used == kStaging) {
          SLUICE_RETURN_IF_ERROR(WriteStaging(used));
          used = 0;
        }
      }
    }
    if (used > 0) SLUICE_RETURN_IF_ERROR(WriteStaging(used));
    return Status::Ok();
  }

  Status Sync() override {
    if (::fdatasync(fd_) != 0) return Status::FromErrno("fdatasync " + path_, errno);
    return Status::Ok();
  }

  Status Close() override {
    if (fd_ < 0) return Status::Ok();
    if (broken_) {
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

 private:
  // Writes staging_[0, used) at block_offset_, padded to whole blocks; then
  // keeps only the partial last block at the front of staging_.
  Status WriteStaging(size_t used) {
    size_t padded = static_cast<size_t>(RoundUp(used));
    std::memset(staging_ + used, 0, padded - used);
    size_t written = 0;
    while (written < padded) {
      ssize_t n = ::pwrite(fd_, staging_ + written, padded - written,
                           static_cast<off_t>(block_offset_ + written));
      if (n < 0) {
        if (errno == EINTR) continue;
        int err = errno;
        // The staging buffer no longer matches the file: refuse further
        // writes and leave the file's size to the caller's repair.
        broken_ = true;
        return Status::FromErrno("write " + path_, err);
      }
      written += static_cast<size_t>(n);
    }
    size_t full = static_cast<size_t>(RoundDown(used));
    if (full > 0) {
      std::memmove(staging_, staging_ + full, used - full);
      block_offset_ += full;
    }
    return Status::Ok();
  }

  std::string path_;
  int fd_;
  uint64_t logical_size_;
  uint64_t block_offset_;
  uint8_t* staging_;
  bool broken_ = false;
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
  void* staging = nullptr;
  if (posix_memalign(&staging, kBlock, kStaging + kBlock) != 0) {
    ::close(fd);
    return Status::ResourceExhausted("cannot allocate a direct I/O buffer");
  }
  // Load the partial last block, which the next write rewrites.
  uint64_t tail_start = RoundDown(size);
  if (size > tail_start) {
    int rfd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    ssize_t n =
        rfd >= 0 ? ::pread(rfd, staging, size - tail_start, static_cast<off_t>(tail_start)) : -1;
    int err = errno;
    if (rfd >= 0) ::close(rfd);
    if (n != static_cast<ssize_t>(size - tail_start)) {
      ::close(fd);
      std::free(staging);
      return Status::FromErrno("read tail of " + path, n < 0 ? err : EIO);
    }
  }
  return std::unique_ptr<WritableFile>(
      new DirectWritableFile(path, fd, size, static_cast<uint8_t*>(staging)));
}

}  // namespace sluice::io
