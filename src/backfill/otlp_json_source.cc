#include "backfill/otlp_json_source.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <algorithm>

#include "wire/otlp/inspect.h"
#include "wire/otlp/json.h"

namespace sluice::backfill {
namespace {

// A file of the set as positions name it: by its name, so that files
// rotated away or deleted between runs move no other file's positions.
uint64_t FileId(const std::string& path) {
  const std::string_view name = std::string_view(path).substr(path.rfind('/') + 1);
  return XXH3_64bits(name.data(), name.size()) & ~(uint64_t{1} << 63);
}

// The position past the set's last file.
constexpr uint64_t kEndOfSet = UINT64_MAX;

// The signal of an OTLP/JSON request by its top-level key; false for none.
bool SignalOf(std::string_view line, log::Signal* signal) {
  struct Key {
    std::string_view camel, snake;
    log::Signal signal;
  };
  static constexpr Key kKeys[] = {
      {"\"resourceSpans\"", "\"resource_spans\"", log::Signal::kTraces},
      {"\"resourceMetrics\"", "\"resource_metrics\"", log::Signal::kMetrics},
      {"\"resourceLogs\"", "\"resource_logs\"", log::Signal::kLogs},
  };
  // The first key, where writers put it; else anywhere.
  const size_t brace = line.find('{');
  if (brace == std::string_view::npos) return false;
  std::string_view head = line.substr(brace + 1);
  head.remove_prefix(std::min(head.find_first_not_of(" \t\r\n"), head.size()));
  for (const Key& k : kKeys) {
    if (head.starts_with(k.camel) || head.starts_with(k.snake)) {
      *signal = k.signal;
      return true;
    }
  }
  for (const Key& k : kKeys) {
    if (line.find(k.camel) != std::string_view::npos ||
        line.find(k.snake) != std::string_view::npos) {
      *signal = k.signal;
      return true;
    }
  }
  return false;
}

bool Blank(std::string_view line) {
  return line.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

}  // namespace

Result<std::vector<std::string>> OtlpJsonSource::RotatedSet(io::FileSystem& fs,
                                                            const std::string& path) {
  SLUICE_ASSIGN_OR_RETURN(std::vector<std::string> names, io::RotatedCopies(fs, path));
  std::vector<std::string> files;
  const std::string dir = io::DirName(path);
  for (const auto& n : names) files.push_back(dir.empty() ? n : io::JoinPath(dir, n));
  if (fs.Exists(path)) files.push_back(path);
  if (files.empty()) {
    const io::RotatedName name = io::SplitRotatedName(path);
    return Status::NotFound(path + ": no such file, and no rotated files " + name.stem + "-*" +
                            name.ext);
  }
  return files;
}

Result<std::unique_ptr<OtlpJsonSource>> OtlpJsonSource::Open(io::FileSystem& fs, Options options) {
  SLUICE_ASSIGN_OR_RETURN(std::vector<std::string> files, RotatedSet(fs, options.path));
  uint64_t total = 0;
  for (const auto& f : files) {
    SLUICE_ASSIGN_OR_RETURN(uint64_t size, fs.FileSize(f));
    total += size;
  }
  auto source = std::unique_ptr<OtlpJsonSource>(
      new OtlpJsonSource(fs, std::move(options), std::move(files), total));
  SLUICE_RETURN_IF_ERROR(source->OpenFile(0));
  return source;
}

OtlpJsonSource::OtlpJsonSource(io::FileSystem& fs, Options options, std::vector<std::string> files,
                               uint64_t total_bytes)
    : fs_(fs), options_(std::move(options)), files_(std::move(files)), total_bytes_(total_bytes) {}

Status OtlpJsonSource::OpenFile(size_t index) {
  input_.reset();
  rest_ = {};
  line_ = 0;
  resumed_in_file_ = false;
  file_ = index;
  if (index >= files_.size()) return Status::Ok();
  file_id_ = FileId(files_[index]);
  SLUICE_ASSIGN_OR_RETURN(input_, LineInput::Open(fs_, files_[index]));
  rest_offset_ = 0;
  return Status::Ok();
}

Status OtlpJsonSource::Seek(const log::Position& at) {
  if (at.segment == kEndOfSet) return OpenFile(files_.size());
  size_t index = 0;
  while (index < files_.size() && FileId(files_[index]) != at.segment) ++index;
  if (index == files_.size()) {
    return Status::FailedPrecondition(
        "the file the checkpoint stands in is no longer in the set of " + options_.path +
        " (deleted or renamed since): start over with --restart");
  }
  done_bytes_ = 0;
  for (size_t i = 0; i < index; ++i) {
    SLUICE_ASSIGN_OR_RETURN(uint64_t size, fs_.FileSize(files_[i]));
    done_bytes_ += size;
  }
  SLUICE_RETURN_IF_ERROR(OpenFile(index));
  resumed_in_file_ = at.byte_offset > 0;
  SLUICE_RETURN_IF_ERROR(input_->SkipTo(at.byte_offset));
  if (input_->offset() != at.byte_offset) {
    return Status::FailedPrecondition(files_[index] + " is shorter than the checkpoint (" +
                                      std::to_string(at.byte_offset) +
                                      " bytes): it changed since; start over with --restart");
  }
  rest_offset_ = input_->offset();
  return Status::Ok();
}

log::Position OtlpJsonSource::position() const {
  if (file_ >= files_.size()) return {kEndOfSet, 0, record_};
  return {file_id_, rest_offset_, record_};
}

uint64_t OtlpJsonSource::bytes_read() const {
  return done_bytes_ + (input_ ? input_->file_bytes_read() : 0);
}

Status OtlpJsonSource::TakeLine(std::string_view line, std::optional<log::Signal> signal_of,
                                uint64_t offset) {
  ++line_;
  if (Blank(line)) return Status::Ok();
  auto where = [&] {
    return files_[file_] + ": line " + std::to_string(line_) +
           (resumed_in_file_ ? " (counted from where this run began)" : "");
  };
  if (!signal_of) {
    return Status::InvalidArgument(
        where() + ": not an OTLP/JSON request (no resourceSpans, resourceMetrics or resourceLogs)");
  }
  const log::Signal signal = *signal_of;
  proto_.clear();
  Status st = signal == log::Signal::kTraces    ? wire::otlp::TracesJsonToProto(line, &proto_)
              : signal == log::Signal::kMetrics ? wire::otlp::MetricsJsonToProto(line, &proto_)
                                                : wire::otlp::LogsJsonToProto(line, &proto_);
  if (!st.ok()) return Status::InvalidArgument(where() + ": " + st.message());
  wire::otlp::Inspection ins;
  st = signal == log::Signal::kTraces    ? wire::otlp::InspectTraces(proto_, &ins)
       : signal == log::Signal::kMetrics ? wire::otlp::InspectMetrics(proto_, &ins)
                                         : wire::otlp::InspectLogs(proto_, &ins);
  if (!st.ok()) return Status::InvalidArgument(where() + ": " + st.message());
  if (ins.items == 0) return Status::Ok();
  const int64_t min_ms = ins.min_time_unix_nano / 1'000'000;
  const int64_t max_ms = ins.max_time_unix_nano / 1'000'000;
  if (!options_.range.Overlaps(min_ms, max_ms)) {
    skipped_ += ins.items;
    return Status::Ok();
  }
  if (!open_) {
    batch_.signal = signal;
    batch_.encoding = log::Encoding::kOtlpProto;
    batch_.payload.clear();
    batch_.tenant.clear();
    batch_.items = 0;
    batch_.min_event_unix_nanos = ins.min_time_unix_nano;
    batch_.max_event_unix_nanos = ins.max_time_unix_nano;
    batch_.start = {file_id_, offset, record_};
    open_ = true;
  }
  batch_.payload.append(proto_);
  batch_.items += ins.items;
  batch_.min_event_unix_nanos = std::min(batch_.min_event_unix_nanos, ins.min_time_unix_nano);
  batch_.max_event_unix_nanos = std::max(batch_.max_event_unix_nanos, ins.max_time_unix_nano);
  return Status::Ok();
}

Result<bool> OtlpJsonSource::Next(InputBatch* out) {
  for (;;) {
    if (file_ >= files_.size()) break;
    if (rest_.empty()) {
      rest_offset_ = input_->offset();
      SLUICE_ASSIGN_OR_RETURN(rest_, input_->Next(1 << 20));
      if (rest_.empty()) {
        // This file is done; a batch never spans two files.
        done_bytes_ += input_->file_bytes_read();
        SLUICE_RETURN_IF_ERROR(OpenFile(file_ + 1));
        if (open_) break;
        continue;
      }
    }
    const size_t nl = rest_.find('\n');
    const std::string_view line = rest_.substr(0, nl == std::string_view::npos ? rest_.size() : nl);
    std::optional<log::Signal> signal;
    if (log::Signal s; !Blank(line) && SignalOf(line, &s)) signal = s;
    // A line of another signal ends the batch; it starts the next one.
    if (open_ && signal && *signal != batch_.signal) break;
    const uint64_t at = rest_offset_;
    const size_t used = nl == std::string_view::npos ? rest_.size() : nl + 1;
    rest_.remove_prefix(used);
    rest_offset_ += used;
    SLUICE_RETURN_IF_ERROR(TakeLine(line, signal, at));
    if (open_ &&
        (batch_.items >= options_.batch_items || batch_.payload.size() >= options_.batch_bytes)) {
      break;
    }
  }
  if (!open_) return false;
  open_ = false;
  std::swap(*out, batch_);
  record_ += out->items;
  return true;
}

}  // namespace sluice::backfill
