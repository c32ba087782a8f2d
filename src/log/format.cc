#include "log/format.h"

#include <cstring>

#include "base/crc32c.h"
#include "log/coding.h"

namespace sluice::log {

std::string_view SignalName(Signal s) {
  switch (s) {
    case Signal::kTraces:
      return "traces";
    case Signal::kMetrics:
      return "metrics";
    case Signal::kLogs:
      return "logs";
  }
  return "unknown";
}

uint32_t PipelineId(std::string_view pipeline_name) {
  return Crc32c(pipeline_name);
}

void EncodeFrame(const BatchHeader& h, std::string_view tenant, std::string_view payload,
                 std::string* out) {
  EncodeFrameHead(h, tenant, payload.size(), Crc32c(payload.data(), payload.size()), out);
  out->append(payload);
}

void EncodeFrameHead(const BatchHeader& h, std::string_view tenant, size_t payload_size,
                     uint32_t payload_crc, std::string* out) {
  size_t start = out->size();
  uint32_t length = static_cast<uint32_t>(FrameSize(h.pipelines, tenant.size(), payload_size) -
                                          kFrameCrcSize - kFrameLengthSize);
  PutFixed<uint32_t>(out, 0);  // crc, patched below
  PutFixed<uint32_t>(out, length);
  PutFixed<uint8_t>(out, static_cast<uint8_t>(FrameType::kBatch));
  PutFixed<uint64_t>(out, h.base_offset);
  PutFixed<uint32_t>(out, h.item_count);
  PutFixed<uint8_t>(out, static_cast<uint8_t>(h.signal));
  PutFixed<uint8_t>(out, static_cast<uint8_t>(h.encoding));
  PutFixed<uint16_t>(out, static_cast<uint16_t>(tenant.size()));
  PutFixed<int64_t>(out, h.min_event_unix_nanos);
  PutFixed<int64_t>(out, h.max_event_unix_nanos);
  PutFixed<int64_t>(out, h.append_unix_nanos);
  PutFixed<uint32_t>(out, static_cast<uint32_t>(payload_size));
  PutFixed<uint32_t>(out, static_cast<uint32_t>(h.pipelines.size()));
  PutFixed<uint32_t>(out, payload_crc);
  for (uint32_t id : h.pipelines) PutFixed<uint32_t>(out, id);
  out->append(tenant);
  uint32_t crc = Crc32c(out->data() + start + kFrameCrcSize, out->size() - start - kFrameCrcSize);
  std::memcpy(out->data() + start, &crc, sizeof crc);
}

uint64_t FrameSizeFromPrefix(std::string_view prefix) {
  uint32_t length = GetFixed<uint32_t>(prefix.data() + kFrameCrcSize);
  if (length < kFrameTypeSize + kBatchHeaderSize || length > kMaxFrameLength) return 0;
  return kFrameCrcSize + kFrameLengthSize + uint64_t{length};
}

namespace {

// The ids that follow the batch header: 0 for a type 1 frame, the count for
// type 2; UINT32_MAX when the type or count is impossible.
uint32_t ListedPipelines(const char* type_and_header) {
  const char* p = type_and_header + kFrameTypeSize;
  switch (static_cast<FrameType>(GetFixed<uint8_t>(type_and_header))) {
    case FrameType::kBatchV1:
      return 0;
    case FrameType::kBatch: {
      uint32_t n = GetFixed<uint32_t>(p + kHdrPipelines);
      return n <= kMaxPipelinesPerFrame ? n : UINT32_MAX;
    }
  }
  return UINT32_MAX;
}

}  // namespace

uint64_t FrameHeadSize(std::string_view prefix) {
  if (prefix.size() < kFrameHeaderSize) return 0;
  const char* t = prefix.data() + kFrameCrcSize + kFrameLengthSize;
  uint32_t listed = ListedPipelines(t);
  if (listed == UINT32_MAX) return 0;
  return kFrameHeaderSize + uint64_t{kPipelineIdSize} * listed +
         GetFixed<uint16_t>(t + kFrameTypeSize + kHdrTenantLen);
}

bool PlausibleFrameHeader(std::string_view prefix, uint64_t* frame_size) {
  uint64_t size = FrameSizeFromPrefix(prefix);
  uint64_t head = FrameHeadSize(prefix);
  if (size == 0 || head == 0) return false;
  const char* p = prefix.data() + kFrameCrcSize + kFrameLengthSize + kFrameTypeSize;
  uint16_t tenant_len = GetFixed<uint16_t>(p + kHdrTenantLen);
  uint32_t payload_len = GetFixed<uint32_t>(p + kHdrPayloadLen);
  if (tenant_len > kMaxTenantSize || head + payload_len != size) return false;
  *frame_size = size;
  return true;
}

DecodeResult DecodeFrameHead(std::string_view head, DecodedFrame* out) {
  if (head.size() < kFrameHeaderSize) return DecodeResult::kNeedMore;
  uint64_t size = 0;
  if (!PlausibleFrameHeader(head, &size)) return DecodeResult::kCorrupt;
  uint64_t head_size = FrameHeadSize(head);
  if (head.size() < head_size) return DecodeResult::kNeedMore;
  if (Crc32c(head.data() + kFrameCrcSize, head_size - kFrameCrcSize) !=
      GetFixed<uint32_t>(head.data())) {
    return DecodeResult::kCorrupt;
  }
  const char* t = head.data() + kFrameCrcSize + kFrameLengthSize;
  const char* p = t + kFrameTypeSize;
  uint32_t listed = ListedPipelines(t);
  BatchHeader& h = out->header;
  h.base_offset = GetFixed<uint64_t>(p + kHdrBaseOffset);
  h.item_count = GetFixed<uint32_t>(p + kHdrItemCount);
  h.signal = static_cast<Signal>(GetFixed<uint8_t>(p + kHdrSignal));
  h.encoding = static_cast<Encoding>(GetFixed<uint8_t>(p + kHdrEncoding));
  h.min_event_unix_nanos = GetFixed<int64_t>(p + kHdrMinEvent);
  h.max_event_unix_nanos = GetFixed<int64_t>(p + kHdrMaxEvent);
  h.append_unix_nanos = GetFixed<int64_t>(p + kHdrAppend);
  h.pipelines = PipelineSet();
  if (static_cast<FrameType>(GetFixed<uint8_t>(t)) == FrameType::kBatchV1) {
    h.pipelines.Add(GetFixed<uint32_t>(p + kHdrPipelines));
  } else {
    for (uint32_t i = 0; i < listed; ++i) {
      h.pipelines.Add(GetFixed<uint32_t>(p + kBatchHeaderSize + kPipelineIdSize * i));
    }
    // A writer lists each pipeline once.
    if (h.pipelines.size() != listed) return DecodeResult::kCorrupt;
  }
  size_t tenant_at = kBatchHeaderSize + kPipelineIdSize * listed;
  out->tenant = std::string_view(p + tenant_at, GetFixed<uint16_t>(p + kHdrTenantLen));
  out->payload = std::string_view();
  return DecodeResult::kOk;
}

DecodeResult DecodeFrame(std::string_view data, DecodedFrame* out) {
  if (data.size() < kFrameHeaderSize) return DecodeResult::kNeedMore;
  uint64_t size = FrameSizeFromPrefix(data);
  if (size == 0) return DecodeResult::kCorrupt;
  if (data.size() < size) return DecodeResult::kNeedMore;
  DecodeResult head = DecodeFrameHead(data, out);
  if (head != DecodeResult::kOk) return head;
  const char* p = data.data() + kFrameCrcSize + kFrameLengthSize + kFrameTypeSize;
  uint32_t payload_len = GetFixed<uint32_t>(p + kHdrPayloadLen);
  size_t payload_at = static_cast<size_t>(size) - payload_len;
  if (Crc32c(data.data() + payload_at, payload_len) != GetFixed<uint32_t>(p + kHdrPayloadCrc)) {
    return DecodeResult::kCorrupt;
  }
  out->payload = std::string_view(data.data() + payload_at, payload_len);
  return DecodeResult::kOk;
}

std::string EncodeSegmentHeader(uint64_t base_offset, int64_t created_unix_nanos) {
  std::string out(kSegmentMagic, sizeof kSegmentMagic);
  PutFixed<uint16_t>(&out, kFormatVersion);
  PutFixed<uint16_t>(&out, static_cast<uint16_t>(kSegmentHeaderSize));
  PutFixed<uint32_t>(&out, 0);
  PutFixed<uint64_t>(&out, base_offset);
  PutFixed<int64_t>(&out, created_unix_nanos);
  return out;
}

bool DecodeSegmentHeader(std::string_view data, uint64_t* base_offset, uint16_t* version) {
  if (data.size() < kSegmentHeaderSize) return false;
  if (std::memcmp(data.data(), kSegmentMagic, sizeof kSegmentMagic) != 0) return false;
  uint16_t v = GetFixed<uint16_t>(data.data() + 8);
  if (v < kOldestReadableVersion || v > kFormatVersion) return false;
  if (version != nullptr) *version = v;
  if (GetFixed<uint16_t>(data.data() + 10) != kSegmentHeaderSize) return false;
  *base_offset = GetFixed<uint64_t>(data.data() + 16);
  return true;
}

std::string SegmentFileName(uint64_t base_offset) {
  std::string digits = std::to_string(base_offset);
  return std::string(kSegmentNameDigits - digits.size(), '0') + digits + kSegmentSuffix;
}

bool ParseSegmentFileName(std::string_view name, uint64_t* base_offset) {
  std::string_view suffix(kSegmentSuffix);
  if (name.size() != kSegmentNameDigits + suffix.size()) return false;
  if (name.substr(kSegmentNameDigits) != suffix) return false;
  uint64_t v = 0;
  for (size_t i = 0; i < kSegmentNameDigits; ++i) {
    char c = name[i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  *base_offset = v;
  return true;
}

}  // namespace sluice::log
