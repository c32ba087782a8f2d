#include "processors/cardinality/fold.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>

#include "wire/otlp/common.h"
#include "wire/otlp/metrics.h"
#include "wire/proto_reader.h"
#include "wire/proto_writer.h"

namespace sluice::processors::cardinality {
namespace {

namespace of = wire::otlp::field;
using wire::ProtoReader;
using wire::ProtoWriter;
using wire::WireType;
using wire::otlp::PointKind;

// Fields the point types share or differ in (metrics.proto).
constexpr uint32_t kExpCount = 4;
constexpr uint32_t kExpSum = 5;
constexpr uint32_t kExpScale = 6;
constexpr uint32_t kExpZeroCount = 7;
constexpr uint32_t kExpPositive = 8;
constexpr uint32_t kExpNegative = 9;
constexpr uint32_t kExpFlags = 10;
constexpr uint32_t kExpMin = 12;
constexpr uint32_t kExpMax = 13;
constexpr uint32_t kExpZeroThreshold = 14;
constexpr uint32_t kBucketsOffset = 1;
constexpr uint32_t kBucketsCounts = 2;
constexpr uint32_t kHistogramFlags = 10;
constexpr uint32_t kHistogramMin = 11;
constexpr uint32_t kHistogramMax = 12;
constexpr uint32_t kNoRecordedValue = 1;  // DataPointFlags
// The most buckets a merged exponential histogram keeps per sign: past it,
// the merge goes to a coarser scale (as the SDKs' aggregations do at their
// max_size, 160 by default), so points with far-apart offsets cannot make
// the merge allocate without bound.
constexpr int64_t kMaxExpBuckets = 4096;

uint64_t Bits(double d) {
  uint64_t b;
  std::memcpy(&b, &d, sizeof b);
  return b;
}

// Appends the values of a repeated 64-bit field, packed or not.
void ReadFixed64s(const ProtoReader& r, std::vector<uint64_t>* out) {
  if (r.Is(WireType::kFixed64)) {
    out->push_back(r.fixed64());
    return;
  }
  if (!r.Is(WireType::kLengthDelimited)) return;
  std::string_view b = r.bytes();
  for (size_t i = 0; i + 8 <= b.size(); i += 8) {
    uint64_t v;
    std::memcpy(&v, b.data() + i, 8);
    out->push_back(v);
  }
}

void ReadVarints(const ProtoReader& r, std::vector<uint64_t>* out) {
  if (r.Is(WireType::kVarint)) {
    out->push_back(r.varint());
    return;
  }
  if (!r.Is(WireType::kLengthDelimited)) return;
  // Packed: untagged varints back to back.
  std::string_view b = r.bytes();
  size_t i = 0;
  while (i < b.size()) {
    uint64_t v = 0;
    int shift = 0;
    while (i < b.size() && shift < 64) {
      auto c = static_cast<uint8_t>(b[i++]);
      v |= static_cast<uint64_t>(c & 0x7f) << shift;
      shift += 7;
      if ((c & 0x80) == 0) break;
    }
    out->push_back(v);
  }
}

// Exponential histogram buckets as a dense run from `offset`.
struct ExpBuckets {
  int64_t offset = 0;
  std::vector<uint64_t> counts;

  // Adds `other`, whose indexes are 2^shift times finer than these.
  void Add(const ExpBuckets& other, int shift) {
    for (size_t i = 0; i < other.counts.size(); ++i) {
      if (other.counts[i] == 0) continue;
      // Arithmetic shift: bucket indexes floor-divide by 2^shift.
      int64_t index = (other.offset + static_cast<int64_t>(i)) >> shift;
      if (counts.empty()) offset = index;
      if (index < offset) {
        counts.insert(counts.begin(), static_cast<size_t>(offset - index), 0);
        offset = index;
      }
      size_t at = static_cast<size_t>(index - offset);
      if (at >= counts.size()) counts.resize(at + 1, 0);
      counts[at] += other.counts[i];
    }
  }
};

ExpBuckets ReadExpBuckets(std::string_view message) {
  ExpBuckets b;
  ProtoReader r(message);
  while (r.Next()) {
    if (r.field() == kBucketsOffset && r.Is(WireType::kVarint))
      b.offset = wire::ZigZagDecode(r.varint());
    if (r.field() == kBucketsCounts) ReadVarints(r, &b.counts);
  }
  return b;
}

// One decoded point: what folding reads of it.
struct Point {
  std::string_view raw;
  uint64_t start = 0;
  uint64_t time = 0;
  bool no_value = false;
  // Number points.
  bool is_int = true;
  int64_t i = 0;
  double d = 0;
  // Histograms, exponential histograms and summaries.
  uint64_t count = 0;
  double sum = 0;
  bool has_sum = false;
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  bool has_min = false, has_max = false;
  std::vector<uint64_t> buckets;
  std::vector<uint64_t> bounds;  // as bits
  // Exponential histograms.
  int64_t scale = 0;
  uint64_t zero_count = 0;
  double zero_threshold = 0;
  ExpBuckets positive, negative;
};

Point Decode(PointKind kind, std::string_view raw) {
  Point p;
  p.raw = raw;
  ProtoReader r(raw);
  while (r.Next()) {
    const uint32_t f = r.field();
    if (f == of::kPointStartTime && r.Is(WireType::kFixed64)) p.start = r.fixed64();
    if (f == of::kPointTime && r.Is(WireType::kFixed64)) p.time = r.fixed64();
    switch (kind) {
      case PointKind::kNumber:
        if (f == of::kNumberAsInt && r.Is(WireType::kFixed64)) p.i = r.as_int64(), p.is_int = true;
        if (f == of::kNumberAsDouble && r.Is(WireType::kFixed64))
          p.d = r.as_double(), p.is_int = false;
        if (f == of::kNumberFlags && r.Is(WireType::kVarint))
          p.no_value = r.varint() & kNoRecordedValue;
        break;
      case PointKind::kHistogram:
        if (f == of::kHistogramCount && r.Is(WireType::kFixed64)) p.count = r.fixed64();
        if (f == of::kHistogramSum && r.Is(WireType::kFixed64))
          p.sum = r.as_double(), p.has_sum = true;
        if (f == of::kHistogramBucketCounts) ReadFixed64s(r, &p.buckets);
        if (f == of::kHistogramExplicitBounds) ReadFixed64s(r, &p.bounds);
        if (f == kHistogramMin && r.Is(WireType::kFixed64)) p.min = r.as_double(), p.has_min = true;
        if (f == kHistogramMax && r.Is(WireType::kFixed64)) p.max = r.as_double(), p.has_max = true;
        if (f == kHistogramFlags && r.Is(WireType::kVarint))
          p.no_value = r.varint() & kNoRecordedValue;
        break;
      case PointKind::kExponentialHistogram:
        if (f == kExpCount && r.Is(WireType::kFixed64)) p.count = r.fixed64();
        if (f == kExpSum && r.Is(WireType::kFixed64)) p.sum = r.as_double(), p.has_sum = true;
        if (f == kExpScale && r.Is(WireType::kVarint)) {
          p.scale =
              std::clamp<int64_t>(wire::ZigZagDecode(r.varint()), -64, 64);  // valid: -10 to 20
        }
        if (f == kExpZeroCount && r.Is(WireType::kFixed64)) p.zero_count = r.fixed64();
        if (f == kExpZeroThreshold && r.Is(WireType::kFixed64)) p.zero_threshold = r.as_double();
        if (f == kExpPositive && r.Is(WireType::kLengthDelimited))
          p.positive = ReadExpBuckets(r.bytes());
        if (f == kExpNegative && r.Is(WireType::kLengthDelimited))
          p.negative = ReadExpBuckets(r.bytes());
        if (f == kExpMin && r.Is(WireType::kFixed64)) p.min = r.as_double(), p.has_min = true;
        if (f == kExpMax && r.Is(WireType::kFixed64)) p.max = r.as_double(), p.has_max = true;
        if (f == kExpFlags && r.Is(WireType::kVarint)) p.no_value = r.varint() & kNoRecordedValue;
        break;
      case PointKind::kSummary:
        if (f == of::kSummaryCount && r.Is(WireType::kFixed64)) p.count = r.fixed64();
        if (f == of::kSummarySum && r.Is(WireType::kFixed64))
          p.sum = r.as_double(), p.has_sum = true;
        if (f == of::kSummaryFlags && r.Is(WireType::kVarint))
          p.no_value = r.varint() & kNoRecordedValue;
        break;
    }
  }
  return p;
}

// Whether b merges into a.
bool Mergeable(PointKind kind, const Point& a, const Point& b) {
  if (a.time != b.time) return false;
  if (kind == PointKind::kHistogram)
    return a.bounds == b.bounds && a.buckets.size() == b.buckets.size();
  if (kind == PointKind::kExponentialHistogram) return a.zero_threshold == b.zero_threshold;
  return true;
}

void Merge(PointKind kind, Point& a, const Point& b) {
  if (b.start != 0 && (a.start == 0 || b.start < a.start)) a.start = b.start;
  switch (kind) {
    case PointKind::kNumber:
      if (a.is_int && b.is_int) {
        a.i += b.i;
      } else {
        a.d = (a.is_int ? static_cast<double>(a.i) : a.d) +
              (b.is_int ? static_cast<double>(b.i) : b.d);
        a.is_int = false;
      }
      return;
    case PointKind::kExponentialHistogram: {
      // The finest scale at or below both at which each sign's buckets fit.
      int64_t scale = std::min(a.scale, b.scale);
      auto fits = [&](const ExpBuckets& x, int64_t xs, const ExpBuckets& y, int64_t ys) {
        int64_t lo = INT64_MAX, hi = INT64_MIN;
        for (const auto& [buckets, from] : {std::pair{&x, xs}, std::pair{&y, ys}}) {
          if (buckets->counts.empty()) continue;
          const int shift = static_cast<int>(std::min<int64_t>(from - scale, 63));
          lo = std::min(lo, buckets->offset >> shift);
          hi = std::max(
              hi, (buckets->offset + static_cast<int64_t>(buckets->counts.size()) - 1) >> shift);
        }
        return lo > hi || hi - lo < kMaxExpBuckets;
      };
      while (scale > -64 && !(fits(a.positive, a.scale, b.positive, b.scale) &&
                              fits(a.negative, a.scale, b.negative, b.scale))) {
        --scale;
      }
      ExpBuckets pos, neg;
      const int shift_a = static_cast<int>(std::min<int64_t>(a.scale - scale, 63));
      const int shift_b = static_cast<int>(std::min<int64_t>(b.scale - scale, 63));
      pos.Add(a.positive, shift_a);
      pos.Add(b.positive, shift_b);
      neg.Add(a.negative, shift_a);
      neg.Add(b.negative, shift_b);
      a.positive = std::move(pos);
      a.negative = std::move(neg);
      a.scale = scale;
      a.zero_count += b.zero_count;
      break;
    }
    case PointKind::kHistogram:
      for (size_t i = 0; i < a.buckets.size(); ++i) a.buckets[i] += b.buckets[i];
      break;
    case PointKind::kSummary:
      break;
  }
  a.count += b.count;
  a.has_sum = a.has_sum && b.has_sum;
  a.sum += b.sum;
  a.has_min = a.has_min && b.has_min;
  a.min = std::min(a.min, b.min);
  a.has_max = a.has_max && b.has_max;
  a.max = std::max(a.max, b.max);
}

void WriteExpBuckets(ProtoWriter& w, uint32_t field, const ExpBuckets& b) {
  size_t mark = w.BeginMessage(field);
  w.Varint(kBucketsOffset, wire::ZigZagEncode(b.offset));
  std::string packed;
  ProtoWriter pw(&packed);
  for (uint64_t c : b.counts) pw.RawVarint(c);
  w.Bytes(kBucketsCounts, packed);
  w.EndMessage(mark);
}

// The merged point, encoded, with the overflow attribute.
std::string Encode(PointKind kind, const Point& p, std::string_view overflow_kv) {
  std::string out;
  ProtoWriter w(&out);
  w.Bytes(wire::otlp::PointAttributesField(kind), overflow_kv);
  if (p.start != 0) w.Fixed64(of::kPointStartTime, p.start);
  w.Fixed64(of::kPointTime, p.time);
  auto packed64 = [&](uint32_t field, const std::vector<uint64_t>& v) {
    if (v.empty()) return;
    std::string b(v.size() * 8, '\0');
    std::memcpy(b.data(), v.data(), b.size());
    w.Bytes(field, b);
  };
  switch (kind) {
    case PointKind::kNumber:
      if (p.is_int) {
        w.Fixed64(of::kNumberAsInt, static_cast<uint64_t>(p.i));
      } else {
        w.Fixed64(of::kNumberAsDouble, Bits(p.d));
      }
      break;
    case PointKind::kHistogram:
      w.Fixed64(of::kHistogramCount, p.count);
      if (p.has_sum) w.Fixed64(of::kHistogramSum, Bits(p.sum));
      packed64(of::kHistogramBucketCounts, p.buckets);
      packed64(of::kHistogramExplicitBounds, p.bounds);
      if (p.has_min) w.Fixed64(kHistogramMin, Bits(p.min));
      if (p.has_max) w.Fixed64(kHistogramMax, Bits(p.max));
      break;
    case PointKind::kExponentialHistogram:
      w.Fixed64(kExpCount, p.count);
      if (p.has_sum) w.Fixed64(kExpSum, Bits(p.sum));
      w.Varint(kExpScale, wire::ZigZagEncode(p.scale));
      w.Fixed64(kExpZeroCount, p.zero_count);
      WriteExpBuckets(w, kExpPositive, p.positive);
      WriteExpBuckets(w, kExpNegative, p.negative);
      if (p.has_min) w.Fixed64(kExpMin, Bits(p.min));
      if (p.has_max) w.Fixed64(kExpMax, Bits(p.max));
      if (p.zero_threshold != 0) w.Fixed64(kExpZeroThreshold, Bits(p.zero_threshold));
      break;
    case PointKind::kSummary:
      w.Fixed64(of::kSummaryCount, p.count);
      w.Fixed64(of::kSummarySum, Bits(p.sum));
      break;
  }
  return out;
}

}  // namespace

size_t FoldPoints(PointKind kind, const std::vector<std::string_view>& points, std::string* out) {
  std::string overflow_kv;
  {
    ProtoWriter w(&overflow_kv);
    w.Bytes(of::kKeyValueKey, kOverflowAttribute);
    w.Bytes(of::kKeyValueValue, wire::otlp::AnyBool(true));
  }
  struct Group {
    Point point;
    size_t merged = 1;
  };
  std::vector<Group> groups;
  for (std::string_view raw : points) {
    Point p = Decode(kind, raw);
    if (p.no_value) continue;
    auto g = std::find_if(groups.begin(), groups.end(),
                          [&](const Group& x) { return Mergeable(kind, x.point, p); });
    if (g == groups.end()) {
      groups.push_back(Group{std::move(p)});
    } else {
      Merge(kind, g->point, p);
      ++g->merged;
    }
  }
  ProtoWriter w(out);
  std::string attribute_field;
  ProtoWriter(&attribute_field).Bytes(wire::otlp::PointAttributesField(kind), overflow_kv);
  for (const Group& g : groups) {
    if (g.merged == 1) {
      // Alone at its time: the point as it was, under the overflow attribute.
      w.Bytes(of::kDataPoints,
              wire::otlp::ReplaceFields(g.point.raw, {wire::otlp::PointAttributesField(kind)},
                                        attribute_field));
    } else {
      w.Bytes(of::kDataPoints, Encode(kind, g.point, overflow_kv));
    }
  }
  return groups.size();
}

}  // namespace sluice::processors::cardinality
