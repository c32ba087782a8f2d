#pragma once

#include <zstd.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/result.h"
#include "io/file_system.h"

namespace sluice::backfill {

// Reads one input file as whole lines, plain or zstd-compressed (told by
// the zstd magic number, so a `file` exporter's .zst output and a plain
// file read alike), from its start or from an offset into its content.
// Offsets count content bytes (uncompressed), so a checkpoint is the same
// whatever the compression. Memory: a read buffer and a decompression
// window, fixed.
class LineInput {
 public:
  static Result<std::unique_ptr<LineInput>> Open(io::FileSystem& fs, const std::string& path);
  ~LineInput();
  LineInput(const LineInput&) = delete;
  LineInput& operator=(const LineInput&) = delete;

  // Continues at content offset `offset`, which must be a line's start:
  // a plain file seeks; a compressed one is decompressed up to it. A file
  // shorter than that stops at its end (offset() then says where).
  Status SkipTo(uint64_t offset);
  // The next whole lines, at most about `max_bytes` (one longer line whole,
  // up to max_line_bytes), each ending in '\n' but perhaps the file's last.
  // Empty at the end. The view is valid until the next call. A line longer
  // than max_line_bytes is InvalidArgument.
  Result<std::string_view> Next(size_t max_bytes);
  // Content offset of the first byte of what Next returns next.
  uint64_t offset() const { return offset_; }
  // Bytes of the file read so far, and its size.
  uint64_t file_bytes_read() const { return file_pos_; }
  uint64_t file_size() const { return size_; }
  const std::string& path() const { return path_; }

  static constexpr size_t kMaxLineBytes = 64 << 20;

 private:
  LineInput(std::string path, std::unique_ptr<io::RandomAccessFile> file, uint64_t size, bool zstd);
  // Appends more content to buf_; false at the end of the file.
  Result<bool> Fill();

  const std::string path_;
  std::unique_ptr<io::RandomAccessFile> file_;
  const uint64_t size_;
  ZSTD_DStream* zstd_ = nullptr;
  uint64_t file_pos_ = 0;
  uint64_t offset_ = 0;
  std::string raw_;     // compressed bytes read, not yet decompressed
  size_t raw_pos_ = 0;  // in raw_
  std::string buf_;     // content from offset_ on
  size_t buf_pos_ = 0;  // the next line's start in buf_
  bool eof_ = false;
};

}  // namespace sluice::backfill
