#include "log/index.h"

#include <algorithm>
#include <cstring>

#include "base/crc32c.h"
#include "log/coding.h"
#include "log/scan.h"

namespace sluice::log {
namespace {

// Header field offsets.
constexpr size_t kVersionAt = 8;
constexpr size_t kCountAt = 12;
constexpr size_t kBaseAt = 16;
constexpr size_t kBytesAt = 24;
constexpr size_t kCrcAt = 32;
static_assert(kCrcAt + 8 == kIndexHeaderSize);

// Pipelines one index can list: every pipeline of a configuration fits.
constexpr uint32_t kMaxIndexPipelines = 1 << 16;

Status Damaged(const std::string& why) {
  return Status::Corruption("segment index " + why);
}

Status ReadExactly(const io::RandomAccessFile& file, uint64_t offset, std::string& out, size_t n) {
  out.resize(n);
  SLUICE_ASSIGN_OR_RETURN(size_t got,
                          file.Read(offset, {reinterpret_cast<uint8_t*>(out.data()), n}));
  if (got != n) return Damaged("is shorter than it says");
  return Status::Ok();
}

}  // namespace

FrameExtent NextRun(const std::vector<FrameExtent>& frames, uint64_t from, uint64_t limit,
                    uint64_t max_bytes) {
  auto it = std::lower_bound(frames.begin(), frames.end(), FrameExtent{from, 0});
  if (it == frames.end() || it->end() > limit) return FrameExtent{limit, 0};
  FrameExtent run = *it;
  for (++it; it != frames.end() && it->offset == run.end() && it->end() <= limit &&
             run.size + it->size <= max_bytes;
       ++it) {
    run.size += it->size;
  }
  return run;
}

void SegmentIndex::Add(const FrameExtent& frame, const PipelineSet& pipelines) {
  for (uint32_t id : pipelines) {
    auto it =
        std::find_if(frames_.begin(), frames_.end(), [id](const auto& p) { return p.first == id; });
    if (it == frames_.end()) {
      frames_.emplace_back(id, std::vector<FrameExtent>());
      it = std::prev(frames_.end());
    }
    it->second.push_back(frame);
    ++entries_;
  }
}

FrameExtent SegmentIndex::Next(const PipelineSet& pipelines, uint64_t from, uint64_t limit,
                               uint64_t max_bytes) const {
  // One pipeline (the usual reader): its own list is the run.
  const std::vector<FrameExtent>* only = nullptr;
  int lists = 0;
  for (const auto& [id, frames] : frames_) {
    if (!pipelines.Contains(id)) continue;
    only = &frames;
    ++lists;
  }
  if (lists == 0) return FrameExtent{limit, 0};
  if (lists == 1) return NextRun(*only, from, limit, max_bytes);
  // Several: follow the run across their lists.
  FrameExtent run{limit, 0};
  for (const auto& [id, frames] : frames_) {
    if (!pipelines.Contains(id)) continue;
    FrameExtent first = NextRun(frames, from, limit, 0);
    if (first.offset < run.offset) run = FrameExtent{first.offset, first.size};
  }
  if (run.offset == limit) return run;
  for (bool grew = true; grew;) {
    grew = false;
    for (const auto& [id, frames] : frames_) {
      if (!pipelines.Contains(id)) continue;
      FrameExtent next = NextRun(frames, run.end(), limit, 0);
      if (next.offset == run.end() && next.size > 0 && run.size + next.size <= max_bytes) {
        run.size += next.size;
        grew = true;
      }
    }
  }
  return run;
}

bool SegmentIndex::Any(const PipelineSet& pipelines, uint64_t from, uint64_t limit) const {
  for (const auto& [id, frames] : frames_) {
    if (!pipelines.Contains(id)) continue;
    auto it = std::lower_bound(frames.begin(), frames.end(), FrameExtent{from, 0});
    if (it != frames.end() && it->offset < limit) return true;
  }
  return false;
}

std::vector<FrameExtent> SegmentIndex::FramesOf(const PipelineSet& pipelines, uint64_t from) const {
  std::vector<FrameExtent> out;
  for (const auto& [id, frames] : frames_) {
    if (!pipelines.Contains(id)) continue;
    out.insert(out.end(), std::lower_bound(frames.begin(), frames.end(), FrameExtent{from, 0}),
               frames.end());
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void SegmentIndex::Clear() {
  frames_.clear();
  entries_ = 0;
}

std::string SegmentIndex::Encode(uint64_t segment_base, uint64_t segment_bytes) const {
  std::string out(kIndexMagic, sizeof kIndexMagic);
  PutFixed<uint16_t>(&out, kIndexVersion);
  PutFixed<uint16_t>(&out, 0);
  PutFixed<uint32_t>(&out, static_cast<uint32_t>(frames_.size()));
  PutFixed<uint64_t>(&out, segment_base);
  PutFixed<uint64_t>(&out, segment_bytes);
  PutFixed<uint32_t>(&out, 0);  // directory crc, patched below
  PutFixed<uint32_t>(&out, 0);
  uint64_t section = kIndexHeaderSize + kIndexDirectoryEntrySize * frames_.size();
  for (const auto& [id, frames] : frames_) {
    PutFixed<uint32_t>(&out, id);
    PutFixed<uint32_t>(&out, static_cast<uint32_t>(frames.size()));
    PutFixed<uint64_t>(&out, section);
    section += kIndexEntrySize * frames.size() + 4;
  }
  uint32_t crc = Crc32c(out.data(), out.size());
  std::memcpy(out.data() + kCrcAt, &crc, sizeof crc);
  for (const auto& [id, frames] : frames_) {
    size_t start = out.size();
    for (const FrameExtent& f : frames) {
      PutFixed<uint64_t>(&out, f.offset);
      PutFixed<uint32_t>(&out, static_cast<uint32_t>(f.size));
    }
    PutFixed<uint32_t>(&out, Crc32c(out.data() + start, out.size() - start));
  }
  return out;
}

std::string IndexFileName(uint64_t segment_base) {
  return SegmentFileName(segment_base) + kIndexSuffix;
}

bool ParseIndexFileName(std::string_view name, uint64_t* segment_base) {
  std::string_view suffix(kIndexSuffix);
  if (name.size() <= suffix.size() || name.substr(name.size() - suffix.size()) != suffix) {
    return false;
  }
  return ParseSegmentFileName(name.substr(0, name.size() - suffix.size()), segment_base);
}

Result<std::vector<FrameExtent>> ReadIndexFor(const io::RandomAccessFile& file,
                                              uint64_t segment_base, uint64_t segment_bytes,
                                              const PipelineSet& pipelines) {
  std::string head;
  SLUICE_RETURN_IF_ERROR(ReadExactly(file, 0, head, kIndexHeaderSize));
  if (std::memcmp(head.data(), kIndexMagic, sizeof kIndexMagic) != 0) {
    return Damaged("has no magic");
  }
  if (GetFixed<uint16_t>(head.data() + kVersionAt) != kIndexVersion) {
    return Damaged("has an unknown version");
  }
  uint32_t count = GetFixed<uint32_t>(head.data() + kCountAt);
  if (count > kMaxIndexPipelines) return Damaged("lists too many pipelines");
  if (GetFixed<uint64_t>(head.data() + kBaseAt) != segment_base ||
      GetFixed<uint64_t>(head.data() + kBytesAt) != segment_bytes) {
    return Damaged("describes another segment or size");
  }
  std::string dir;
  SLUICE_RETURN_IF_ERROR(
      ReadExactly(file, kIndexHeaderSize, dir, kIndexDirectoryEntrySize * count));
  uint32_t stored = GetFixed<uint32_t>(head.data() + kCrcAt);
  std::memset(head.data() + kCrcAt, 0, 4);
  uint32_t crc = Crc32c(head.data(), head.size());
  crc = Crc32cExtend(crc, dir.data(), dir.size());
  if (crc != stored) return Damaged("directory fails its checksum");
  std::vector<FrameExtent> out;
  std::string section;
  for (uint32_t i = 0; i < count; ++i) {
    const char* e = dir.data() + kIndexDirectoryEntrySize * i;
    if (!pipelines.Contains(GetFixed<uint32_t>(e))) continue;
    uint64_t frames = GetFixed<uint32_t>(e + 4);
    // A segment holds at most one frame per kFrameHeaderSize bytes.
    if (frames > segment_bytes / kFrameHeaderSize + 1) return Damaged("lists too many frames");
    const uint64_t bytes = kIndexEntrySize * frames;
    SLUICE_RETURN_IF_ERROR(ReadExactly(file, GetFixed<uint64_t>(e + 8), section, bytes + 4));
    if (Crc32c(section.data(), bytes) != GetFixed<uint32_t>(section.data() + bytes)) {
      return Damaged("section fails its checksum");
    }
    for (uint64_t k = 0; k < frames; ++k) {
      const char* f = section.data() + kIndexEntrySize * k;
      FrameExtent frame{GetFixed<uint64_t>(f), GetFixed<uint32_t>(f + 8)};
      if (frame.offset < kSegmentHeaderSize || frame.size < kFrameHeaderSize ||
          frame.end() > segment_bytes) {
        return Damaged("lists a frame outside its segment");
      }
      out.push_back(frame);
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Result<SegmentIndex> BuildIndex(const io::RandomAccessFile& segment, uint64_t size,
                                std::vector<DamagedRange>* damaged) {
  SegmentIndex index;
  std::string head;
  std::string scratch;
  uint64_t pos = kSegmentHeaderSize;
  while (pos + kFrameHeaderSize <= size) {
    head.resize(kFrameHeaderSize);
    SLUICE_ASSIGN_OR_RETURN(
        size_t n, segment.Read(pos, {reinterpret_cast<uint8_t*>(head.data()), head.size()}));
    uint64_t frame_size = 0;
    bool ok = n == kFrameHeaderSize && PlausibleFrameHeader(head, &frame_size) &&
              pos + frame_size <= size;
    DecodedFrame frame;
    if (ok) {
      uint64_t head_size = FrameHeadSize(head);
      head.resize(head_size);
      SLUICE_ASSIGN_OR_RETURN(
          n, segment.Read(pos, {reinterpret_cast<uint8_t*>(head.data()), head.size()}));
      ok = n == head_size && DecodeFrameHead(head, &frame) == DecodeResult::kOk;
    }
    if (ok) {
      index.Add(FrameExtent{pos, frame_size}, frame.header.pipelines);
      pos += frame_size;
      continue;
    }
    SLUICE_ASSIGN_OR_RETURN(uint64_t next, FindNextFrame(segment, pos + 1, size, scratch));
    if (damaged != nullptr) damaged->push_back(DamagedRange{pos, next - pos});
    pos = next;
  }
  return index;
}

Result<std::vector<FrameExtent>> LoadIndexFor(io::FileSystem& fs, const std::string& index_path,
                                              const io::RandomAccessFile& segment,
                                              uint64_t segment_base, uint64_t segment_bytes,
                                              const PipelineSet& pipelines,
                                              std::vector<DamagedRange>* damaged) {
  Result<std::unique_ptr<io::RandomAccessFile>> idx = fs.OpenReadable(index_path);
  if (idx.ok()) {
    Result<std::vector<FrameExtent>> frames =
        ReadIndexFor(**idx, segment_base, segment_bytes, pipelines);
    if (frames.ok() || frames.status().code() != StatusCode::kCorruption) return frames;
  } else if (idx.status().code() != StatusCode::kNotFound) {
    return idx.status();
  }
  // Missing (a segment of format version 1, or one closed by a crash) or
  // damaged: rebuild it from the segment's frame heads, once, for every
  // reader to come.
  SLUICE_ASSIGN_OR_RETURN(SegmentIndex index, BuildIndex(segment, segment_bytes, damaged));
  // Readers of other pipelines rebuilding it at once write the same bytes;
  // an index torn between them fails its checksums and is rebuilt.
  io::WriteFileAtomically(fs, index_path, index.Encode(segment_base, segment_bytes),
                          io::Durability::kUnsynced)
      .IgnoreError();
  return index.FramesOf(pipelines);
}

}  // namespace sluice::log
