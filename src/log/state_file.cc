#include "log/state_file.h"

#include <cstring>

#include "base/crc32c.h"
#include "base/logging.h"

namespace sluice::log {
namespace {

constexpr char kMagic[8] = {'S', 'L', 'U', 'I', 'C', 'E', 'S', 'T'};
constexpr uint16_t kVersion = 1;
constexpr size_t kHeaderSize = 16;
// crc, length | type, expires, key_len
constexpr size_t kRecordPrefix = 4 + 4;
constexpr size_t kRecordFixed = 1 + 8 + 2;
constexpr uint8_t kPut = 1;
constexpr uint8_t kDelete = 2;
constexpr size_t kMaxRecord = kRecordFixed + StateFile::kMaxKeySize + StateFile::kMaxValueSize;

std::string Header() {
  std::string h(kMagic, sizeof kMagic);
  h.append(reinterpret_cast<const char*>(&kVersion), 2);
  h.append(6, '\0');
  return h;
}

void EncodeRecord(uint8_t type, std::string_view key, std::string_view value, int64_t expires,
                  std::string* out) {
  size_t start = out->size();
  uint32_t length = static_cast<uint32_t>(kRecordFixed + key.size() + value.size());
  uint16_t key_len = static_cast<uint16_t>(key.size());
  out->append(4, '\0');
  out->append(reinterpret_cast<const char*>(&length), 4);
  out->push_back(static_cast<char>(type));
  out->append(reinterpret_cast<const char*>(&expires), 8);
  out->append(reinterpret_cast<const char*>(&key_len), 2);
  out->append(key);
  out->append(value);
  uint32_t crc = Crc32c(out->data() + start + 4, out->size() - start - 4);
  std::memcpy(out->data() + start, &crc, 4);
}

}  // namespace

StateFile::Metrics::Metrics(telemetry::Registry& r)
    : file_bytes(r.AddGauge("sluice_state_file_bytes", "Size of the state file.").Get()),
      compactions(r.AddCounter("sluice_state_compactions_total",
                               "Rewrites of the state file with only its live entries.")
                      .Get()),
      truncated_bytes(r.AddCounter("sluice_state_truncated_bytes_total",
                                   "Bytes of damaged or torn state file tail dropped on open.")
                          .Get()) {}

StateFile::StateFile(Options options, io::FileSystem& fs, Clock& clock,
                     telemetry::Registry& registry)
    : options_(std::move(options)), fs_(fs), clock_(clock), metrics_(registry) {}

Result<std::unique_ptr<StateFile>> StateFile::Open(Options options, io::FileSystem& fs,
                                                   Clock& clock, telemetry::Registry& registry) {
  std::unique_ptr<StateFile> f(new StateFile(std::move(options), fs, clock, registry));
  SLUICE_RETURN_IF_ERROR(fs.CreateDirs(io::DirName(f->options_.path)));
  SLUICE_RETURN_IF_ERROR(f->Replay());
  f->last_compaction_mono_ = clock.MonotonicNanos();
  return f;
}

Status StateFile::Replay() {
  const std::string& path = options_.path;
  if (!fs_.Exists(path)) {
    SLUICE_RETURN_IF_ERROR(io::WriteFileAtomically(fs_, path, Header()));
  }
  SLUICE_ASSIGN_OR_RETURN(auto file, fs_.OpenReadable(path));
  SLUICE_ASSIGN_OR_RETURN(uint64_t size, file->Size());
  std::string buf(kHeaderSize, '\0');
  SLUICE_ASSIGN_OR_RETURN(size_t n,
                          file->Read(0, {reinterpret_cast<uint8_t*>(buf.data()), buf.size()}));
  if (n < kHeaderSize || std::memcmp(buf.data(), kMagic, sizeof kMagic) != 0) {
    return Status::Corruption("state file " + path + " has no valid header");
  }
  uint16_t version;
  std::memcpy(&version, buf.data() + 8, 2);
  if (version != kVersion) {
    return Status::Corruption("state file " + path + " has unsupported version " +
                              std::to_string(version));
  }
  // Stream the records through a bounded window: `ensure` makes file bytes
  // [at, at + n) available in `window`, rereading from `at` when needed.
  constexpr size_t kChunk = 1 << 20;
  std::string window;
  uint64_t window_start = 0;
  Status read_error;
  auto ensure = [&](uint64_t at, size_t n) -> const char* {
    if (at + n > size) return nullptr;
    if (at >= window_start && at + n <= window_start + window.size()) {
      return window.data() + (at - window_start);
    }
    size_t want = static_cast<size_t>(std::min<uint64_t>(std::max(n, kChunk), size - at));
    window.resize(want);
    Result<size_t> got = file->Read(at, {reinterpret_cast<uint8_t*>(window.data()), want});
    if (!got.ok()) {
      read_error = got.status();
      return nullptr;
    }
    window.resize(*got);
    window_start = at;
    return *got >= n ? window.data() : nullptr;
  };
  uint64_t pos = kHeaderSize;
  while (pos < size) {
    const char* p = ensure(pos, kRecordPrefix);
    if (p == nullptr) break;
    uint32_t crc;
    uint32_t length;
    std::memcpy(&crc, p, 4);
    std::memcpy(&length, p + 4, 4);
    if (length < kRecordFixed || length > kMaxRecord) break;
    p = ensure(pos, kRecordPrefix + length);
    if (p == nullptr) break;  // torn
    if (Crc32c(p + 4, 4 + length) != crc) break;
    uint8_t type = static_cast<uint8_t>(p[8]);
    int64_t expires;
    uint16_t key_len;
    std::memcpy(&expires, p + 9, 8);
    std::memcpy(&key_len, p + 17, 2);
    if (kRecordFixed + key_len > length || (type != kPut && type != kDelete)) break;
    std::string key(p + kRecordPrefix + kRecordFixed, key_len);
    if (type == kPut) {
      entries_[key] = Entry{
          std::string(p + kRecordPrefix + kRecordFixed + key_len, length - kRecordFixed - key_len),
          expires};
    } else {
      entries_.erase(key);
    }
    pos += kRecordPrefix + length;
  }
  file.reset();
  SLUICE_RETURN_IF_ERROR(read_error);
  if (pos < size) {
    logging::Warn("state", "truncating damaged state file tail",
                  {{"path", path}, {"at", pos}, {"bytes", size - pos}});
    metrics_.truncated_bytes.Inc(size - pos);
    SLUICE_RETURN_IF_ERROR(fs_.Truncate(path, pos));
  }
  // Expired entries are dropped here, never written as deletions.
  for (auto it = entries_.begin(); it != entries_.end();) {
    it = Live(it->second) ? std::next(it) : entries_.erase(it);
  }
  SLUICE_ASSIGN_OR_RETURN(file_, fs_.OpenWritable(path, io::OpenMode::kAppend));
  size_after_compaction_ = file_->Size();
  metrics_.file_bytes.Set(static_cast<double>(file_->Size()));
  return Status::Ok();
}

std::optional<std::string> StateFile::Get(std::string_view key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end() || !Live(it->second)) return std::nullopt;
  return it->second.value;
}

std::vector<std::pair<std::string, std::string>> StateFile::Scan(std::string_view prefix) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::pair<std::string, std::string>> out;
  for (auto it = entries_.lower_bound(prefix);
       it != entries_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
    if (Live(it->second)) out.emplace_back(it->first, it->second.value);
  }
  return out;
}

Status StateFile::Put(std::string_view key, std::string_view value, Sync sync,
                      int64_t expires_unix_nanos) {
  if (key.size() > kMaxKeySize || value.size() > kMaxValueSize) {
    return Status::InvalidArgument("state entry too large");
  }
  std::lock_guard<std::mutex> lock(mu_);
  SLUICE_RETURN_IF_ERROR(AppendRecord(kPut, key, value, expires_unix_nanos, sync));
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    entries_.emplace(std::string(key), Entry{std::string(value), expires_unix_nanos});
  } else {
    it->second = Entry{std::string(value), expires_unix_nanos};
  }
  return MaybeCompact();
}

Status StateFile::Delete(std::string_view key, Sync sync) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return Status::Ok();
  SLUICE_RETURN_IF_ERROR(AppendRecord(kDelete, key, {}, 0, sync));
  entries_.erase(it);
  return MaybeCompact();
}

Status StateFile::AppendRecord(uint8_t type, std::string_view key, std::string_view value,
                               int64_t expires, Sync sync) {
  if (!file_) return Status::Unavailable("state file is not open");
  record_.clear();
  EncodeRecord(type, key, value, expires, &record_);
  uint64_t before = file_->Size();
  Status st = file_->Append({reinterpret_cast<const uint8_t*>(record_.data()), record_.size()});
  if (st.ok() && sync == Sync::kYes) st = file_->Sync();
  if (!st.ok()) {
    // Leave the file ending on a whole record.
    file_->Close().IgnoreError();
    file_.reset();
    Status repair = fs_.Truncate(options_.path, before);
    if (repair.ok()) {
      auto reopened = fs_.OpenWritable(options_.path, io::OpenMode::kAppend);
      if (reopened.ok()) file_ = std::move(reopened).value();
    }
    return st;
  }
  metrics_.file_bytes.Set(static_cast<double>(file_->Size()));
  return Status::Ok();
}

Status StateFile::MaybeCompact() {
  uint64_t size = file_->Size();
  if (size <= options_.compaction_threshold_bytes || size <= 2 * size_after_compaction_) {
    return Status::Ok();
  }
  if (clock_.MonotonicNanos() - last_compaction_mono_ < options_.compaction_cooldown.count()) {
    return Status::Ok();
  }
  // The record that triggered this is already durable: a failed rewrite is
  // logged and retried after the cooldown, never reported as a failed write.
  Status st = Compact();
  if (!st.ok()) {
    last_compaction_mono_ = clock_.MonotonicNanos();
    logging::Error("state", "state file compaction failed", {{"error", st.ToString()}});
  }
  return Status::Ok();
}

Status StateFile::Compact() {
  std::string snapshot = Header();
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (!Live(it->second)) {
      it = entries_.erase(it);
      continue;
    }
    EncodeRecord(kPut, it->first, it->second.value, it->second.expires, &snapshot);
    ++it;
  }
  SLUICE_RETURN_IF_ERROR(file_->Close());
  file_.reset();
  Status st = io::WriteFileAtomically(fs_, options_.path, snapshot);
  auto reopened = fs_.OpenWritable(options_.path, io::OpenMode::kAppend);
  if (!reopened.ok()) return reopened.status();
  file_ = std::move(reopened).value();
  if (!st.ok()) return st;
  size_after_compaction_ = file_->Size();
  last_compaction_mono_ = clock_.MonotonicNanos();
  ++compactions_;
  metrics_.compactions.Inc();
  metrics_.file_bytes.Set(static_cast<double>(size_after_compaction_));
  return Status::Ok();
}

uint64_t StateFile::file_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return file_ ? file_->Size() : 0;
}

size_t StateFile::live_entries() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (const auto& [k, e] : entries_) n += Live(e) ? 1 : 0;
  return n;
}

uint64_t StateFile::compactions() const {
  std::lock_guard<std::mutex> lock(mu_);
  return compactions_;
}

}  // namespace sluice::log
