#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backfill/file_input.h"
#include "backfill/source.h"

namespace sluice::backfill {

// OTLP/JSON lines as the `file` exporter writes them (one export request,
// or one span with its resource and scope, per line; plain or zstd), from
// a file and the files it was rotated into: `out.json` reads
// `out-<time>.json`... oldest first, then `out.json`. Lines become OTLP
// protobuf requests; consecutive lines of one signal are joined into a
// batch (protobuf messages concatenated are their repeated fields joined).
// A line whose items lie wholly outside the time range is skipped; one
// that straddles an end is sent whole. A line that is not an OTLP request
// is an error naming the file and line.
//
// Positions: segment names the file of the set (a hash of its name, so a
// file rotated or deleted between runs moves no other's positions),
// byte_offset the content offset of a line start. A resumed run whose file
// is gone or shorter than its offset stops with an error. The set is listed
// when a run starts: a set the `file` exporter still writes is read as it
// stood then.
class OtlpJsonSource final : public Source {
 public:
  struct Options {
    std::string path;
    TimeRange range;
    uint64_t batch_items = 5'000;
    size_t batch_bytes = 1 << 20;
  };
  static Result<std::unique_ptr<OtlpJsonSource>> Open(io::FileSystem& fs, Options options);
  // The files of a rotated set (io::RotatedCopies, then the file), oldest
  // first; the error names what is missing.
  static Result<std::vector<std::string>> RotatedSet(io::FileSystem& fs, const std::string& path);

  Status Seek(const log::Position& at) override;
  Result<bool> Next(InputBatch* out) override;
  log::Position position() const override;
  uint64_t bytes_read() const override;
  uint64_t total_bytes() const override { return total_bytes_; }
  uint64_t skipped_items() const override { return skipped_; }

 private:
  OtlpJsonSource(io::FileSystem& fs, Options options, std::vector<std::string> files,
                 uint64_t total_bytes);
  Status OpenFile(size_t index);
  // Adds one line (of `signal`, as its top-level key says; none: it is no
  // OTLP request, an error unless blank) to the batch being built.
  Status TakeLine(std::string_view line, std::optional<log::Signal> signal, uint64_t offset);

  io::FileSystem& fs_;
  const Options options_;
  const std::vector<std::string> files_;
  const uint64_t total_bytes_;
  size_t file_ = 0;
  uint64_t file_id_ = 0;  // FileId of files_[file_]
  std::unique_ptr<LineInput> input_;
  uint64_t done_bytes_ = 0;  // of the files before file_
  uint64_t line_ = 0;        // lines of this file read this run
  bool resumed_in_file_ = false;
  // The lines not handed out yet (from the last LineInput::Next).
  std::string_view rest_;
  uint64_t rest_offset_ = 0;
  // The batch being built.
  InputBatch batch_;
  bool open_ = false;
  uint64_t record_ = 0;
  uint64_t skipped_ = 0;
  std::string proto_;  // scratch
};

}  // namespace sluice::backfill
