#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "io/direct_file.h"
#include "io/file_system.h"

namespace sluice::io {
namespace {

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(std::string path, int fd, uint64_t size)
      : path_(std::move(path)), fd_(fd), size_(size) {}
  ~PosixWritableFile() override {
    if (fd_ >= 0) ::close(fd_);
  }
  PosixWritableFile(const PosixWritableFile&) = delete;
  PosixWritableFile& operator=(const PosixWritableFile&) = delete;

  Status Append(std::span<const uint8_t> data) override {
    const uint8_t* p = data.data();
    size_t left = data.size();
    while (left > 0) {
      ssize_t n = ::write(fd_, p, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        return Status::FromErrno("write " + path_, errno);
      }
      p += n;
      left -= static_cast<size_t>(n);
      size_ += static_cast<uint64_t>(n);
    }
    return Status::Ok();
  }

  Status AppendV(std::span<const std::span<const uint8_t>> pieces) override {
    constexpr size_t kMaxIov = 1024;  // IOV_MAX on Linux
    iovec iov[kMaxIov];
    size_t next = 0;  // first piece not yet fully written
    size_t skip = 0;  // bytes of pieces[next] already written
    while (next < pieces.size()) {
      size_t n = 0;
      for (size_t i = next; i < pieces.size() && n < kMaxIov; ++i, ++n) {
        size_t off = i == next ? skip : 0;
        iov[n].iov_base = const_cast<uint8_t*>(pieces[i].data() + off);
        iov[n].iov_len = pieces[i].size() - off;
      }
      ssize_t w = ::writev(fd_, iov, static_cast<int>(n));
      if (w < 0) {
        if (errno == EINTR) continue;
        return Status::FromErrno("write " + path_, errno);
      }
      size_ += static_cast<uint64_t>(w);
      size_t left = static_cast<size_t>(w);
      while (next < pieces.size() && left >= pieces[next].size() - skip) {
        left -= pieces[next].size() - skip;
        skip = 0;
        ++next;
      }
      skip += left;
    }
    return Status::Ok();
  }

  Status Sync() override {
    if (::fdatasync(fd_) != 0) return Status::FromErrno("fdatasync " + path_, errno);
    return Status::Ok();
  }

  Status SyncWritten() override { return Sync(); }

  void StartWriteback(uint64_t offset, uint64_t length) override {
    ::sync_file_range(fd_, static_cast<off64_t>(offset), static_cast<off64_t>(length),
                      SYNC_FILE_RANGE_WRITE);
  }

  Status Close() override {
    if (fd_ < 0) return Status::Ok();
    int rc = ::close(fd_);
    fd_ = -1;
    if (rc != 0) return Status::FromErrno("close " + path_, errno);
    return Status::Ok();
  }

  uint64_t Size() const override { return size_; }

 private:
  std::string path_;
  int fd_;
  uint64_t size_;
};

class PosixRandomAccessFile final : public RandomAccessFile {
 public:
  PosixRandomAccessFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixRandomAccessFile() override { ::close(fd_); }
  PosixRandomAccessFile(const PosixRandomAccessFile&) = delete;
  PosixRandomAccessFile& operator=(const PosixRandomAccessFile&) = delete;

  Result<size_t> Read(uint64_t offset, std::span<uint8_t> out) const override {
    size_t done = 0;
    while (done < out.size()) {
      ssize_t n =
          ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return Status::FromErrno("read " + path_, errno);
      }
      if (n == 0) break;
      done += static_cast<size_t>(n);
    }
    return done;
  }

  Result<uint64_t> Size() const override {
    struct stat st;
    if (::fstat(fd_, &st) != 0) return Status::FromErrno("stat " + path_, errno);
    return static_cast<uint64_t>(st.st_size);
  }

  Result<size_t> ReadCached(uint64_t offset, std::span<uint8_t> out) const override {
    iovec iov{out.data(), out.size()};
    while (true) {
      ssize_t n = ::preadv2(fd_, &iov, 1, static_cast<off_t>(offset), RWF_NOWAIT);
      if (n >= 0) return static_cast<size_t>(n);
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return size_t{0};  // not in memory
      return Read(offset, out);               // RWF_NOWAIT unsupported here: a plain read
    }
  }

  void Prefetch(uint64_t offset, uint64_t length) const override {
    ::posix_fadvise(fd_, static_cast<off_t>(offset), static_cast<off_t>(length),
                    POSIX_FADV_WILLNEED);
  }

 private:
  std::string path_;
  int fd_;
};

// Holds an flock(2) through its descriptor; closing it gives the lock up.
class PosixFileLock final : public FileLock {
 public:
  explicit PosixFileLock(int fd) : fd_(fd) {}
  ~PosixFileLock() override { ::close(fd_); }

 private:
  const int fd_;
};

class PosixFileSystem final : public FileSystem {
 public:
  Result<std::unique_ptr<WritableFile>> OpenWritable(const std::string& path,
                                                     OpenMode mode) override {
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (mode == OpenMode::kTruncate ? O_TRUNC : O_APPEND);
    int fd = ::open(path.c_str(), flags, 0644);
    if (fd < 0) return Status::FromErrno("open " + path, errno);
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      int err = errno;
      ::close(fd);
      return Status::FromErrno("stat " + path, err);
    }
    return std::unique_ptr<WritableFile>(
        new PosixWritableFile(path, fd, static_cast<uint64_t>(st.st_size)));
  }

  Result<std::unique_ptr<WritableFile>> OpenDirectWritable(const std::string& path,
                                                           OpenMode mode) override {
    Result<std::unique_ptr<WritableFile>> direct = OpenDirect(path, mode);
    if (direct.ok() || direct.status().code() != StatusCode::kFailedPrecondition) return direct;
    return OpenWritable(path, mode);
  }

  Result<std::unique_ptr<RandomAccessFile>> OpenReadable(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) return Status::NotFound(path);
      return Status::FromErrno("open " + path, errno);
    }
    // Segments and state files are read front to back: ask for more read-ahead.
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    return std::unique_ptr<RandomAccessFile>(new PosixRandomAccessFile(path, fd));
  }

  Status CreateDirs(const std::string& path) override {
    if (path.empty()) return Status::Ok();
    std::string partial;
    size_t pos = 0;
    while (pos != std::string::npos) {
      pos = path.find('/', pos + 1);
      partial = path.substr(0, pos);
      if (partial.empty()) continue;
      if (::mkdir(partial.c_str(), 0755) != 0 && errno != EEXIST) {
        return Status::FromErrno("mkdir " + partial, errno);
      }
    }
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return Status::FromErrno("stat " + path, errno);
    if (!S_ISDIR(st.st_mode)) return Status::IoError(path + " is not a directory");
    return Status::Ok();
  }

  Result<std::vector<std::string>> ListDir(const std::string& path) override {
    DIR* d = ::opendir(path.c_str());
    if (d == nullptr) return Status::FromErrno("opendir " + path, errno);
    std::vector<std::string> names;
    while (struct dirent* e = ::readdir(d)) {
      std::string_view n(e->d_name);
      if (n == "." || n == "..") continue;
      names.emplace_back(n);
    }
    ::closedir(d);
    return names;
  }

  Status Remove(const std::string& path) override {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return Status::FromErrno("unlink " + path, errno);
    }
    return Status::Ok();
  }

  Status Rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) {
      return Status::FromErrno("rename " + from + " -> " + to, errno);
    }
    return Status::Ok();
  }

  Status Truncate(const std::string& path, uint64_t size) override {
    if (::truncate(path.c_str(), static_cast<off_t>(size)) != 0) {
      return Status::FromErrno("truncate " + path, errno);
    }
    return Status::Ok();
  }

  Status SyncDir(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Status::FromErrno("open dir " + path, errno);
    int rc = ::fsync(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0) return Status::FromErrno("fsync dir " + path, err);
    return Status::Ok();
  }

  Result<uint64_t> FileSize(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
      if (errno == ENOENT) return Status::NotFound(path);
      return Status::FromErrno("stat " + path, errno);
    }
    return static_cast<uint64_t>(st.st_size);
  }

  Result<int64_t> ModifiedUnixNanos(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
      if (errno == ENOENT) return Status::NotFound(path);
      return Status::FromErrno("stat " + path, errno);
    }
    return static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  }

  bool Exists(const std::string& path) override { return ::access(path.c_str(), F_OK) == 0; }

  Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) override {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return Status::FromErrno("open " + path, errno);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      ::close(fd);
      if (err == EWOULDBLOCK)
        return Status::FailedPrecondition(path + " is locked by another user");
      return Status::FromErrno("flock " + path, err);
    }
    return std::unique_ptr<FileLock>(new PosixFileLock(fd));
  }
};

}  // namespace

FileSystem& FileSystem::Posix() {
  static PosixFileSystem fs;
  return fs;
}

bool IsDiskFull(const Status& status) {
  return status.os_error() == ENOSPC || status.os_error() == EDQUOT;
}

RotatedName SplitRotatedName(std::string_view path) {
  const size_t slash = path.rfind('/');
  const std::string_view base = slash == std::string_view::npos ? path : path.substr(slash + 1);
  const size_t dot = base.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return {std::string(base), ""};
  return {std::string(base.substr(0, dot)), std::string(base.substr(dot))};
}

Result<std::vector<std::string>> RotatedCopies(FileSystem& fs, const std::string& path) {
  const RotatedName name = SplitRotatedName(path);
  const std::string dir = DirName(path);
  SLUICE_ASSIGN_OR_RETURN(std::vector<std::string> names, fs.ListDir(dir.empty() ? "." : dir));
  std::vector<std::string> copies;
  const std::string prefix = name.stem + "-";
  for (const auto& n : names) {
    if (n.size() > prefix.size() + name.ext.size() && n.starts_with(prefix) &&
        n.ends_with(name.ext) && n.find(".tmp") == std::string::npos) {
      copies.push_back(n);
    }
  }
  std::sort(copies.begin(), copies.end());
  return copies;
}

std::string JoinPath(std::string_view dir, std::string_view name) {
  std::string p(dir);
  if (!p.empty() && p.back() != '/') p += '/';
  p += name;
  return p;
}

std::string DirName(std::string_view path) {
  size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return ".";
  if (slash == 0) return "/";
  return std::string(path.substr(0, slash));
}

Status WriteFileAtomically(FileSystem& fs, const std::string& path, std::string_view data,
                           Durability durability) {
  const bool synced = durability == Durability::kSynced;
  std::string tmp = path + ".tmp";
  Status st;
  {
    SLUICE_ASSIGN_OR_RETURN(auto file, fs.OpenWritable(tmp, OpenMode::kTruncate));
    st = file->Append({reinterpret_cast<const uint8_t*>(data.data()), data.size()});
    if (st.ok() && synced) st = file->Sync();
    if (st.ok()) st = file->Close();
  }
  if (st.ok()) st = fs.Rename(tmp, path);
  if (!st.ok()) {
    fs.Remove(tmp).IgnoreError();  // no half-written temporary left behind
    return st;
  }
  return synced ? fs.SyncDir(DirName(path)) : Status::Ok();
}

Result<std::string> ReadSmallFile(FileSystem& fs, const std::string& path) {
  SLUICE_ASSIGN_OR_RETURN(auto file, fs.OpenReadable(path));
  SLUICE_ASSIGN_OR_RETURN(uint64_t size, file->Size());
  std::string data(size, '\0');
  SLUICE_ASSIGN_OR_RETURN(size_t n,
                          file->Read(0, {reinterpret_cast<uint8_t*>(data.data()), data.size()}));
  data.resize(n);
  return data;
}

}  // namespace sluice::io
