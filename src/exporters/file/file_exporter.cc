#include "exporters/file/file_exporter.h"

#include <algorithm>
#include <ctime>

#include "base/logging.h"
#include "exporters/common/delivery.h"
#include "pipeline/read_loop.h"
#include "wire/otlp/json.h"
#include "wire/otlp/traces.h"

namespace sluice::exporters::file {
namespace {

// Splits "dir/name.ext" into "name" and ".ext".
class SpanLines final : public wire::otlp::TracesVisitor {
 public:
  explicit SpanLines(std::string* out) : out_(out) {}
  void OnResourceSpans(std::string_view resource, std::string_view) override {
    resource_ = resource;
  }
  void OnScopeSpans(std::string_view scope, std::string_view) override { scope_ = scope; }
  void OnSpan(const wire::otlp::SpanView& span) override {
    wire::otlp::AppendSpanJson(*out_, resource_, scope_, span);
    out_->push_back('\n');
  }

 private:
  std::string* out_;
  std::string_view resource_;
  std::string_view scope_;
};

// Appends the OTLP/JSON lines of one stored batch (OTLP protobuf):
//   traces           one line per span, its resource and scope embedded;
//   metrics, logs    one line: the batch's Export*ServiceRequest.
Status AppendLines(const log::LogReader::Batch& batch, std::string* out) {
  switch (batch.header.signal) {
    case log::Signal::kTraces: {
      SpanLines visitor(out);
      wire::otlp::TracesSummary summary;
      return wire::otlp::WalkTraces(batch.payload, &visitor, &summary);
    }
    case log::Signal::kMetrics:
      SLUICE_RETURN_IF_ERROR(wire::otlp::AppendMetricsRequestJson(batch.payload, out));
      break;
    case log::Signal::kLogs:
      SLUICE_RETURN_IF_ERROR(wire::otlp::AppendLogsRequestJson(batch.payload, out));
      break;
    default:
      return Status::InvalidArgument("unknown signal");
  }
  out->push_back('\n');
  return Status::Ok();
}

// Writes each batch of its pipelines as one record: its lines, or with zstd
// its lines as one complete zstd frame, so the file is a valid zstd stream
// after every write.
class FileExporter final : public pipeline::Exporter {
 public:
  FileExporter(const pipeline::ComponentSettings& settings, const FileOptions& options,
               pipeline::Runtime& rt)
      : settings_(settings),
        compression_(options.compression),
        start_at_(options.start_at),
        file_(rt.log->fs(), rt.clock, options.path,
              static_cast<uint64_t>(options.rotation.max_megabytes) << 20,
              options.rotation.max_backups),
        rt_(rt),
        unsupported_items_(rt.metrics
                               .AddCounter("sluice_exporter_unsupported_items_total",
                                           "Items skipped because the exporter cannot send their "
                                           "encoding or could not decode them.",
                                           {"exporter"})
                               .With({settings.id})) {}

  Status Start() override {
    SLUICE_RETURN_IF_ERROR(file_.Open());
    pipeline::LogConsumer::Options o;
    o.name = settings_.id;
    for (const auto& p : settings_.pipelines) o.pipeline_ids.push_back(p.id);
    o.start_at = start_at_;
    consumer_ = std::make_unique<pipeline::LogConsumer>(
        rt_, o, [this](const log::LogReader::Batch& b) { return Deliver(b); },
        [this] { return file_.Sync(); });
    return consumer_->Start();
  }

  void Stop(pipeline::Deadline deadline) override {
    if (consumer_) consumer_->Stop(deadline);
    file_.Close().IgnoreError();
  }

 private:
  Status Deliver(const log::LogReader::Batch& batch) {
    if (batch.header.encoding != log::Encoding::kOtlpProto) {
      // Remote write has no OTLP/JSON form.
      unsupported_items_.Inc(batch.header.item_count);
      return Status::Ok();
    }
    lines_.clear();
    Status st = AppendLines(batch, &lines_);
    if (!st.ok()) {
      // Validated on the way in and CRC-checked on disk: this is a bug or
      // corruption that slipped past both. Skip the batch rather than wedge.
      logging::Error("exporter", "stored batch does not decode; skipped",
                     {{"exporter", settings_.id}, {"error", st.ToString()}});
      unsupported_items_.Inc(batch.header.item_count);
      return Status::Ok();
    }
    if (lines_.empty()) return Status::Ok();
    if (compression_ == wire::Compression::kZstd) {
      frame_ = wire::Compress(wire::Compression::kZstd, lines_);
      return file_.Write(frame_);
    }
    return file_.Write(lines_);
  }

  const pipeline::ComponentSettings settings_;
  const wire::Compression compression_;
  const log::StartAt start_at_;
  RotatingFile file_;
  pipeline::Runtime& rt_;
  telemetry::Counter& unsupported_items_;
  std::unique_ptr<pipeline::LogConsumer> consumer_;
  std::string lines_;
  std::string frame_;
};

}  // namespace

Status RotatingFile::Open() {
  SLUICE_RETURN_IF_ERROR(fs_.CreateDirs(io::DirName(path_)));
  SLUICE_ASSIGN_OR_RETURN(file_, fs_.OpenWritable(path_, io::OpenMode::kAppend));
  return Status::Ok();
}

Status RotatingFile::Write(std::string_view data) {
  if (!file_) SLUICE_RETURN_IF_ERROR(Open());
  if (file_->Size() > 0 && file_->Size() + data.size() > max_bytes_) {
    SLUICE_RETURN_IF_ERROR(Rotate());
  }
  return file_->Append({reinterpret_cast<const uint8_t*>(data.data()), data.size()});
}

Status RotatingFile::Sync() {
  return file_ ? file_->Sync() : Status::Ok();
}

Status RotatingFile::Close() {
  if (!file_) return Status::Ok();
  Status st = file_->Sync();
  Status c = file_->Close();
  file_.reset();
  return st.ok() ? c : st;
}

std::string RotatingFile::BackupName(int attempt) const {
  const io::RotatedName name = io::SplitRotatedName(path_);
  int64_t now = clock_.NowUnixNanos();
  std::time_t secs = static_cast<std::time_t>(now / 1'000'000'000);
  std::tm tm;
  gmtime_r(&secs, &tm);
  char stamp[48];
  std::snprintf(stamp, sizeof stamp, "%04d%02d%02dT%02d%02d%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>((now / 1'000'000) % 1000));
  std::string copy = name.stem + "-" + stamp;
  if (attempt > 0) copy += "-" + std::to_string(attempt);
  return io::JoinPath(io::DirName(path_), copy + name.ext);
}

Result<std::vector<std::string>> RotatingFile::Backups() const {
  return io::RotatedCopies(fs_, path_);
}

Status RotatingFile::Rotate() {
  SLUICE_RETURN_IF_ERROR(Close());
  std::string target = BackupName(0);
  for (int attempt = 1; fs_.Exists(target); ++attempt) target = BackupName(attempt);
  SLUICE_RETURN_IF_ERROR(fs_.Rename(path_, target));
  SLUICE_RETURN_IF_ERROR(fs_.SyncDir(io::DirName(path_)));
  SLUICE_RETURN_IF_ERROR(Open());
  if (max_backups_ > 0) {
    SLUICE_ASSIGN_OR_RETURN(std::vector<std::string> backups, Backups());
    while (backups.size() > static_cast<size_t>(max_backups_)) {
      SLUICE_RETURN_IF_ERROR(fs_.Remove(io::JoinPath(io::DirName(path_), backups.front())));
      backups.erase(backups.begin());
    }
  }
  return Status::Ok();
}

const config::Schema<FileOptions>& FileOptionsSchema() {
  static const config::Schema<FileOptions> schema = [] {
    config::Schema<RotationOptions> rotation("file.rotation");
    rotation
        .Int("max_megabytes", &RotationOptions::max_megabytes,
             "The file is rotated before it would grow past this many MiB (of compressed "
             "bytes with zstd).",
             {1, 1 << 20})
        .Int("max_backups", &RotationOptions::max_backups,
             "Rotated files kept; the oldest beyond this are deleted (0 keeps all).", {0, 1 << 20});
    config::Schema<FileOptions> s("file");
    s.String("path", &FileOptions::path,
             "File written to, one OTLP/JSON object per line: a span (with its resource and "
             "scope) for traces, an export request for metrics and logs. Rotated files keep the "
             "extension after the last dot, so with zstd name it e.g. spans.jsonl.zst.")
        .Required()
        .Enum<wire::Compression>(
            "compression", &FileOptions::compression,
            {{"none", wire::Compression::kNone}, {"zstd", wire::Compression::kZstd}},
            "zstd writes each batch as one complete zstd frame, so the file "
            "is a valid zstd stream (`zstd -d`) after every write.")
        .Object("rotation", &FileOptions::rotation, rotation, "")
        .Enum("start_at", &FileOptions::start_at, StartAtChoices(), kStartAtHelp);
    return s;
  }();
  return schema;
}

pipeline::ComponentType FileExporterType() {
  return pipeline::MakeExporterType(
      "file",
      "Writes traces, metrics and logs as OTLP/JSON lines to a file, optionally zstd-compressed, "
      "rotated by size.",
      {log::Signal::kTraces, log::Signal::kMetrics, log::Signal::kLogs}, FileOptionsSchema(),
      [](const pipeline::ComponentSettings& s, const FileOptions& o,
         pipeline::Runtime& rt) -> Result<std::unique_ptr<pipeline::Exporter>> {
        if (o.path.empty()) return Status::InvalidArgument("path must not be empty");
        return std::unique_ptr<pipeline::Exporter>(new FileExporter(s, o, rt));
      });
}

}  // namespace sluice::exporters::file
