#include "backfill/file_input.h"

#include <algorithm>
#include <cstring>

namespace sluice::backfill {
namespace {

constexpr size_t kReadBytes = 256 << 10;
constexpr uint8_t kZstdMagic[4] = {0x28, 0xb5, 0x2f, 0xfd};

}  // namespace

Result<std::unique_ptr<LineInput>> LineInput::Open(io::FileSystem& fs, const std::string& path) {
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<io::RandomAccessFile> file, fs.OpenReadable(path));
  SLUICE_ASSIGN_OR_RETURN(uint64_t size, file->Size());
  uint8_t head[4] = {};
  SLUICE_ASSIGN_OR_RETURN(size_t n, file->Read(0, head));
  const bool zstd = n == 4 && std::memcmp(head, kZstdMagic, 4) == 0;
  return std::unique_ptr<LineInput>(new LineInput(path, std::move(file), size, zstd));
}

LineInput::LineInput(std::string path, std::unique_ptr<io::RandomAccessFile> file, uint64_t size,
                     bool zstd)
    : path_(std::move(path)), file_(std::move(file)), size_(size) {
  if (zstd) {
    zstd_ = ZSTD_createDStream();
    ZSTD_initDStream(zstd_);
  }
}

LineInput::~LineInput() {
  if (zstd_ != nullptr) ZSTD_freeDStream(zstd_);
}

Result<bool> LineInput::Fill() {
  if (eof_) return false;
  const size_t had = buf_.size();
  if (zstd_ == nullptr) {
    if (file_pos_ >= size_) {
      eof_ = true;
      return false;
    }
    buf_.resize(had + kReadBytes);
    SLUICE_ASSIGN_OR_RETURN(
        size_t n,
        file_->Read(file_pos_, {reinterpret_cast<uint8_t*>(buf_.data() + had), kReadBytes}));
    buf_.resize(had + n);
    file_pos_ += n;
    if (n == 0) eof_ = true;
    return n > 0;
  }
  // Decompress until some content came out or the file ended.
  for (;;) {
    if (raw_pos_ == raw_.size()) {
      if (file_pos_ >= size_) {
        eof_ = true;
        return false;
      }
      raw_.resize(kReadBytes);
      SLUICE_ASSIGN_OR_RETURN(
          size_t n, file_->Read(file_pos_, {reinterpret_cast<uint8_t*>(raw_.data()), raw_.size()}));
      raw_.resize(n);
      raw_pos_ = 0;
      file_pos_ += n;
      if (n == 0) {
        eof_ = true;
        return false;
      }
    }
    buf_.resize(had + ZSTD_DStreamOutSize());
    ZSTD_inBuffer in{raw_.data(), raw_.size(), raw_pos_};
    ZSTD_outBuffer out{buf_.data() + had, buf_.size() - had, 0};
    const size_t r = ZSTD_decompressStream(zstd_, &out, &in);
    raw_pos_ = in.pos;
    buf_.resize(had + out.pos);
    if (ZSTD_isError(r)) {
      return Status::InvalidArgument(path_ + ": zstd: " + ZSTD_getErrorName(r));
    }
    if (out.pos > 0) return true;
  }
}

Status LineInput::SkipTo(uint64_t offset) {
  if (zstd_ == nullptr) {
    buf_.clear();
    buf_pos_ = 0;
    file_pos_ = std::min(offset, size_);
    offset_ = file_pos_;
    eof_ = false;
    return Status::Ok();
  }
  while (offset_ + (buf_.size() - buf_pos_) < offset) {
    offset_ += buf_.size() - buf_pos_;
    buf_.clear();
    buf_pos_ = 0;
    SLUICE_ASSIGN_OR_RETURN(bool more, Fill());
    if (!more) return Status::Ok();  // shorter: offset() tells
  }
  buf_pos_ += offset - offset_;
  offset_ = offset;
  return Status::Ok();
}

Result<std::string_view> LineInput::Next(size_t max_bytes) {
  // Drop what the last call returned, keeping the unread rest.
  if (buf_pos_ > 0) {
    buf_.erase(0, buf_pos_);
    buf_pos_ = 0;
  }
  for (;;) {
    if (buf_.size() >= max_bytes || eof_) {
      const size_t limit = std::min(buf_.size(), std::max<size_t>(max_bytes, 1));
      // Cut after the last newline within the limit; else after the first
      // one at all (a line longer than max_bytes comes whole).
      size_t cut = std::string_view(buf_.data(), limit).rfind('\n');
      if (cut == std::string_view::npos) cut = buf_.find('\n', limit);
      if (cut != std::string::npos) {
        buf_pos_ = cut + 1;
      } else if (eof_) {
        buf_pos_ = buf_.size();  // the file's last line, without newline
      } else if (buf_.size() > kMaxLineBytes) {
        return Status::InvalidArgument(path_ + ": a line at byte " + std::to_string(offset_) +
                                       " is longer than " + std::to_string(kMaxLineBytes >> 20) +
                                       " MiB");
      } else {
        SLUICE_RETURN_IF_ERROR(Fill().status());
        continue;
      }
      std::string_view lines(buf_.data(), buf_pos_);
      offset_ += buf_pos_;
      return lines;
    }
    SLUICE_RETURN_IF_ERROR(Fill().status());
  }
}

}  // namespace sluice::backfill
