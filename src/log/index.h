#pragma once

// Segment index: which frames of one segment belong to which pipeline, so that
// a reader of some pipelines goes straight to their frames and never reads the
// heads of other pipelines' batches (its cost is O(its own data)).
//
// The writer keeps the active segment's index in memory and writes it next to
// the segment when the segment is closed, as <segment name>.idx:
//
//   +----------------------------- header, 40 bytes --------------------------+
//   | magic "SLUICEIX" (8) | version u16 | reserved u16 | pipeline_count u32  |
//   | segment_base u64     | segment_bytes u64 | directory_crc32c u32 | pad u32 |
//   +--------------------------------------------------------------------------+
//   | directory: pipeline_count × { pipeline_id u32 | frame_count u32 |       |
//   |                               section_offset u64 }         (16 B each)  |
//   +--------------------------------------------------------------------------+
//   | sections: per pipeline, frame_count × { frame offset u64 | size u32 },  |
//   |           then the section's crc32c u32                                 |
//   +--------------------------------------------------------------------------+
//
//   directory_crc32c covers the header (with the crc field as zero) and the
//   directory. segment_bytes is the segment file's size the index describes;
//   an index whose segment has another size, or that fails a check, is
//   rebuilt from the segment (a scan of its frame heads) and written again.
//   Written to a temporary name and renamed, not synced: a lost or torn index
//   costs one rebuild, never data.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "io/file_system.h"
#include "log/format.h"

namespace sluice::log {

inline constexpr char kIndexMagic[8] = {'S', 'L', 'U', 'I', 'C', 'E', 'I', 'X'};
inline constexpr uint16_t kIndexVersion = 1;
inline constexpr size_t kIndexHeaderSize = 40;
inline constexpr size_t kIndexDirectoryEntrySize = 16;
inline constexpr const char* kIndexSuffix = ".idx";
static_assert(kIndexHeaderSize == sizeof kIndexMagic + 2 + 2 + 4 + 8 + 8 + 4 + 4);

inline constexpr size_t kIndexEntrySize = 12;

// Where a frame lies in its segment.
struct FrameExtent {
  uint64_t offset = 0;
  uint64_t size = 0;
  uint64_t end() const { return offset + size; }
  bool operator<(const FrameExtent& o) const { return offset < o.offset; }
  bool operator==(const FrameExtent& o) const = default;
};

// Of `frames` (ascending), the first at or after `from` that ends by `limit`,
// with the bytes of the run of frames that follow it back to back, up to
// `max_bytes` (but at least the first frame): what a reader reads at once.
// offset == limit when there is none.
FrameExtent NextRun(const std::vector<FrameExtent>& frames, uint64_t from, uint64_t limit,
                    uint64_t max_bytes);

// The frames of one segment, per pipeline. Not thread-safe.
class SegmentIndex {
 public:
  // Records a frame (ascending across calls) for each of `pipelines`.
  void Add(const FrameExtent& frame, const PipelineSet& pipelines);
  // As NextRun, over the frames of any of `pipelines`.
  FrameExtent Next(const PipelineSet& pipelines, uint64_t from, uint64_t limit,
                   uint64_t max_bytes) const;
  // True when a frame of any of `pipelines` starts in [from, limit).
  bool Any(const PipelineSet& pipelines, uint64_t from, uint64_t limit) const;
  // Every frame of any of `pipelines` that starts at or after `from`,
  // ascending, without repeats.
  std::vector<FrameExtent> FramesOf(const PipelineSet& pipelines, uint64_t from = 0) const;
  // Entries held (one per frame and pipeline), for memory accounting.
  size_t entries() const { return entries_; }
  void Clear();

  // The .idx file for the segment at `segment_base` of `segment_bytes`.
  std::string Encode(uint64_t segment_base, uint64_t segment_bytes) const;

 private:
  std::vector<std::pair<uint32_t, std::vector<FrameExtent>>> frames_;  // few pipelines
  size_t entries_ = 0;
};

// The name of the index file of a segment.
std::string IndexFileName(uint64_t segment_base);
// Parses "000…123.seg.idx"; false for any other name.
bool ParseIndexFileName(std::string_view name, uint64_t* segment_base);

// Reads from an index file only the directory and the sections of
// `pipelines`: the frames of those pipelines, ascending. Corruption when the
// file fails a check or describes another segment or size.
Result<std::vector<FrameExtent>> ReadIndexFor(const io::RandomAccessFile& file,
                                              uint64_t segment_base, uint64_t segment_bytes,
                                              const PipelineSet& pipelines);

// Builds the index of a closed segment of `size` bytes by reading its frame
// heads (and stepping over damaged frames as readers do). `damaged` receives
// each range stepped over.
struct DamagedRange {
  uint64_t offset;
  uint64_t bytes;
};
Result<SegmentIndex> BuildIndex(const io::RandomAccessFile& segment, uint64_t size,
                                std::vector<DamagedRange>* damaged);

// The frames of `pipelines` in the closed segment at `segment_base` of
// `segment_bytes` bytes, `segment` its file: from its index file at
// `index_path` (ReadIndexFor), or, when that is missing or fails a check,
// from an index rebuilt from the segment (BuildIndex) and written to
// `index_path` for the readers after (unsynced; if that fails, the next one
// rebuilds it again). `damaged` receives the ranges a rebuild stepped over.
Result<std::vector<FrameExtent>> LoadIndexFor(io::FileSystem& fs, const std::string& index_path,
                                              const io::RandomAccessFile& segment,
                                              uint64_t segment_base, uint64_t segment_bytes,
                                              const PipelineSet& pipelines,
                                              std::vector<DamagedRange>* damaged);

}  // namespace sluice::log
