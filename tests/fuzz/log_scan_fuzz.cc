// Any bytes as the last segment of a log, walked as recovery walks it
// (Log::RecoverLastSegment): a frame that reads whole is taken, a damaged
// one is stepped over to the next whole frame (FindNextFrame), and what is
// left without one is a torn tail. Nothing may crash or stall; every frame
// taken lies inside the file and encodes back to the very bytes it was read
// from, and FindNextFrame only ever points at a frame that reads whole.
//
// Input: one byte of flags, then the segment file. With flag bit 0 the
// checksums of the frames the length fields chain together are rewritten
// first, so that inputs get past the CRCs to the structure behind them.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "base/crc32c.h"
#include "fuzz_files.h"
#include "io/memory_file_system.h"
#include "log/format.h"
#include "log/scan.h"

namespace {

using namespace sluice;
using fuzz::Check;

uint32_t GetU32(const std::string& s, size_t at) {
  uint32_t v;
  std::memcpy(&v, s.data() + at, 4);
  return v;
}

void PutU32(std::string* s, size_t at, uint32_t v) {
  std::memcpy(s->data() + at, &v, 4);
}

// Where the batch header keeps the payload length and checksum, from the
// frame's start (docs/log_format.md).
constexpr size_t kHeaderAt = log::kFrameCrcSize + log::kFrameLengthSize + log::kFrameTypeSize;
constexpr size_t kPayloadLenAt = kHeaderAt + 40;
constexpr size_t kPayloadCrcAt = kHeaderAt + 48;

void FixChecksums(std::string* file) {
  for (size_t pos = log::kSegmentHeaderSize; pos + log::kFrameHeaderSize <= file->size();) {
    uint64_t size = log::FrameSizeFromPrefix(std::string_view(*file).substr(pos));
    if (size == 0 || pos + size > file->size()) return;
    uint64_t head = log::FrameHeadSize(std::string_view(*file).substr(pos));
    if (head == 0) return;
    uint32_t payload_len = GetU32(*file, pos + kPayloadLenAt);
    if (head + payload_len == size) {
      PutU32(file, pos + kPayloadCrcAt, Crc32c(file->data() + pos + head, payload_len));
      PutU32(file, pos, Crc32c(file->data() + pos + log::kFrameCrcSize, head - log::kFrameCrcSize));
    }
    pos += size;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  uint8_t flags;
  std::string file;
  if (!fuzz::SplitInput(data, size, &flags, &file)) return 0;
  if (flags & 1) FixChecksums(&file);

  io::MemoryFileSystem fs;
  fuzz::WriteFile(fs, "/0.seg", file);
  auto f = fs.OpenReadable("/0.seg");
  Check(f.ok());
  uint64_t base;
  (void)log::DecodeSegmentHeader(file, &base);

  const uint64_t limit = file.size();
  std::string scratch;
  std::string again;
  for (uint64_t pos = log::kSegmentHeaderSize; pos < limit;) {
    log::DecodedFrame frame;
    uint64_t frame_size = 0;
    auto st = log::ReadFrameAt(**f, pos, limit, scratch, &frame, &frame_size);
    Check(st.ok());  // reading memory does not fail
    if (*st == log::FrameStatus::kOk) {
      Check(frame_size >= log::kFrameHeaderSize && pos + frame_size <= limit);
      // Frames of the current type encode back to the same bytes (type 1,
      // of version 1 segments, is read but never written).
      if (static_cast<uint8_t>(file[pos + kHeaderAt - 1]) ==
          static_cast<uint8_t>(log::FrameType::kBatch)) {
        again.clear();
        log::EncodeFrame(frame.header, frame.tenant, frame.payload, &again);
        Check(std::string_view(again) == std::string_view(file).substr(pos, frame_size));
      }
      pos += frame_size;
      continue;
    }
    auto next = log::FindNextFrame(**f, pos + 1, limit, scratch);
    Check(next.ok() && *next > pos && *next <= limit);
    if (*next == limit) break;  // a torn tail
    st = log::ReadFrameAt(**f, *next, limit, scratch, &frame, &frame_size);
    Check(st.ok() && *st == log::FrameStatus::kOk);
    pos = *next;
  }
  return 0;
}
