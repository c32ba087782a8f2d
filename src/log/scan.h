#pragma once

#include <cstdint>
#include <string>

#include "base/result.h"
#include "io/file_system.h"
#include "log/format.h"

namespace sluice::log {

// Outcome of reading the frame at a position.
enum class FrameStatus { kOk, kTorn, kCorrupt };

// Reads the frame at `pos` of `file` (which holds `limit` readable bytes)
// into `scratch`: kOk fills *frame with views into scratch; kTorn means the
// frame runs past `limit`; kCorrupt means it fails a check. I/O errors are
// returned as a Status.
Result<FrameStatus> ReadFrameAt(const io::RandomAccessFile& file, uint64_t pos, uint64_t limit,
                                std::string& scratch, DecodedFrame* frame, uint64_t* frame_size);

// The first offset in [from, limit) where a frame starts that passes every
// check (structure, then CRC), or `limit` when there is none. Used to step
// over a damaged frame: the cost is proportional to the bytes skipped.
Result<uint64_t> FindNextFrame(const io::RandomAccessFile& file, uint64_t from, uint64_t limit,
                               std::string& scratch);

}  // namespace sluice::log
