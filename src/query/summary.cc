#include "query/summary.h"

#include <cstring>

#include "base/crc32c.h"
#include "wire/proto_reader.h"
#include "wire/proto_writer.h"

// Inlined: a hash is taken per span.
#define XXH_INLINE_ALL
#include <xxhash.h>

namespace sluice::query {
namespace {

constexpr char kMagic[8] = {'S', 'L', 'U', 'I', 'C', 'E', 'Q', 'X'};
constexpr size_t kHeaderSize = 16;

}  // namespace

uint64_t TraceHash(std::string_view trace_id) {
  return XXH3_64bits(trace_id.data(), trace_id.size());
}

std::string EncodeSummary(const SegmentSummary& s) {
  std::string body;
  wire::ProtoWriter w(&body);
  w.Varint(1, s.segment);
  w.Varint(2, wire::ZigZagEncode(s.min_time_unix_nano));
  w.Varint(3, wire::ZigZagEncode(s.max_time_unix_nano));
  w.Varint(4, s.spans);
  w.Varint(5, s.log_records);
  for (const std::string& service : s.services) w.Bytes(6, service);
  w.Bytes(7, s.traces.Serialize());
  for (const TraceBlock& b : s.blocks) {
    size_t m = w.BeginMessage(8);
    w.Varint(1, b.begin);
    w.Varint(2, b.end);
    w.Bytes(3, b.traces.Serialize());
    w.EndMessage(m);
  }
  std::string out(kMagic, sizeof kMagic);
  const uint16_t version = kSummaryVersion, reserved = 0;
  const auto length = static_cast<uint32_t>(body.size());
  out.append(reinterpret_cast<const char*>(&version), 2);
  out.append(reinterpret_cast<const char*>(&reserved), 2);
  out.append(reinterpret_cast<const char*>(&length), 4);
  out += body;
  const uint32_t crc = Crc32c(out);
  out.append(reinterpret_cast<const char*>(&crc), 4);
  return out;
}

Result<SegmentSummary> DecodeSummary(std::string_view bytes) {
  if (bytes.size() < kHeaderSize + 4 || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) {
    return Status::Corruption("not a segment summary");
  }
  uint16_t version;
  uint32_t length, crc;
  std::memcpy(&version, bytes.data() + 8, 2);
  std::memcpy(&length, bytes.data() + 12, 4);
  if (version != kSummaryVersion) {
    return Status::Corruption("segment summary version " + std::to_string(version));
  }
  if (bytes.size() != kHeaderSize + length + 4) return Status::Corruption("segment summary size");
  std::memcpy(&crc, bytes.data() + kHeaderSize + length, 4);
  if (crc != Crc32c(bytes.substr(0, kHeaderSize + length))) {
    return Status::Corruption("segment summary checksum");
  }
  SegmentSummary s;
  bool bloom = false;
  wire::ProtoReader r(bytes.substr(kHeaderSize, length));
  while (r.Next()) {
    switch (r.field()) {
      case 1:
        s.segment = r.varint();
        break;
      case 2:
        s.min_time_unix_nano = wire::ZigZagDecode(r.varint());
        break;
      case 3:
        s.max_time_unix_nano = wire::ZigZagDecode(r.varint());
        break;
      case 4:
        s.spans = r.varint();
        break;
      case 5:
        s.log_records = r.varint();
        break;
      case 6:
        s.services.emplace_back(r.bytes());
        break;
      case 7:
        bloom = s.traces.Deserialize(r.bytes());
        break;
      case 8: {
        TraceBlock b;
        bool filter = false;
        wire::ProtoReader f(r.bytes());
        while (f.Next()) {
          if (f.field() == 1) b.begin = f.varint();
          if (f.field() == 2) b.end = f.varint();
          if (f.field() == 3) filter = b.traces.Deserialize(f.bytes());
        }
        if (!f.ok() || !filter || b.end < b.begin ||
            (!s.blocks.empty() && b.begin < s.blocks.back().end)) {
          return Status::Corruption("segment summary: trace block " +
                                    std::to_string(s.blocks.size()) + " [" +
                                    std::to_string(b.begin) + ", " + std::to_string(b.end) +
                                    ") does not decode" + (filter ? "" : " (its filter)"));
        }
        s.blocks.push_back(std::move(b));
        break;
      }
      default:
        break;
    }
  }
  if (!r.ok() || !bloom) return Status::Corruption("segment summary body");
  return s;
}

}  // namespace sluice::query
