#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backfill/file_input.h"
#include "backfill/series_batcher.h"
#include "backfill/source.h"
#include "relabel/labels.h"
#include "relabel/selector.h"
#include "wire/prom/exposition.h"

namespace sluice::backfill {

// Samples of a Prometheus text (0.0.4) or OpenMetrics file with timestamps,
// the input `promtool tsdb create-blocks-from openmetrics` takes, as remote
// write batches. The file is parsed as it is read (never whole); a sample
// without a timestamp is an error naming its line, since history needs
// one. Samples outside the time range or matching none of the selectors
// (when there are any) are skipped and counted.
//
// Positions: segment 0, byte_offset the content offset of a line start.
// Batches begin only at the start of a piece fed to the parser, so a run
// that resumes there parses whole lines (an OpenMetrics family's TYPE and
// HELP before it are not needed: only samples are sent).
class PromTextSource final : public Source {
 public:
  struct Options {
    std::string path;
    wire::prom::ExpositionFormat format = wire::prom::ExpositionFormat::kOpenMetrics;
    TimeRange range;
    // A sample is sent if any selector matches its series (all, if none).
    std::vector<relabel::Selector> match;
    uint64_t batch_samples = 10'000;
    size_t batch_bytes = 1 << 20;
  };
  static Result<std::unique_ptr<PromTextSource>> Open(io::FileSystem& fs, Options options);

  Status Seek(const log::Position& at) override;
  Result<bool> Next(InputBatch* out) override;
  log::Position position() const override { return {0, input_->offset(), record_}; }
  uint64_t bytes_read() const override { return input_->file_bytes_read(); }
  uint64_t total_bytes() const override { return input_->file_size(); }
  uint64_t skipped_items() const override { return skipped_; }

 private:
  PromTextSource(Options options, std::unique_ptr<LineInput> input);
  // One sample line's sample; false stops the parse (error_ says why).
  bool OnSample(const wire::prom::ExpositionSample& s);
  // Said after a line number when the run did not begin at the file's start.
  std::string Note() const;

  const Options options_;
  std::unique_ptr<LineInput> input_;
  wire::prom::ExpositionParser parser_;
  SeriesBatcher batcher_;
  bool resumed_ = false;  // started past the file's beginning
  uint64_t record_ = 0;   // samples handed out this run (batch ids)
  uint64_t skipped_ = 0;
  Status error_;
  // The series of the last sample, as written, to tell when it changes.
  std::string last_name_;
  relabel::LabelSet last_labels_;
  bool have_last_ = false;
  bool last_wanted_ = false;
  relabel::LabelSet sorted_;  // scratch
};

}  // namespace sluice::backfill
