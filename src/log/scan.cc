#include "log/scan.h"

#include <algorithm>
#include <cstring>

namespace sluice::log {
namespace {

bool PlausibleHeader(const char* p, uint64_t pos, uint64_t limit) {
  uint64_t size = 0;
  return PlausibleFrameHeader(std::string_view(p, kFrameHeaderSize), &size) && pos + size <= limit;
}

}  // namespace

Result<FrameStatus> ReadFrameAt(const io::RandomAccessFile& file, uint64_t pos, uint64_t limit,
                                std::string& scratch, DecodedFrame* frame, uint64_t* frame_size) {
  if (limit - pos < kFrameHeaderSize) return FrameStatus::kTorn;
  scratch.resize(kFrameHeaderSize);
  SLUICE_ASSIGN_OR_RETURN(
      size_t n, file.Read(pos, {reinterpret_cast<uint8_t*>(scratch.data()), scratch.size()}));
  if (n < kFrameHeaderSize) return FrameStatus::kTorn;
  uint64_t size = FrameSizeFromPrefix(scratch);
  if (size == 0) return FrameStatus::kCorrupt;
  if (pos + size > limit) return FrameStatus::kTorn;
  scratch.resize(size);
  SLUICE_ASSIGN_OR_RETURN(
      n, file.Read(pos, {reinterpret_cast<uint8_t*>(scratch.data()), scratch.size()}));
  if (n < size) return FrameStatus::kTorn;
  if (DecodeFrame(scratch, frame) != DecodeResult::kOk) return FrameStatus::kCorrupt;
  *frame_size = size;
  return FrameStatus::kOk;
}

Result<uint64_t> FindNextFrame(const io::RandomAccessFile& file, uint64_t from, uint64_t limit,
                               std::string& scratch) {
  constexpr size_t kWindow = 1 << 20;
  std::string window;
  std::string frame_buf;
  for (uint64_t base = from; base + kFrameHeaderSize <= limit;) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(kWindow, limit - base));
    window.resize(want);
    SLUICE_ASSIGN_OR_RETURN(size_t n,
                            file.Read(base, {reinterpret_cast<uint8_t*>(window.data()), want}));
    if (n < kFrameHeaderSize) break;
    size_t last = n - kFrameHeaderSize;
    for (size_t i = 0; i <= last; ++i) {
      if (!PlausibleHeader(window.data() + i, base + i, limit)) continue;
      DecodedFrame frame;
      uint64_t size;
      SLUICE_ASSIGN_OR_RETURN(FrameStatus st,
                              ReadFrameAt(file, base + i, limit, frame_buf, &frame, &size));
      if (st == FrameStatus::kOk) return base + i;
    }
    base += last + 1;
  }
  scratch.clear();
  return limit;
}

}  // namespace sluice::log
