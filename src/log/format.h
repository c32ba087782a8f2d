#pragma once

// The on-disk format of sluice's log. docs/log_format.md describes the same
// layout in prose; the two change together, and kFormatVersion with them.
//
// A log is a directory of segment files named by the record offset of their
// first batch, zero-padded to 20 digits: 00000000000000000000.seg, ...
//
// Segment file:
//   +--------------------------- segment header, 32 bytes ---------------------+
//   | magic "SLUICESG" (8) | version u16 | header_size u16 | reserved u32      |
//   | base_offset u64      | created_unix_nanos i64                            |
//   +--------------------------------------------------------------------------+
//   | frame | frame | ... (a torn last frame is truncated away on open)        |
//
// Frame (one record batch), type 2 (format version 2):
//   +--------+--------+------+---------------------+--------------+--------+---------+
//   | crc32c | length | type | batch header (52 B) | pipeline ids | tenant | payload |
//   |  u32   |  u32   |  u8  |                     |  u32 × count |        |         |
//   +--------+--------+------+---------------------+--------------+--------+---------+
//   length = bytes after the length field (type + header + ids + tenant + payload)
//   A batch shared by several pipelines is written once, naming all of them.
//   Type 1 (version 1 segments, still read) has no id list: the header's
//   pipeline field holds the one pipeline id itself.
//   crc32c covers the length field, type, header, ids and tenant (the frame head);
//   the header's payload_crc32c covers the payload. The payload's checksum is
//   computed by the appending thread, so the single writer thread only sums
//   the head.
//
// Batch header (52 bytes):
//   base_offset u64 | item_count u32 | signal u8 | encoding u8 | tenant_len u16 |
//   min_event_unix_nanos i64 | max_event_unix_nanos i64 | append_unix_nanos i64 |
//   payload_len u32 | pipeline_count u32 (type 1: pipeline_id) | payload_crc32c u32
//
// Segment index file (<segment name>.idx, format version 2): which frames of a
// closed segment belong to which pipeline, so that a reader of some pipelines
// seeks straight to their frames. Rebuilt from the segment when missing or
// damaged; deleted with it. See SegmentIndex in log/index.h.
//
// All integers are little-endian; the layouts above are written with memcpy
// from host integers, so the host must be little-endian too.

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace sluice::log {

static_assert(std::endian::native == std::endian::little,
              "the log's on-disk integers are written and read as host integers");

inline constexpr char kSegmentMagic[8] = {'S', 'L', 'U', 'I', 'C', 'E', 'S', 'G'};
// 2: frames name every pipeline they belong to (type 2), and closed segments
// have an index file. Version 1 segments are read as they are.
inline constexpr uint16_t kFormatVersion = 2;
inline constexpr uint16_t kOldestReadableVersion = 1;
inline constexpr size_t kSegmentHeaderSize = 32;
inline constexpr const char* kSegmentSuffix = ".seg";
inline constexpr size_t kSegmentNameDigits = 20;

inline constexpr size_t kFrameCrcSize = 4;
inline constexpr size_t kFrameLengthSize = 4;
inline constexpr size_t kFrameTypeSize = 1;
inline constexpr size_t kBatchHeaderSize = 52;

// Field offsets inside the batch header.
inline constexpr size_t kHdrBaseOffset = 0;   // u64
inline constexpr size_t kHdrItemCount = 8;    // u32
inline constexpr size_t kHdrSignal = 12;      // u8
inline constexpr size_t kHdrEncoding = 13;    // u8
inline constexpr size_t kHdrTenantLen = 14;   // u16
inline constexpr size_t kHdrMinEvent = 16;    // i64
inline constexpr size_t kHdrMaxEvent = 24;    // i64
inline constexpr size_t kHdrAppend = 32;      // i64
inline constexpr size_t kHdrPayloadLen = 40;  // u32
inline constexpr size_t kHdrPipelines = 44;   // u32: count (type 2) or id (type 1)
inline constexpr size_t kHdrPayloadCrc = 48;  // u32
static_assert(kHdrSignal == kHdrItemCount + 4 && kHdrEncoding == kHdrSignal + 1 &&
                  kHdrTenantLen == kHdrEncoding + 1 && kHdrMinEvent == kHdrTenantLen + 2 &&
                  kHdrMaxEvent == kHdrMinEvent + 8 && kHdrAppend == kHdrMaxEvent + 8 &&
                  kHdrPayloadLen == kHdrAppend + 8 && kHdrPipelines == kHdrPayloadLen + 4 &&
                  kHdrPayloadCrc == kHdrPipelines + 4 && kBatchHeaderSize == kHdrPayloadCrc + 4,
              "batch header fields must add up to its size");
inline constexpr size_t kPipelineIdSize = 4;
// Bytes before the tenant in every frame.
inline constexpr size_t kFrameHeaderSize =
    kFrameCrcSize + kFrameLengthSize + kFrameTypeSize + kBatchHeaderSize;
static_assert(kFrameHeaderSize == 61);
static_assert(kSegmentHeaderSize == sizeof kSegmentMagic + 2 + 2 + 4 + 8 + 8,
              "segment header fields must add up to its size");

// Upper bound on one batch's payload; the largest receiver limit (256 MiB)
// plus room for the tenant. A frame length beyond this is corruption.
inline constexpr uint32_t kMaxPayloadSize = 256u << 20;
inline constexpr uint32_t kMaxTenantSize = 256;
// Pipelines one frame can name; a batch for more is written as several frames.
inline constexpr uint32_t kMaxPipelinesPerFrame = 32;
inline constexpr uint32_t kMaxFrameLength = kFrameTypeSize + kBatchHeaderSize +
                                            kPipelineIdSize * kMaxPipelinesPerFrame +
                                            kMaxTenantSize + kMaxPayloadSize;

enum class FrameType : uint8_t {
  kBatchV1 = 1,  // one pipeline id in the header (format version 1)
  kBatch = 2,    // a list of pipeline ids after the header
};

// The pipelines a batch belongs to: at most kMaxPipelinesPerFrame ids, no
// duplicates, kept inline (no allocation per decoded frame).
class PipelineSet {
 public:
  PipelineSet() = default;
  PipelineSet(std::initializer_list<uint32_t> ids) {
    for (uint32_t id : ids) Add(id);
  }
  // False when full; an id already present is not added again.
  bool Add(uint32_t id) {
    if (Contains(id)) return true;
    if (size_ == kMaxPipelinesPerFrame) return false;
    ids_[size_++] = id;
    return true;
  }
  bool Contains(uint32_t id) const { return std::find(begin(), end(), id) != end(); }
  bool Intersects(const PipelineSet& other) const {
    return std::any_of(begin(), end(), [&](uint32_t id) { return other.Contains(id); });
  }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const uint32_t* begin() const { return ids_.data(); }
  const uint32_t* end() const { return ids_.data() + size_; }
  bool operator==(const PipelineSet& o) const {
    return size_ == o.size_ && std::equal(begin(), end(), o.begin());
  }

 private:
  std::array<uint32_t, kMaxPipelinesPerFrame> ids_{};
  uint32_t size_ = 0;
};

// What a batch holds.
enum class Signal : uint8_t {
  kTraces = 1,
  kMetrics = 2,
  kLogs = 3,
};
std::string_view SignalName(Signal s);

// How the payload is encoded.
enum class Encoding : uint8_t {
  kOtlpProto = 1,             // ExportTrace/Metrics/LogsServiceRequest protobuf
  kPromRemoteWriteProto = 2,  // prometheus.WriteRequest protobuf, uncompressed
  // prometheus.WriteRequest protobuf in the snappy block format, the bytes a
  // remote write 1.0 sender sent.
  kPromRemoteWriteSnappy = 3,
};

struct BatchHeader {
  uint64_t base_offset = 0;  // record offset of the first item
  uint32_t item_count = 0;   // spans, points or log records
  Signal signal = Signal::kTraces;
  Encoding encoding = Encoding::kOtlpProto;
  int64_t min_event_unix_nanos = 0;
  int64_t max_event_unix_nanos = 0;
  int64_t append_unix_nanos = 0;
  // The pipelines the batch belongs to (PipelineId of their names), so that
  // exporters read only their own pipelines' batches.
  PipelineSet pipelines;
};

// Stable id of a pipeline name such as "traces" or "traces/b".
uint32_t PipelineId(std::string_view pipeline_name);

// Appends a complete frame to out.
void EncodeFrame(const BatchHeader& header, std::string_view tenant, std::string_view payload,
                 std::string* out);
// Bytes of the frame that EncodeFrame writes.
inline uint64_t FrameSize(const PipelineSet& pipelines, size_t tenant_size, size_t payload_size) {
  return kFrameHeaderSize + kPipelineIdSize * pipelines.size() + tenant_size + payload_size;
}

// Appends everything of a frame but its payload to out (the payload follows
// it on disk, written from the caller's own buffer). `payload_crc` is
// Crc32c(payload). A batch of no pipeline (none listed) is read only by
// readers of every batch.
void EncodeFrameHead(const BatchHeader& header, std::string_view tenant, size_t payload_size,
                     uint32_t payload_crc, std::string* out);

enum class DecodeResult {
  kOk,
  kNeedMore,  // fewer bytes than the frame claims (a torn tail, or not yet written)
  kCorrupt,   // bad crc, impossible length, or unknown type
};

// Parses the fixed part of a frame at the start of `data` (at least
// kFrameCrcSize + kFrameLengthSize bytes), returning the whole frame's size.
// Sets *frame_size to 0 when the length field is impossible.
uint64_t FrameSizeFromPrefix(std::string_view prefix);

struct DecodedFrame {
  BatchHeader header;
  std::string_view tenant;
  std::string_view payload;
};
// Decodes and verifies the frame that starts at data[0] and spans exactly
// `data` (data.size() == FrameSizeFromPrefix(data)).
DecodeResult DecodeFrame(std::string_view data, DecodedFrame* out);
// The bytes of a frame's head (everything the frame CRC covers, up to the
// payload) given its first kFrameHeaderSize bytes; 0 when impossible.
uint64_t FrameHeadSize(std::string_view prefix);
// Cheap structural checks on a frame's first kFrameHeaderSize bytes, before
// any CRC: length, type, pipeline count, and tenant and payload lengths agree.
// Fills *frame_size when they do.
bool PlausibleFrameHeader(std::string_view prefix, uint64_t* frame_size);
// Decodes and verifies only the head of a frame: `head` holds its first
// FrameHeadSize() bytes. Fills header (pipelines included) and tenant, not payload. A reader that
// will not use the payload can step over the frame on this alone: the head
// CRC covers the length.
DecodeResult DecodeFrameHead(std::string_view head, DecodedFrame* out);

std::string EncodeSegmentHeader(uint64_t base_offset, int64_t created_unix_nanos);
// True when data holds a valid segment header of a version this build reads;
// fills base offset (and the version when asked).
bool DecodeSegmentHeader(std::string_view data, uint64_t* base_offset, uint16_t* version = nullptr);
std::string SegmentFileName(uint64_t base_offset);
// Parses "000…123.seg"; false for any other name.
bool ParseSegmentFileName(std::string_view name, uint64_t* base_offset);

}  // namespace sluice::log
