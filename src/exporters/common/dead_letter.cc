#include "exporters/common/dead_letter.h"

#include <algorithm>
#include <cstring>

#include "base/crc32c.h"
#include "base/logging.h"

namespace sluice::exporters {
namespace {

// Version 1 entries (no tenant) are still read.
constexpr char kMagicV1[8] = {'S', 'L', 'D', 'L', 'Q', '0', '0', '1'};
constexpr char kMagic[8] = {'S', 'L', 'D', 'L', 'Q', '0', '0', '2'};
constexpr size_t kCrcOffset = 8;
// magic, crc, unix_nanos, signal, items, route_len, reason_len, body_len
constexpr size_t kHeaderSizeV1 = 8 + 4 + 8 + 1 + 8 + 4 + 4 + 8;
// ... tenant_len
constexpr size_t kHeaderSize = kHeaderSizeV1 + 4;
// What List reads of an entry: the header and its strings (the reason is
// cut at 4 KiB; routes and tenants are header-sized).
constexpr uint64_t kListReadBytes = kHeaderSize + (64u << 10);
constexpr std::string_view kSuffix = ".dlq";
constexpr size_t kIdDigits = 20;

void PutU32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}
void PutU64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}
uint64_t GetLE(const char* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(p[i])) << (8 * i);
  return v;
}

// Parses "<20 digits>.dlq"; 0 when the name is not an entry.
uint64_t IdFromName(std::string_view name) {
  if (name.size() != kIdDigits + kSuffix.size() || name.substr(kIdDigits) != kSuffix) return 0;
  uint64_t id = 0;
  for (size_t i = 0; i < kIdDigits; ++i) {
    if (name[i] < '0' || name[i] > '9') return 0;
    id = id * 10 + static_cast<uint64_t>(name[i] - '0');
  }
  return id;
}

struct Parsed {
  DeadLetterQueue::Entry entry;
  std::string_view body;
};

Result<Parsed> ParseHeader(std::string_view data, bool need_body) {
  bool v1 = data.size() >= kHeaderSizeV1 && std::memcmp(data.data(), kMagicV1, 8) == 0;
  size_t header = v1 ? kHeaderSizeV1 : kHeaderSize;
  if (!v1 && (data.size() < kHeaderSize || std::memcmp(data.data(), kMagic, 8) != 0)) {
    return Status::Corruption("not a dead-letter entry");
  }
  const char* p = data.data();
  Parsed out;
  out.entry.unix_nanos = static_cast<int64_t>(GetLE(p + 12, 8));
  out.entry.signal = static_cast<log::Signal>(p[20]);
  out.entry.items = GetLE(p + 21, 8);
  uint64_t route_len = GetLE(p + 29, 4);
  uint64_t reason_len = GetLE(p + 33, 4);
  uint64_t body_len = GetLE(p + 37, 8);
  uint64_t tenant_len = v1 ? 0 : GetLE(p + 45, 4);
  uint64_t strings = route_len + reason_len + tenant_len;
  if (data.size() < header + strings) return Status::Corruption("dead-letter entry truncated");
  out.entry.route = std::string(data.substr(header, route_len));
  out.entry.reason = std::string(data.substr(header + route_len, reason_len));
  out.entry.tenant = std::string(data.substr(header + route_len + reason_len, tenant_len));
  if (need_body) {
    if (data.size() != header + strings + body_len) {
      return Status::Corruption("dead-letter entry has the wrong length");
    }
    uint32_t crc = static_cast<uint32_t>(GetLE(p + kCrcOffset, 4));
    if (Crc32c(data.data() + kCrcOffset + 4, data.size() - kCrcOffset - 4) != crc) {
      return Status::Corruption("dead-letter entry checksum mismatch");
    }
    out.body = data.substr(header + strings);
  }
  return out;
}

Result<std::string> ReadWhole(io::FileSystem& fs, const std::string& path, uint64_t limit) {
  SLUICE_ASSIGN_OR_RETURN(auto file, fs.OpenReadable(path));
  SLUICE_ASSIGN_OR_RETURN(uint64_t size, file->Size());
  size = std::min(size, limit);
  std::string data(size, '\0');
  size_t done = 0;
  while (done < size) {
    SLUICE_ASSIGN_OR_RETURN(
        size_t n,
        file->Read(
            done, std::span<uint8_t>(reinterpret_cast<uint8_t*>(data.data()) + done, size - done)));
    if (n == 0) break;
    done += n;
  }
  data.resize(done);
  return data;
}

}  // namespace

std::string DeadLetterQueue::DirectoryFor(std::string_view storage_directory,
                                          std::string_view exporter) {
  std::string name(exporter);
  std::replace(name.begin(), name.end(), '/', '_');
  return io::JoinPath(io::JoinPath(storage_directory, "dlq"), name);
}

DeadLetterQueue::DeadLetterQueue(io::FileSystem& fs, std::string dir, std::string exporter,
                                 uint64_t max_bytes, telemetry::Registry* registry)
    : fs_(fs), dir_(std::move(dir)), exporter_(std::move(exporter)), max_bytes_(max_bytes) {
  if (registry == nullptr) return;
  evicted_records_ =
      &registry
           ->AddCounter("sluice_dlq_evicted_records_total",
                        "Dead-letter entries deleted to keep the queue in bounds.", {"exporter"})
           .With({exporter_});
  evicted_bytes_ =
      &registry
           ->AddCounter("sluice_dlq_evicted_bytes_total",
                        "Bytes of dead-letter entries deleted to keep it in bounds.", {"exporter"})
           .With({exporter_});
  written_records_ = &registry
                          ->AddCounter("sluice_dlq_written_records_total",
                                       "Requests written to the dead-letter queue.", {"exporter"})
                          .With({exporter_});
  bytes_gauge_ =
      &registry->AddGauge("sluice_dlq_bytes", "Bytes held in the dead-letter queue.", {"exporter"})
           .With({exporter_});
  records_gauge_ =
      &registry
           ->AddGauge("sluice_dlq_records", "Requests held in the dead-letter queue.", {"exporter"})
           .With({exporter_});
}

Result<std::unique_ptr<DeadLetterQueue>> DeadLetterQueue::Open(io::FileSystem& fs,
                                                               std::string directory,
                                                               std::string exporter,
                                                               uint64_t max_bytes,
                                                               telemetry::Registry* registry) {
  std::unique_ptr<DeadLetterQueue> q(
      new DeadLetterQueue(fs, std::move(directory), std::move(exporter), max_bytes, registry));
  SLUICE_RETURN_IF_ERROR(fs.CreateDirs(q->dir_));
  SLUICE_RETURN_IF_ERROR(q->Scan());
  return q;
}

std::string DeadLetterQueue::PathOf(uint64_t id) const {
  std::string digits = std::to_string(id);
  return io::JoinPath(dir_,
                      std::string(kIdDigits - digits.size(), '0') + digits + std::string(kSuffix));
}

Status DeadLetterQueue::Scan() {
  SLUICE_ASSIGN_OR_RETURN(std::vector<std::string> names, fs_.ListDir(dir_));
  std::vector<Held> held;
  for (const auto& name : names) {
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".tmp") == 0) {
      // A Put interrupted by a crash: never acknowledged as kept.
      (void)fs_.Remove(io::JoinPath(dir_, name));
      continue;
    }
    uint64_t id = IdFromName(name);
    if (id == 0) continue;
    Result<uint64_t> size = fs_.FileSize(io::JoinPath(dir_, name));
    if (!size.ok()) continue;
    uint64_t items = 0;
    // Both versions keep the item count at the same place.
    Result<std::string> head = ReadWhole(fs_, io::JoinPath(dir_, name), kHeaderSizeV1);
    if (head.ok() && head->size() == kHeaderSizeV1) items = GetLE(head->data() + 21, 8);
    held.push_back({id, *size, items});
  }
  std::sort(held.begin(), held.end(), [](const Held& a, const Held& b) { return a.id < b.id; });
  std::lock_guard<std::mutex> lock(mu_);
  held_ = std::move(held);
  total_bytes_ = 0;
  for (const auto& h : held_) total_bytes_ += h.bytes;
  next_id_ = held_.empty() ? 1 : held_.back().id + 1;
  UpdateGauges();
  return Status::Ok();
}

void DeadLetterQueue::UpdateGauges() {
  if (bytes_gauge_ != nullptr) bytes_gauge_->Set(static_cast<double>(total_bytes_));
  if (records_gauge_ != nullptr) records_gauge_->Set(static_cast<double>(held_.size()));
}

Status DeadLetterQueue::Put(const pipeline::OutboundRequest& request, std::string_view reason,
                            int64_t unix_nanos) {
  std::string_view why = reason.substr(0, 4096);
  std::string entry;  // the header and its strings here, the body appended once there is room
  entry.reserve(kHeaderSize + request.route.size() + why.size() + request.tenant.size() +
                request.body.size());
  entry.append(kMagic, sizeof kMagic);
  PutU32(entry, 0);  // crc, filled below
  PutU64(entry, static_cast<uint64_t>(unix_nanos));
  entry.push_back(static_cast<char>(request.signal));
  PutU64(entry, request.items);
  PutU32(entry, static_cast<uint32_t>(request.route.size()));
  PutU32(entry, static_cast<uint32_t>(why.size()));
  PutU64(entry, request.body.size());
  PutU32(entry, static_cast<uint32_t>(request.tenant.size()));
  entry += request.route;
  entry += why;
  entry += request.tenant;
  uint32_t crc = Crc32c(entry.data() + kCrcOffset + 4, entry.size() - kCrcOffset - 4);
  crc = Crc32cExtend(crc, request.body.data(), request.body.size());
  for (int i = 0; i < 4; ++i) entry[kCrcOffset + i] = static_cast<char>(crc >> (8 * i));
  const uint64_t size = entry.size() + request.body.size();

  std::unique_lock<std::mutex> lock(mu_);
  if (size > max_bytes_) {
    if (evicted_records_ != nullptr) evicted_records_->Inc();
    if (evicted_bytes_ != nullptr) evicted_bytes_->Inc(size);
    logging::Warn("dlq", "request larger than the dead-letter queue; dropped",
                  {{"exporter", exporter_}, {"bytes", static_cast<int64_t>(size)}});
    return Status::Ok();
  }
  // Make room first, oldest entries out.
  while (!held_.empty() && total_bytes_ + size > max_bytes_) {
    Held victim = held_.front();
    Status st = fs_.Remove(PathOf(victim.id));
    if (!st.ok() && st.code() != StatusCode::kNotFound) return st;
    held_.erase(held_.begin());
    total_bytes_ -= victim.bytes;
    if (evicted_records_ != nullptr) evicted_records_->Inc();
    if (evicted_bytes_ != nullptr) evicted_bytes_->Inc(victim.bytes);
  }
  uint64_t id = next_id_++;
  lock.unlock();

  // Temporary, fsync, rename, fsync of the directory; a failed write removes
  // its temporary, so a full disk leaves no partial entry behind.
  entry += request.body;
  SLUICE_RETURN_IF_ERROR(io::WriteFileAtomically(fs_, PathOf(id), entry));

  lock.lock();
  // Keep held_ ordered by id even when Puts finish out of order.
  auto at = std::upper_bound(held_.begin(), held_.end(), id,
                             [](uint64_t v, const Held& h) { return v < h.id; });
  held_.insert(at, Held{id, size, request.items});
  total_bytes_ += size;
  if (written_records_ != nullptr) written_records_->Inc();
  UpdateGauges();
  return Status::Ok();
}

Result<std::vector<DeadLetterQueue::Entry>> DeadLetterQueue::List() {
  std::vector<Held> held;
  {
    std::lock_guard<std::mutex> lock(mu_);
    held = held_;
  }
  std::vector<Entry> out;
  for (const auto& h : held) {
    Result<std::string> head = ReadWhole(fs_, PathOf(h.id), kListReadBytes);
    if (!head.ok()) continue;  // removed meanwhile
    Result<Parsed> parsed = ParseHeader(*head, false);
    Entry e;
    if (parsed.ok()) {
      e = std::move(parsed->entry);
    } else {
      e.reason = "unreadable: " + parsed.status().message();
      e.readable = false;
    }
    e.id = h.id;
    e.bytes = h.bytes;
    out.push_back(std::move(e));
  }
  return out;
}

Result<pipeline::OutboundRequest> DeadLetterQueue::Read(uint64_t id) {
  SLUICE_ASSIGN_OR_RETURN(std::string data, ReadWhole(fs_, PathOf(id), UINT64_MAX));
  SLUICE_ASSIGN_OR_RETURN(Parsed parsed, ParseHeader(data, true));
  pipeline::OutboundRequest r;
  r.signal = parsed.entry.signal;
  r.route = std::move(parsed.entry.route);
  r.tenant = std::move(parsed.entry.tenant);
  r.items = parsed.entry.items;
  r.body = std::string(parsed.body);
  return r;
}

Status DeadLetterQueue::Remove(uint64_t id) {
  Status st = fs_.Remove(PathOf(id));
  if (!st.ok() && st.code() != StatusCode::kNotFound) return st;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = std::find_if(held_.begin(), held_.end(), [id](const Held& h) { return h.id == id; });
  if (it != held_.end()) {
    total_bytes_ -= it->bytes;
    held_.erase(it);
  }
  UpdateGauges();
  return Status::Ok();
}

Result<uint64_t> DeadLetterQueue::Purge() {
  std::vector<Held> held;
  {
    std::lock_guard<std::mutex> lock(mu_);
    held = held_;
  }
  uint64_t n = 0;
  for (const auto& h : held) {
    SLUICE_RETURN_IF_ERROR(Remove(h.id));
    ++n;
  }
  SLUICE_RETURN_IF_ERROR(fs_.SyncDir(dir_));
  return n;
}

uint64_t DeadLetterQueue::bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return total_bytes_;
}

uint64_t DeadLetterQueue::records() const {
  std::lock_guard<std::mutex> lock(mu_);
  return held_.size();
}

}  // namespace sluice::exporters
