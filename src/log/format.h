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
// Frame (one record batch):
//   +--------+--------+------+---------------------+--------+---------+
//   | crc32c | length | type | batch header (52 B) | tenant | payload |
//   |  u32   |  u32   |  u8  |                     |        |         |
//   +--------+--------+------+---------------------+--------+---------+
//   length = bytes after the length field (type + header + tenant + payload)
//   crc32c covers the length field, type, header and tenant (the frame head);
//   the header's payload_crc32c covers the payload. The payload's checksum is
//   computed by the appending thread, so the single writer thread only sums
//   the head.
//
// Batch header (52 bytes):
//   base_offset u64 | item_count u32 | signal u8 | encoding u8 | tenant_len u16 |
//   min_event_unix_nanos i64 | max_event_unix_nanos i64 | append_unix_nanos i64 |
//   payload_len u32 | pipeline_id u32 | payload_crc32c u32
//
// All integers are little-endian.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::log {

inline constexpr char kSegmentMagic[8] = {'S', 'L', 'U', 'I', 'C', 'E', 'S', 'G'};
inline constexpr uint16_t kFormatVersion = 1;
inline constexpr size_t kSegmentHeaderSize = 32;
inline constexpr const char* kSegmentSuffix = ".seg";
inline constexpr size_t kSegmentNameDigits = 20;

inline constexpr size_t kFrameCrcSize = 4;
inline constexpr size_t kFrameLengthSize = 4;
inline constexpr size_t kFrameTypeSize = 1;
inline constexpr size_t kBatchHeaderSize = 52;
// Bytes before the tenant in every frame.
inline constexpr size_t kFrameHeaderSize =
    kFrameCrcSize + kFrameLengthSize + kFrameTypeSize + kBatchHeaderSize;
static_assert(kFrameHeaderSize == 61);

// Upper bound on one batch's payload; the largest receiver limit (256 MiB)
// plus room for the tenant. A frame length beyond this is corruption.
inline constexpr uint32_t kMaxPayloadSize = 256u << 20;
inline constexpr uint32_t kMaxTenantSize = 256;
inline constexpr uint32_t kMaxFrameLength =
    kFrameTypeSize + kBatchHeaderSize + kMaxTenantSize + kMaxPayloadSize;

enum class FrameType : uint8_t {
  kBatch = 1,
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
  // Which pipeline produced the batch (PipelineId of its name), so exporters
  // read only their own pipelines' batches.
  uint32_t pipeline_id = 0;
};

// Stable id of a pipeline name such as "traces" or "traces/b".
uint32_t PipelineId(std::string_view pipeline_name);

// Appends a complete frame to out.
void EncodeFrame(const BatchHeader& header, std::string_view tenant, std::string_view payload,
                 std::string* out);
// Appends everything of a frame but its payload to out (the payload follows
// it on disk, written from the caller's own buffer). `payload_crc` is
// Crc32c(payload).
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
// Decodes and verifies only the head of a frame: `head` holds its first
// FrameHeadSize() bytes. Fills header and tenant (not payload). A reader that
// will not use the payload can step over the frame on this alone: the head
// CRC covers the length.
DecodeResult DecodeFrameHead(std::string_view head, DecodedFrame* out);

std::string EncodeSegmentHeader(uint64_t base_offset, int64_t created_unix_nanos);
// True when data holds a valid segment header; fills base offset.
bool DecodeSegmentHeader(std::string_view data, uint64_t* base_offset);
std::string SegmentFileName(uint64_t base_offset);
// Parses "000…123.seg"; false for any other name.
bool ParseSegmentFileName(std::string_view name, uint64_t* base_offset);

}  // namespace sluice::log
