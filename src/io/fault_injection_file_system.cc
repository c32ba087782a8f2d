#include "io/fault_injection_file_system.h"

#include <cerrno>

namespace sluice::io {
namespace {

class FaultWritableFile final : public WritableFile {
 public:
  FaultWritableFile(FaultInjectionFileSystem& fs, std::string path,
                    std::unique_ptr<WritableFile> base)
      : fs_(fs), path_(std::move(path)), base_(std::move(base)) {}

  Status Append(std::span<const uint8_t> data) override {
    switch (fs_.OnWrite(path_)) {
      case FaultInjectionFileSystem::Decision::kPass:
        return base_->Append(data);
      case FaultInjectionFileSystem::Decision::kEnospc:
        return Status::FromErrno("write " + path_, ENOSPC);
      case FaultInjectionFileSystem::Decision::kEdquot:
        return Status::FromErrno("write " + path_, EDQUOT);
      case FaultInjectionFileSystem::Decision::kEio:
        return Status::FromErrno("write " + path_, EIO);
      case FaultInjectionFileSystem::Decision::kShortWrite: {
        Status st = base_->Append(data.subspan(0, data.size() / 2));
        if (!st.ok()) return st;
        return Status::FromErrno("write " + path_, EIO);
      }
    }
    return Status::Internal("unreachable");
  }
  Status Sync() override {
    if (fs_.OnSync(path_)) return Status::FromErrno("fdatasync " + path_, EIO);
    return base_->Sync();
  }
  Status SyncWritten() override {
    fs_.WaitWhileSyncsHeld();
    if (fs_.OnSync(path_)) return Status::FromErrno("fdatasync " + path_, EIO);
    return base_->SyncWritten();
  }
  void StartWriteback(uint64_t offset, uint64_t length) override {
    base_->StartWriteback(offset, length);
  }
  Status Close() override { return base_->Close(); }
  uint64_t Size() const override { return base_->Size(); }
  uint64_t Written() const override { return base_->Written(); }
  Status Flush() override { return base_->Flush(); }
  Status WaitForWrite() override { return base_->WaitForWrite(); }
  Status ReleaseMemory() override { return base_->ReleaseMemory(); }
  bool ReadRecent(uint64_t offset, std::span<uint8_t> out) const override {
    return base_->ReadRecent(offset, out);
  }

 private:
  FaultInjectionFileSystem& fs_;
  std::string path_;
  std::unique_ptr<WritableFile> base_;
};

}  // namespace

void FaultInjectionFileSystem::FailWrites(WriteFault fault, int count, std::string path_part) {
  std::lock_guard<std::mutex> lock(mu_);
  write_fault_ = fault;
  write_failures_ = count;
  write_path_ = std::move(path_part);
}

void FaultInjectionFileSystem::FailSyncs(int count, std::string path_part) {
  std::lock_guard<std::mutex> lock(mu_);
  sync_failures_ = count;
  sync_path_ = std::move(path_part);
}

void FaultInjectionFileSystem::FillDisk() {
  std::lock_guard<std::mutex> lock(mu_);
  disk_full_ = true;
}

void FaultInjectionFileSystem::Heal() {
  std::lock_guard<std::mutex> lock(mu_);
  disk_full_ = false;
  write_failures_ = 0;
  sync_failures_ = 0;
}

void FaultInjectionFileSystem::HoldSyncs() {
  std::lock_guard<std::mutex> lock(mu_);
  syncs_held_ = true;
}

void FaultInjectionFileSystem::ReleaseSyncs() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    syncs_held_ = false;
  }
  syncs_released_.notify_all();
}

int FaultInjectionFileSystem::held_syncs() const {
  std::lock_guard<std::mutex> lock(mu_);
  return held_syncs_;
}

void FaultInjectionFileSystem::WaitWhileSyncsHeld() {
  std::unique_lock<std::mutex> lock(mu_);
  ++held_syncs_;
  syncs_released_.wait(lock, [&] { return !syncs_held_; });
  --held_syncs_;
}

FaultInjectionFileSystem::Decision FaultInjectionFileSystem::OnWrite(const std::string& path) {
  writes_.fetch_add(1);
  std::lock_guard<std::mutex> lock(mu_);
  if (disk_full_) {
    injected_.fetch_add(1);
    return Decision::kEnospc;
  }
  if (write_failures_ == 0 || path.find(write_path_) == std::string::npos) return Decision::kPass;
  --write_failures_;
  injected_.fetch_add(1);
  switch (write_fault_) {
    case WriteFault::kEnospc:
      return Decision::kEnospc;
    case WriteFault::kEdquot:
      return Decision::kEdquot;
    case WriteFault::kEio:
      return Decision::kEio;
    case WriteFault::kShortWriteThenEio:
      return Decision::kShortWrite;
  }
  return Decision::kEio;
}

bool FaultInjectionFileSystem::OnSync(const std::string& path) {
  syncs_.fetch_add(1);
  std::lock_guard<std::mutex> lock(mu_);
  if (sync_failures_ == 0 || path.find(sync_path_) == std::string::npos) return false;
  --sync_failures_;
  injected_.fetch_add(1);
  return true;
}

Result<std::unique_ptr<WritableFile>> FaultInjectionFileSystem::OpenWritable(
    const std::string& path, OpenMode mode) {
  SLUICE_ASSIGN_OR_RETURN(auto base, base().OpenWritable(path, mode));
  return std::unique_ptr<WritableFile>(new FaultWritableFile(*this, path, std::move(base)));
}

}  // namespace sluice::io

namespace sluice::io {

Result<std::unique_ptr<WritableFile>> FaultInjectionFileSystem::OpenDirectWritable(
    const std::string& path, OpenMode mode) {
  SLUICE_ASSIGN_OR_RETURN(auto base, base().OpenDirectWritable(path, mode));
  return std::unique_ptr<WritableFile>(new FaultWritableFile(*this, path, std::move(base)));
}

}  // namespace sluice::io
