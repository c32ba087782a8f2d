#include "backfill/prom_text_source.h"

#include "wire/prom/remote_write.h"

namespace sluice::backfill {
namespace {

// Pieces fed to the parser at once: a batch begins only between pieces.
constexpr size_t kPieceBytes = 64 << 10;

}  // namespace

Result<std::unique_ptr<PromTextSource>> PromTextSource::Open(io::FileSystem& fs, Options options) {
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<LineInput> input, LineInput::Open(fs, options.path));
  return std::unique_ptr<PromTextSource>(new PromTextSource(std::move(options), std::move(input)));
}

PromTextSource::PromTextSource(Options options, std::unique_ptr<LineInput> input)
    : options_(std::move(options)),
      input_(std::move(input)),
      parser_(options_.format),
      batcher_(options_.batch_samples, options_.batch_bytes) {}

Status PromTextSource::Seek(const log::Position& at) {
  resumed_ = at.byte_offset > 0;
  SLUICE_RETURN_IF_ERROR(input_->SkipTo(at.byte_offset));
  if (input_->offset() != at.byte_offset) {
    return Status::FailedPrecondition(options_.path + " is shorter than the checkpoint (" +
                                      std::to_string(at.byte_offset) +
                                      " bytes): it changed since; start over with --restart");
  }
  return Status::Ok();
}

std::string PromTextSource::Note() const {
  return resumed_ ? " (lines counted from where this run began)" : "";
}

bool PromTextSource::OnSample(const wire::prom::ExpositionSample& s) {
  // The same series as the last sample? Compared as written: one file
  // writes a series' labels the same way every time.
  bool same = have_last_ && s.name == last_name_ && s.labels.size() == last_labels_.size();
  for (size_t i = 0; same && i < s.labels.size(); ++i) {
    same = s.labels[i].name == last_labels_[i].name && s.labels[i].value == last_labels_[i].value;
  }
  if (!same) {
    last_name_.assign(s.name);
    last_labels_.Clear();
    sorted_.Clear();
    sorted_.Add("__name__", s.name);
    for (const auto& l : s.labels) {
      last_labels_.Add(l.name, l.value);
      if (l.name != "__name__") sorted_.Add(l.name, l.value);
    }
    have_last_ = true;
    sorted_.Sort();
    last_wanted_ = options_.match.empty();
    for (const auto& m : options_.match) {
      if (m.Matches(sorted_)) {
        last_wanted_ = true;
        break;
      }
    }
    batcher_.EndSeries();
    if (last_wanted_) batcher_.BeginSeries(sorted_);
  }
  if (!s.has_timestamp) {
    error_ = Status::InvalidArgument(
        options_.path + ": line " + std::to_string(parser_.lines()) +
        (resumed_ ? " (counted from where this run began)" : "") +
        ": a sample without a timestamp (a history file needs one on every sample)");
    return false;
  }
  if (!last_wanted_ || !options_.range.Contains(s.timestamp_ms) ||
      !wire::prom::TimestampInRange(s.timestamp_ms)) {
    ++skipped_;
    return true;
  }
  if (!batcher_.in_series()) batcher_.BeginSeries(sorted_);
  batcher_.AddSample(s.timestamp_ms, s.value);
  return true;
}

Result<bool> PromTextSource::Next(InputBatch* out) {
  // Batches end at a piece's end, so this one begins where reading stands.
  log::Position start = position();
  bool stopped = false;
  while (!batcher_.Full()) {
    SLUICE_ASSIGN_OR_RETURN(std::string_view lines, input_->Next(kPieceBytes));
    if (lines.empty()) {
      if (!resumed_ || options_.format != wire::prom::ExpositionFormat::kOpenMetrics ||
          parser_.lines() > 0) {
        Status st = parser_.Finish([&](const wire::prom::ExpositionSample& s) {
          if (!stopped && !OnSample(s)) stopped = true;
        });
        if (!error_.ok()) return error_;
        if (!st.ok()) return Status::InvalidArgument(options_.path + ": " + st.message() + Note());
      }
      break;
    }
    Status st = parser_.Feed(lines, [&](const wire::prom::ExpositionSample& s) {
      if (!stopped && !OnSample(s)) stopped = true;
    });
    if (!error_.ok()) return error_;
    if (!st.ok()) return Status::InvalidArgument(options_.path + ": " + st.message() + Note());
  }
  if (batcher_.empty()) return false;
  batcher_.Take(out);
  start.record_offset = record_;
  record_ += out->items;
  out->start = start;
  return true;
}

}  // namespace sluice::backfill
