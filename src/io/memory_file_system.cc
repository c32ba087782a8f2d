#include "io/memory_file_system.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <set>

namespace sluice::io {
namespace internal {

struct MemoryFile {
  std::string data;
  int64_t modified = 0;
};

struct MemoryFiles {
  std::mutex mu;
  // Open files hold their MemoryFile too, so one renamed over or removed
  // stays readable and writable through them, as an unlinked inode does.
  std::map<std::string, std::shared_ptr<MemoryFile>> files;
  std::set<std::string> dirs{"/", "."};
  int64_t writes = 0;

  bool HasDirOf(const std::string& path) const { return dirs.count(DirName(path)) > 0; }
};

}  // namespace internal

namespace {

using internal::MemoryFile;
using internal::MemoryFiles;

class MemoryWritableFile final : public WritableFile {
 public:
  MemoryWritableFile(std::shared_ptr<MemoryFiles> files, std::shared_ptr<MemoryFile> file)
      : files_(std::move(files)), file_(std::move(file)) {}

  Status Append(std::span<const uint8_t> data) override {
    std::lock_guard<std::mutex> lock(files_->mu);
    if (closed_) return Status::FromErrno("write", EBADF);
    file_->data.append(reinterpret_cast<const char*>(data.data()), data.size());
    file_->modified = ++files_->writes;
    return Status::Ok();
  }
  Status Sync() override { return Status::Ok(); }
  Status SyncWritten() override { return Status::Ok(); }
  Status Close() override {
    std::lock_guard<std::mutex> lock(files_->mu);
    closed_ = true;
    return Status::Ok();
  }
  uint64_t Size() const override {
    std::lock_guard<std::mutex> lock(files_->mu);
    return file_->data.size();
  }

 private:
  std::shared_ptr<MemoryFiles> files_;
  std::shared_ptr<MemoryFile> file_;
  bool closed_ = false;  // under files_->mu
};

class MemoryReadableFile final : public RandomAccessFile {
 public:
  MemoryReadableFile(std::shared_ptr<MemoryFiles> files, std::shared_ptr<MemoryFile> file)
      : files_(std::move(files)), file_(std::move(file)) {}

  Result<size_t> Read(uint64_t offset, std::span<uint8_t> out) const override {
    std::lock_guard<std::mutex> lock(files_->mu);
    const std::string& d = file_->data;
    if (offset >= d.size()) return size_t{0};
    size_t n = std::min<uint64_t>(out.size(), d.size() - offset);
    std::memcpy(out.data(), d.data() + offset, n);
    return n;
  }
  Result<uint64_t> Size() const override {
    std::lock_guard<std::mutex> lock(files_->mu);
    return static_cast<uint64_t>(file_->data.size());
  }

 private:
  std::shared_ptr<MemoryFiles> files_;
  std::shared_ptr<MemoryFile> file_;
};

}  // namespace

MemoryFileSystem::MemoryFileSystem() : files_(std::make_shared<MemoryFiles>()) {}
MemoryFileSystem::~MemoryFileSystem() = default;

Result<std::unique_ptr<WritableFile>> MemoryFileSystem::OpenWritable(const std::string& path,
                                                                     OpenMode mode) {
  std::lock_guard<std::mutex> lock(files_->mu);
  if (!files_->HasDirOf(path)) return Status::FromErrno("open " + path, ENOENT);
  if (files_->dirs.count(path) > 0) return Status::FromErrno("open " + path, EISDIR);
  std::shared_ptr<MemoryFile>& file = files_->files[path];
  if (!file) file = std::make_shared<MemoryFile>();
  if (mode == OpenMode::kTruncate) file->data.clear();
  return std::unique_ptr<WritableFile>(new MemoryWritableFile(files_, file));
}

Result<std::unique_ptr<RandomAccessFile>> MemoryFileSystem::OpenReadable(const std::string& path) {
  std::lock_guard<std::mutex> lock(files_->mu);
  auto it = files_->files.find(path);
  if (it == files_->files.end()) return Status::NotFound(path);
  return std::unique_ptr<RandomAccessFile>(new MemoryReadableFile(files_, it->second));
}

Status MemoryFileSystem::CreateDirs(const std::string& path) {
  std::lock_guard<std::mutex> lock(files_->mu);
  for (std::string dir = path; files_->dirs.count(dir) == 0; dir = DirName(dir)) {
    if (files_->files.count(dir) > 0) return Status::IoError(dir + " is not a directory");
    files_->dirs.insert(dir);
  }
  return Status::Ok();
}

Result<std::vector<std::string>> MemoryFileSystem::ListDir(const std::string& path) {
  std::lock_guard<std::mutex> lock(files_->mu);
  if (files_->dirs.count(path) == 0) return Status::FromErrno("opendir " + path, ENOENT);
  std::vector<std::string> names;
  auto add_if_child = [&](const std::string& p) {
    if (p != path && DirName(p) == path) names.push_back(p.substr(p.rfind('/') + 1));
  };
  for (const auto& [p, file] : files_->files) add_if_child(p);
  for (const auto& p : files_->dirs) add_if_child(p);
  return names;
}

Status MemoryFileSystem::Remove(const std::string& path) {
  std::lock_guard<std::mutex> lock(files_->mu);
  files_->files.erase(path);  // a missing file is not an error, as for Posix
  return Status::Ok();
}

Status MemoryFileSystem::Rename(const std::string& from, const std::string& to) {
  std::lock_guard<std::mutex> lock(files_->mu);
  auto it = files_->files.find(from);
  if (it == files_->files.end() || !files_->HasDirOf(to)) {
    return Status::FromErrno("rename " + from + " -> " + to, ENOENT);
  }
  if (from == to) return Status::Ok();
  std::shared_ptr<MemoryFile> file = std::move(it->second);
  files_->files.erase(it);
  files_->files[to] = std::move(file);
  return Status::Ok();
}

Status MemoryFileSystem::Truncate(const std::string& path, uint64_t size) {
  std::lock_guard<std::mutex> lock(files_->mu);
  auto it = files_->files.find(path);
  if (it == files_->files.end()) return Status::FromErrno("truncate " + path, ENOENT);
  it->second->data.resize(size);
  it->second->modified = ++files_->writes;
  return Status::Ok();
}

Status MemoryFileSystem::SyncDir(const std::string& path) {
  std::lock_guard<std::mutex> lock(files_->mu);
  if (files_->dirs.count(path) == 0) return Status::FromErrno("open dir " + path, ENOENT);
  return Status::Ok();
}

Result<uint64_t> MemoryFileSystem::FileSize(const std::string& path) {
  std::lock_guard<std::mutex> lock(files_->mu);
  auto it = files_->files.find(path);
  if (it == files_->files.end()) return Status::NotFound(path);
  return static_cast<uint64_t>(it->second->data.size());
}

Result<int64_t> MemoryFileSystem::ModifiedUnixNanos(const std::string& path) {
  std::lock_guard<std::mutex> lock(files_->mu);
  auto it = files_->files.find(path);
  if (it == files_->files.end()) return Status::NotFound(path);
  return it->second->modified;
}

bool MemoryFileSystem::Exists(const std::string& path) {
  std::lock_guard<std::mutex> lock(files_->mu);
  return files_->files.count(path) > 0 || files_->dirs.count(path) > 0;
}

Result<std::string> MemoryFileSystem::Contents(const std::string& path) {
  std::lock_guard<std::mutex> lock(files_->mu);
  auto it = files_->files.find(path);
  if (it == files_->files.end()) return Status::NotFound(path);
  return it->second->data;
}

}  // namespace sluice::io
