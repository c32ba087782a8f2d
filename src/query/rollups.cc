#include "query/rollups.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "base/logging.h"
#include "io/file_system.h"
#include "pipeline/checkpoint.h"
#include "wire/otlp/common.h"
#include "wire/otlp/metrics.h"
#include "wire/proto_reader.h"
#include "wire/proto_writer.h"

namespace sluice::query {
namespace {

namespace of = wire::otlp::field;

constexpr int32_t kMinIndex = -2000, kMaxIndex = 2000;
constexpr std::string_view kMagic = "SLRU";
constexpr int64_t kCheckpointEvery = 60'000'000'000;
constexpr int64_t kForgetAfter = 3'600'000'000'000;

bool ReadVarint(std::string_view& in, uint64_t* v) {
  *v = 0;
  for (int shift = 0; shift < 64 && !in.empty(); shift += 7) {
    uint8_t b = static_cast<uint8_t>(in.front());
    in.remove_prefix(1);
    *v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

}  // namespace

int32_t Sketch::IndexOf(double seconds) {
  if (!(seconds > 1e-9)) return kZero;
  double i = std::ceil(std::log2(seconds) * 8) - 1;
  return static_cast<int32_t>(std::clamp(i, double{kMinIndex}, double{kMaxIndex}));
}

double Sketch::ValueOf(int32_t index) {
  if (index == kZero) return 0;
  return std::exp2((index + 0.5) / 8);
}

void Sketch::Add(int32_t index, uint64_t count) {
  if (count == 0) return;
  auto it = std::lower_bound(buckets_.begin(), buckets_.end(), index,
                             [](const auto& b, int32_t i) { return b.first < i; });
  if (it != buckets_.end() && it->first == index) {
    it->second += count;
  } else {
    buckets_.insert(it, {index, count});
  }
}

void Sketch::Merge(const Sketch& other) {
  if (other.buckets_.empty()) return;
  if (buckets_.empty()) {
    buckets_ = other.buckets_;
    return;
  }
  std::vector<std::pair<int32_t, uint64_t>> out;
  out.reserve(buckets_.size() + other.buckets_.size());
  size_t i = 0, j = 0;
  while (i < buckets_.size() || j < other.buckets_.size()) {
    if (j == other.buckets_.size() ||
        (i < buckets_.size() && buckets_[i].first < other.buckets_[j].first)) {
      out.push_back(buckets_[i++]);
    } else if (i == buckets_.size() || other.buckets_[j].first < buckets_[i].first) {
      out.push_back(other.buckets_[j++]);
    } else {
      out.emplace_back(buckets_[i].first, buckets_[i].second + other.buckets_[j].second);
      ++i;
      ++j;
    }
  }
  buckets_ = std::move(out);
}

Sketch Sketch::Minus(const Sketch& earlier) const {
  Sketch out;
  size_t j = 0;
  for (const auto& [index, count] : buckets_) {
    while (j < earlier.buckets_.size() && earlier.buckets_[j].first < index) ++j;
    uint64_t before = j < earlier.buckets_.size() && earlier.buckets_[j].first == index
                          ? earlier.buckets_[j].second
                          : 0;
    if (count > before) out.buckets_.emplace_back(index, count - before);
  }
  return out;
}

uint64_t Sketch::count() const {
  uint64_t n = 0;
  for (const auto& b : buckets_) n += b.second;
  return n;
}

double Sketch::Quantile(double q) const {
  uint64_t total = count();
  if (total == 0) return std::numeric_limits<double>::quiet_NaN();
  uint64_t rank = static_cast<uint64_t>(std::ceil(std::clamp(q, 0.0, 1.0) * total));
  rank = std::max<uint64_t>(rank, 1);
  uint64_t seen = 0;
  for (const auto& [index, count] : buckets_) {
    seen += count;
    if (seen >= rank) return ValueOf(index);
  }
  return ValueOf(buckets_.back().first);
}

void Sketch::EncodeTo(std::string* out) const {
  out->clear();
  wire::ProtoWriter w(out);
  int64_t prev = 0;
  for (const auto& [index, count] : buckets_) {
    w.RawVarint(wire::ZigZagEncode(index - prev));
    w.RawVarint(count);
    prev = index;
  }
}

bool Sketch::Decode(std::string_view in, Sketch* out) {
  out->buckets_.clear();
  int64_t prev = 0;
  while (!in.empty()) {
    uint64_t delta, count;
    if (!ReadVarint(in, &delta) || !ReadVarint(in, &count)) return false;
    int64_t index = prev + wire::ZigZagDecode(delta);
    if (index != kZero && (index < kMinIndex || index > kMaxIndex)) return false;
    if (!out->buckets_.empty() && index <= out->buckets_.back().first) return false;
    out->buckets_.emplace_back(static_cast<int32_t>(index), count);
    prev = index;
  }
  return true;
}

void Totals::Merge(const Totals& other) {
  calls += other.calls;
  errors += other.errors;
  sum_seconds += other.sum_seconds;
  latency.Merge(other.latency);
}

Rollups::Rollups(Options options) : options_(options) {
  fine_.step = options_.fine_step_nanos;
  fine_.span = options_.fine_span_nanos;
  coarse_.step = options_.coarse_step_nanos;
  coarse_.span = options_.coarse_span_nanos;
}

uint32_t Rollups::SeriesId(const Series& s) {
  std::string key;
  key.reserve(s.a.size() + s.b.size() + s.c.size() + s.tenant.size() + 4);
  key += static_cast<char>(s.kind);
  key += s.a;
  key += '\0';
  key += s.b;
  key += '\0';
  key += s.c;
  key += '\0';
  key += s.tenant;
  auto [it, inserted] = series_ids_.try_emplace(std::move(key), series_.size());
  if (inserted) {
    series_.push_back(s);
    bytes_ += sizeof(Series) + s.a.size() + s.b.size() + s.c.size() + s.tenant.size() + 64;
  }
  return it->second;
}

uint64_t Rollups::CellBytes(const Cell& c) {
  // A string's own buffer is on the heap past its inline capacity.
  return sizeof(Cell) + (c.latency.capacity() > 15 ? c.latency.capacity() + 1 : 0);
}

void Rollups::Add(const Series& series, int64_t time, const Totals& delta) {
  if (delta.calls == 0 && delta.errors == 0 && delta.latency.empty()) return;
  uint32_t id = SeriesId(series);
  AddTo(fine_, id, time, delta);
  AddTo(coarse_, id, time, delta);
  Trim();
}

void Rollups::AddTo(Tier& tier, uint32_t series, int64_t time, const Totals& delta) {
  const int64_t start = time - ((time % tier.step) + tier.step) % tier.step;
  if (!tier.slots.empty() && start <= tier.slots.back().start - tier.span) return;  // too old
  size_t at;
  bool newest = false;
  if (tier.slots.empty() || start > tier.slots.back().start) {
    tier.slots.push_back(Slot{start, {}, 0});
    tier.newest.clear();
    at = tier.slots.size() - 1;
    newest = true;
  } else {
    auto it = std::lower_bound(tier.slots.begin(), tier.slots.end(), start,
                               [](const Slot& s, int64_t t) { return s.start < t; });
    if (it == tier.slots.end() || it->start != start)
      it = tier.slots.insert(it, Slot{start, {}, 0});
    at = static_cast<size_t>(it - tier.slots.begin());
    newest = at == tier.slots.size() - 1;
  }
  Slot& slot = tier.slots[at];
  Cell* cell = nullptr;
  if (newest) {
    auto [it, inserted] = tier.newest.try_emplace(series, slot.cells.size());
    if (inserted) slot.cells.push_back(Cell{series, 0, 0, 0, {}});
    cell = &slot.cells[it->second];
  } else {
    for (Cell& c : slot.cells) {
      if (c.series == series) cell = &c;
    }
    if (cell == nullptr) cell = &slot.cells.emplace_back(Cell{series, 0, 0, 0, {}});
  }
  const uint64_t before =
      cell->calls == 0 && cell->errors == 0 && cell->latency.empty() && cell->sum == 0
          ? 0
          : CellBytes(*cell);
  cell->calls += delta.calls;
  cell->errors += delta.errors;
  cell->sum += delta.sum_seconds;
  if (!delta.latency.empty()) {
    Sketch merged;
    Sketch::Decode(cell->latency, &merged);
    merged.Merge(delta.latency);
    merged.EncodeTo(&cell->latency);
  }
  const uint64_t after = CellBytes(*cell);
  slot.bytes = slot.bytes + after - before;
  bytes_ = bytes_ + after - before;
  // Slots older than the tier's span leave it.
  while (tier.slots.size() > 1 && tier.slots.front().start <= tier.slots.back().start - tier.span) {
    DropOldest(tier);
  }
}

void Rollups::DropOldest(Tier& tier) {
  bytes_ -= std::min(bytes_, tier.slots.front().bytes);
  tier.slots.pop_front();
  if (tier.slots.empty()) tier.newest.clear();
}

void Rollups::Trim() {
  // Past the budget the oldest slot of either resolution goes: the oldest
  // minutes first, and the 10 s slots once minutes reach into the last hour.
  while (bytes_ > options_.max_bytes) {
    Tier* oldest = nullptr;
    for (Tier* t : {&coarse_, &fine_}) {
      if (t->slots.size() <= 1) continue;
      if (oldest == nullptr || t->slots.front().start < oldest->slots.front().start) oldest = t;
    }
    if (oldest == nullptr) return;
    DropOldest(*oldest);
    ++evictions_;
  }
}

void Rollups::AddCumulative(uint64_t point_key, const Point& point, Counts counts,
                            const std::vector<Series>& series) {
  Last& last = last_[point_key];
  Totals d;
  uint64_t n;
  if (last.seen == 0 || point.start_unix_nano != last.start || point.count < last.count) {
    n = point.count;
    d.sum_seconds = point.sum_seconds;
    d.latency = point.latency;
  } else {
    n = point.count - last.count;
    d.sum_seconds = std::max(0.0, point.sum_seconds - last.sum);
    d.latency = point.latency.Minus(last.latency);
  }
  last.start = point.start_unix_nano;
  last.seen = point.time_unix_nano;
  last.count = point.count;
  last.sum = point.sum_seconds;
  last.latency = point.latency;
  if (counts == Counts::kCalls || counts == Counts::kCallsAndErrors) d.calls = n;
  if (counts == Counts::kErrors || counts == Counts::kCallsAndErrors) d.errors = n;
  for (const Series& s : series) Add(s, point.time_unix_nano, d);
}

void Rollups::ExpireCumulative(int64_t now) {
  absl::erase_if(last_, [&](const auto& kv) { return kv.second.seen < now - kForgetAfter; });
}

int64_t Rollups::ForEach(
    int64_t from, int64_t to, const TenantScope& scope,
    const std::function<void(const Series&, int64_t, const Totals&)>& fn) const {
  // The 10 s slots answer when they reach back as far as the minutes do, or
  // far enough for the range.
  const Tier* tier = &fine_;
  if (!coarse_.slots.empty() &&
      (fine_.slots.empty() ||
       (from < fine_.slots.front().start &&
        fine_.slots.front().start > coarse_.slots.front().start + coarse_.step))) {
    tier = &coarse_;
  }
  auto it = std::lower_bound(tier->slots.begin(), tier->slots.end(), from - tier->step + 1,
                             [](const Slot& s, int64_t t) { return s.start < t; });
  Totals t;
  for (; it != tier->slots.end() && it->start < to; ++it) {
    for (const Cell& c : it->cells) {
      if (!scope.Admits(series_[c.series].tenant)) continue;
      t.calls = c.calls;
      t.errors = c.errors;
      t.sum_seconds = c.sum;
      Sketch::Decode(c.latency, &t.latency);
      fn(series_[c.series], it->start, t);
    }
  }
  return tier->step;
}

bool Rollups::HasService(const TenantScope& scope, std::string_view service) const {
  std::string key(1, static_cast<char>(Kind::kServiceAll));
  key += service;
  key += '\0';
  key += '\0';
  key += '\0';
  // The default tenant's spans may be stored without a tenant.
  if (scope.IsDefault() && series_ids_.contains(key)) return true;
  key += scope.tenant;
  return series_ids_.contains(key);
}

// State layout (protobuf wire format): repeated series = 1 {kind = 1, a = 2,
// b = 3, c = 4, tenant = 5 (absent for none)}; repeated fine = 2 and coarse = 3 slots {start = 1,
// repeated cell = 2 {series = 1, calls = 2, errors = 3, sum = 4 (double), latency = 5}}; repeated
// last = 4 {key = 1 (fixed64), start = 2, seen = 3, count = 4, sum = 5 (double), latency = 6}.
std::string Rollups::Serialize() const {
  std::string out;
  wire::ProtoWriter w(&out);
  for (const Series& s : series_) {
    size_t m = w.BeginMessage(1);
    w.Varint(1, static_cast<uint64_t>(s.kind));
    w.Bytes(2, s.a);
    w.Bytes(3, s.b);
    w.Bytes(4, s.c);
    if (!s.tenant.empty()) w.Bytes(5, s.tenant);
    w.EndMessage(m);
  }
  for (auto [field, tier] : {std::pair{2u, &fine_}, std::pair{3u, &coarse_}}) {
    for (const Slot& slot : tier->slots) {
      size_t m = w.BeginMessage(field);
      w.Varint(1, static_cast<uint64_t>(slot.start));
      for (const Cell& c : slot.cells) {
        size_t cm = w.BeginMessage(2);
        w.Varint(1, c.series);
        w.Varint(2, c.calls);
        w.Varint(3, c.errors);
        w.Double(4, c.sum);
        w.Bytes(5, c.latency);
        w.EndMessage(cm);
      }
      w.EndMessage(m);
    }
  }
  std::string latency;
  for (const auto& [key, l] : last_) {
    size_t m = w.BeginMessage(4);
    w.Fixed64(1, key);
    w.Varint(2, static_cast<uint64_t>(l.start));
    w.Varint(3, static_cast<uint64_t>(l.seen));
    w.Varint(4, l.count);
    w.Double(5, l.sum);
    l.latency.EncodeTo(&latency);
    w.Bytes(6, latency);
    w.EndMessage(m);
  }
  return out;
}

Status Rollups::Deserialize(std::string_view bytes) {
  Rollups fresh(options_);
  wire::ProtoReader r(bytes);
  auto bad = [](const char* why) { return Status::Corruption(std::string("rollups: ") + why); };
  while (r.Next()) {
    switch (r.field()) {
      case 1: {
        Series s{Kind::kService, "", "", ""};
        wire::ProtoReader f(r.bytes());
        while (f.Next()) {
          if (f.field() == 1) {
            if (f.varint() > static_cast<uint64_t>(Kind::kEdge)) return bad("unknown series kind");
            s.kind = static_cast<Kind>(f.varint());
          }
          if (f.field() == 2) s.a = std::string(f.bytes());
          if (f.field() == 3) s.b = std::string(f.bytes());
          if (f.field() == 4) s.c = std::string(f.bytes());
          if (f.field() == 5) s.tenant = std::string(f.bytes());
        }
        if (!f.ok()) return bad(f.error());
        fresh.SeriesId(s);
        break;
      }
      case 2:
      case 3: {
        Tier& tier = r.field() == 2 ? fresh.fine_ : fresh.coarse_;
        Slot slot;
        wire::ProtoReader f(r.bytes());
        while (f.Next()) {
          if (f.field() == 1) slot.start = f.as_int64();
          if (f.field() != 2) continue;
          Cell c{0, 0, 0, 0, {}};
          wire::ProtoReader g(f.bytes());
          while (g.Next()) {
            if (g.field() == 1) c.series = static_cast<uint32_t>(g.varint());
            if (g.field() == 2) c.calls = g.varint();
            if (g.field() == 3) c.errors = g.varint();
            if (g.field() == 4) c.sum = g.as_double();
            if (g.field() == 5) c.latency = std::string(g.bytes());
          }
          Sketch check;
          if (!g.ok() || c.series >= fresh.series_.size() || !Sketch::Decode(c.latency, &check)) {
            return bad("a cell does not decode");
          }
          slot.bytes += CellBytes(c);
          slot.cells.push_back(std::move(c));
        }
        if (!f.ok()) return bad(f.error());
        if (!tier.slots.empty() && slot.start <= tier.slots.back().start) {
          return bad("slots out of order");
        }
        fresh.bytes_ += slot.bytes;
        tier.slots.push_back(std::move(slot));
        break;
      }
      case 4: {
        uint64_t key = 0;
        Last l;
        wire::ProtoReader f(r.bytes());
        while (f.Next()) {
          if (f.field() == 1) key = f.fixed64();
          if (f.field() == 2) l.start = f.as_int64();
          if (f.field() == 3) l.seen = f.as_int64();
          if (f.field() == 4) l.count = f.varint();
          if (f.field() == 5) l.sum = f.as_double();
          if (f.field() == 6 && !Sketch::Decode(f.bytes(), &l.latency)) {
            return bad("a last point does not decode");
          }
        }
        if (!f.ok()) return bad(f.error());
        fresh.last_[key] = std::move(l);
        break;
      }
      default:
        break;
    }
  }
  if (!r.ok()) return bad(r.error());
  for (Tier* t : {&fresh.fine_, &fresh.coarse_}) {
    if (t->slots.empty()) continue;
    const auto& cells = t->slots.back().cells;
    for (uint32_t i = 0; i < cells.size(); ++i) t->newest[cells[i].series] = i;
  }
  fresh.evictions_ = evictions_;
  *this = std::move(fresh);
  return Status::Ok();
}

// --- Reading the connectors' metrics ---

namespace {

struct Attributes {
  std::string service, name, kind, status, client, server, connection_type;
};

void ReadAttributes(std::string_view point, uint32_t field, Attributes* a) {
  wire::ProtoReader r(point);
  while (r.Next()) {
    if (r.field() != field) continue;
    std::string_view key, value;
    wire::ProtoReader kv(r.bytes());
    while (kv.Next()) {
      if (kv.field() == 1) key = kv.bytes();
      if (kv.field() == 2) value = kv.bytes();
    }
    std::string* into = key == "service.name"      ? &a->service
                        : key == "span.name"       ? &a->name
                        : key == "span.kind"       ? &a->kind
                        : key == "status.code"     ? &a->status
                        : key == "client"          ? &a->client
                        : key == "server"          ? &a->server
                        : key == "connection_type" ? &a->connection_type
                                                   : nullptr;
    if (into != nullptr) *into = wire::otlp::AnyValueText(value);
  }
}

// Spreads `count` durations over (lo, hi] evenly, as Prometheus'
// histogram_quantile assumes within a bucket: each sketch bucket the range
// covers takes its share of the width. Shares are floors of the running
// total, so the same bucket of a larger cumulative count never takes less.
void SpreadLinearly(double lo, double hi, uint64_t count, Sketch* into) {
  if (count == 0) return;
  const int32_t first = Sketch::IndexOf(lo), last = Sketch::IndexOf(hi);
  if (!(hi > lo) || first == last || first == Sketch::kZero) {
    into->Add(last, count);
    return;
  }
  uint64_t given = 0;
  for (int32_t i = first; i <= last; ++i) {
    const double upper = i == last ? hi : std::exp2((i + 1) / 8.0);
    const uint64_t total =
        i == last ? count
                  : static_cast<uint64_t>(static_cast<double>(count) * (upper - lo) / (hi - lo));
    if (total > given) into->Add(i, total - given);
    given = std::max(given, total);
  }
}

// A histogram point (explicit bounds) as a Point, durations scaled to
// seconds by `unit`. A bucket's counts are spread over its range (the first
// bucket's from a sixteenth of its bound, the overflow bucket's all at the
// last bound).
Rollups::Point HistogramPoint(std::string_view point, double unit) {
  Rollups::Point p;
  std::vector<uint64_t> counts;
  std::vector<double> bounds;
  wire::ProtoReader r(point);
  while (r.Next()) {
    switch (r.field()) {
      case of::kPointStartTime:
        p.start_unix_nano = r.as_int64();
        break;
      case of::kHistogramTime:
        p.time_unix_nano = r.as_int64();
        break;
      case of::kHistogramCount:
        p.count = r.fixed64();
        break;
      case of::kHistogramSum:
        p.sum_seconds = r.as_double() * unit;
        break;
      case of::kHistogramBucketCounts:
        if (r.Is(wire::WireType::kLengthDelimited)) {
          std::string_view b = r.bytes();
          for (size_t i = 0; i + 8 <= b.size(); i += 8) {
            uint64_t c;
            std::memcpy(&c, b.data() + i, 8);
            counts.push_back(c);
          }
        } else {
          counts.push_back(r.fixed64());
        }
        break;
      case of::kHistogramExplicitBounds:
        if (r.Is(wire::WireType::kLengthDelimited)) {
          std::string_view b = r.bytes();
          for (size_t i = 0; i + 8 <= b.size(); i += 8) {
            double d;
            std::memcpy(&d, b.data() + i, 8);
            bounds.push_back(d);
          }
        } else {
          bounds.push_back(r.as_double());
        }
        break;
      default:
        break;
    }
  }
  for (size_t j = 0; j < counts.size(); ++j) {
    if (bounds.empty()) {
      double mean = p.count > 0 ? p.sum_seconds / static_cast<double>(p.count) : 0;
      p.latency.Add(Sketch::IndexOf(mean), counts[j]);
    } else if (j >= bounds.size()) {
      p.latency.Add(Sketch::IndexOf(bounds.back() * unit), counts[j]);
    } else {
      const double hi = bounds[j] * unit;
      const double lo = j == 0 ? hi / 16 : bounds[j - 1] * unit;
      SpreadLinearly(lo, hi, counts[j], &p.latency);
    }
  }
  return p;
}

// An exponential histogram point as a Point: each bucket's counts go to the
// bucket of its middle at scale 3 (the same bucket, coarsened, when the
// point's scale is 3 or finer).
Rollups::Point ExponentialPoint(std::string_view point, double unit) {
  Rollups::Point p;
  int32_t scale = 0;
  int64_t offset = 0;
  uint64_t zero = 0;
  std::vector<uint64_t> counts;
  wire::ProtoReader r(point);
  while (r.Next()) {
    switch (r.field()) {
      case 2:
        p.start_unix_nano = r.as_int64();
        break;
      case 3:
        p.time_unix_nano = r.as_int64();
        break;
      case 4:
        p.count = r.fixed64();
        break;
      case 5:
        p.sum_seconds = r.as_double() * unit;
        break;
      case 6:
        scale = static_cast<int32_t>(wire::ZigZagDecode(r.varint()));
        break;
      case 7:
        zero = r.fixed64();
        break;
      case 8: {
        wire::ProtoReader b(r.bytes());
        while (b.Next()) {
          if (b.field() == 1) offset = wire::ZigZagDecode(b.varint());
          if (b.field() != 2) continue;
          if (b.Is(wire::WireType::kLengthDelimited)) {
            std::string_view packed = b.bytes();
            uint64_t c;
            while (!packed.empty() && ReadVarint(packed, &c)) counts.push_back(c);
          } else {
            counts.push_back(b.varint());
          }
        }
        break;
      }
      default:
        break;
    }
  }
  p.latency.Add(Sketch::kZero, zero);
  scale = std::clamp(scale, -10, 20);
  const double inverse = std::exp2(-scale);
  for (size_t k = 0; k < counts.size(); ++k) {
    double value =
        std::exp2((static_cast<double>(offset) + static_cast<double>(k) + 0.5) * inverse);
    p.latency.Add(Sketch::IndexOf(value * unit), counts[k]);
  }
  return p;
}

Rollups::Point NumberPoint(std::string_view point) {
  Rollups::Point p;
  wire::ProtoReader r(point);
  while (r.Next()) {
    if (r.field() == of::kPointStartTime) p.start_unix_nano = r.as_int64();
    if (r.field() == of::kPointTime) p.time_unix_nano = r.as_int64();
    if (r.field() == of::kNumberAsInt) p.count = r.fixed64();
    if (r.field() == of::kNumberAsDouble)
      p.count = static_cast<uint64_t>(std::max(0.0, r.as_double()));
  }
  return p;
}

uint64_t PointKey(std::string_view tenant, std::string_view metric, std::string_view service,
                  std::string_view point) {
  std::string key;
  key.reserve(tenant.size() + metric.size() + service.size() + 64);
  key += tenant;
  key += '\0';
  key += metric;
  key += '\0';
  key += service;
  key += '\0';
  // The point's attributes, as encoded: the same series encodes them the
  // same way at every flush.
  wire::ProtoReader r(point);
  while (r.Next()) {
    if (r.field() == of::kNumberAttributes || r.field() == of::kHistogramAttributes ||
        r.field() == of::kExpHistogramAttributes) {
      if (r.Is(wire::WireType::kLengthDelimited)) key += r.bytes();
    }
  }
  return std::hash<std::string>{}(key);
}

bool Served(std::string_view kind) {
  return kind == "SPAN_KIND_SERVER" || kind == "SPAN_KIND_CONSUMER";
}

}  // namespace

Status RollupReader::AddRequest(std::string_view request, std::string_view tenant, Rollups* into) {
  const std::string t(tenant);
  using Kind = Rollups::Kind;
  wire::ProtoReader rr(request);
  while (rr.Next()) {
    if (rr.field() != of::kRequestResourceMetrics) continue;
    std::string resource_service;
    wire::ProtoReader rm(rr.bytes());
    while (rm.Next()) {
      if (rm.field() == of::kResourceMetricsResource) {
        resource_service = wire::otlp::ServiceName(rm.bytes());
      }
      if (rm.field() != of::kResourceMetricsScopeMetrics) continue;
      wire::ProtoReader sm(rm.bytes());
      while (sm.Next()) {
        if (sm.field() != of::kScopeMetricsMetrics) continue;
        std::string_view name, unit, data;
        uint32_t type = 0;
        wire::ProtoReader m(sm.bytes());
        while (m.Next()) {
          if (m.field() == of::kMetricName) name = m.bytes();
          if (m.field() == of::kMetricUnit) unit = m.bytes();
          if (m.field() == of::kMetricSum || m.field() == of::kMetricHistogram ||
              m.field() == of::kMetricExponentialHistogram) {
            type = m.field();
            data = m.bytes();
          }
        }
        if (!m.ok()) return Status::InvalidArgument(m.error());
        const bool duration =
            name.ends_with(".duration") &&
            (type == of::kMetricHistogram || type == of::kMetricExponentialHistogram);
        const bool edge_requests =
            name == "traces_service_graph_request_total" && type == of::kMetricSum;
        const bool edge_failed =
            name == "traces_service_graph_request_failed_total" && type == of::kMetricSum;
        const bool edge_latency =
            name == "traces_service_graph_request_server_seconds" && type == of::kMetricHistogram;
        if (!duration && !edge_requests && !edge_failed && !edge_latency) continue;
        const double scale = unit == "ms" ? 1e-3 : unit == "us" ? 1e-6 : 1.0;
        wire::ProtoReader d(data);
        while (d.Next()) {
          if (d.field() != of::kDataPoints) continue;
          std::string_view point = d.bytes();
          Attributes a;
          if (duration) {
            ReadAttributes(point,
                           type == of::kMetricHistogram ? of::kHistogramAttributes
                                                        : of::kExpHistogramAttributes,
                           &a);
            if (a.service.empty()) a.service = resource_service;
            Rollups::Point p = type == of::kMetricHistogram ? HistogramPoint(point, scale)
                                                            : ExponentialPoint(point, scale);
            std::vector<Rollups::Series> series = {{Kind::kOperation, a.service, a.name, a.kind, t},
                                                   {Kind::kServiceAll, a.service, "", "", t}};
            if (Served(a.kind)) series.push_back({Kind::kService, a.service, "", "", t});
            into->AddCumulative(PointKey(tenant, name, resource_service, point), p,
                                a.status == "STATUS_CODE_ERROR" ? Rollups::Counts::kCallsAndErrors
                                                                : Rollups::Counts::kCalls,
                                series);
            continue;
          }
          ReadAttributes(point, edge_latency ? of::kHistogramAttributes : of::kNumberAttributes,
                         &a);
          if (a.client.empty() || a.server.empty()) continue;
          std::vector<Rollups::Series> series = {
              {Kind::kEdge, a.client, a.server, a.connection_type, t}};
          const uint64_t key = PointKey(tenant, name, resource_service, point);
          if (edge_latency) {
            into->AddCumulative(key, HistogramPoint(point, scale), Rollups::Counts::kLatencyOnly,
                                series);
          } else {
            into->AddCumulative(key, NumberPoint(point),
                                edge_requests ? Rollups::Counts::kCalls : Rollups::Counts::kErrors,
                                series);
          }
        }
        if (!d.ok()) return Status::InvalidArgument(d.error());
      }
      if (!sm.ok()) return Status::InvalidArgument(sm.error());
    }
    if (!rm.ok()) return Status::InvalidArgument(rm.error());
  }
  if (!rr.ok()) return Status::InvalidArgument(rr.error());
  return Status::Ok();
}

RollupReader::RollupReader(pipeline::Runtime& rt, std::vector<pipeline::PipelineRef> derived,
                           Rollups::Options options)
    : rt_(rt),
      derived_(std::move(derived)),
      path_(io::JoinPath(io::JoinPath(rt.log->directory(), "query"), "rollups.state")),
      metrics_(rt.metrics, kCursor),
      evictions_(rt.metrics
                     .AddCounter("sluice_query_rollup_evictions_total",
                                 "Rollup slots dropped, oldest first, to stay within "
                                 "query.rollups.max_memory.")
                     .Get()),
      bytes_(
          rt.metrics.AddGauge("sluice_query_rollup_bytes", "Memory the query layer's rollups hold.")
              .Get()),
      rollups_(options) {}

RollupReader::~RollupReader() {
  Stop(std::chrono::steady_clock::now());
}

Status RollupReader::Start() {
  if (derived_.empty()) return Status::Ok();
  Load();
  pipeline::ReadLoop::Options o;
  o.name = kCursor;
  for (const auto& p : derived_) o.pipeline_ids.push_back(p.id);
  o.start_at = log::StartAt::kOldest;
  o.lag_from_read = true;  // taken into the rollups; committed at each checkpoint
  pipeline::LogSink& sink = *this;
  loop_ = std::make_unique<pipeline::ReadLoop>(rt_, o, sink, metrics_);
  last_checkpoint_ = rt_.clock.NowUnixNanos();
  return loop_->Start();
}

void RollupReader::Stop(pipeline::Deadline deadline) {
  if (loop_) loop_->Stop(deadline);
  loop_.reset();
}

void RollupReader::Read(const std::function<void(const Rollups&)>& fn) const {
  MutexLock lock(mu_);
  fn(rollups_);
}

void RollupReader::Load() {
  if (!rt_.log->fs().Exists(path_)) return;
  Result<std::string> file = io::ReadSmallFile(rt_.log->fs(), path_);
  log::Position pos;
  int64_t start = 0;
  std::string_view state;
  Status st =
      file.ok() ? pipeline::DecodeCheckpoint(kMagic, *file, &pos, &start, &state) : file.status();
  MutexLock lock(mu_);
  if (st.ok()) st = rollups_.Deserialize(state);
  if (!st.ok()) {
    logging::Error("query", "rollups checkpoint unreadable; rollups start empty",
                   {{"path", path_}, {"error", st.ToString()}});
    return;
  }
  resume_ = pos;
  bytes_.Set(static_cast<int64_t>(rollups_.bytes()));
}

Status RollupReader::Take(const log::LogReader::Batch& batch, const log::Position& start) {
  if (resume_ && log::Before(start, *resume_)) return Status::Ok();
  if (batch.header.encoding != log::Encoding::kOtlpProto ||
      batch.header.signal != log::Signal::kMetrics) {
    return Status::Ok();
  }
  MutexLock lock(mu_);
  Status st = AddRequest(batch.payload, batch.tenant, &rollups_);
  if (!st.ok()) {
    logging::Error("query", "derived metrics batch does not decode; skipped",
                   {{"error", st.ToString()}});
  }
  evictions_.Inc(rollups_.evictions() - evictions_seen_);
  evictions_seen_ = rollups_.evictions();
  bytes_.Set(static_cast<int64_t>(rollups_.bytes()));
  return Status::Ok();
}

Result<log::Position> RollupReader::Committable(const log::Position& read) {
  const int64_t now = rt_.clock.NowUnixNanos();
  if (!loop_->Stopping() && now - last_checkpoint_ < kCheckpointEvery) return loop_->committed();
  last_checkpoint_ = now;
  std::string state;
  {
    MutexLock lock(mu_);
    rollups_.ExpireCumulative(now);
    state = rollups_.Serialize();
  }
  SLUICE_RETURN_IF_ERROR(rt_.log->fs().CreateDirs(io::DirName(path_)));
  SLUICE_RETURN_IF_ERROR(io::WriteFileAtomically(
      rt_.log->fs(), path_, pipeline::EncodeCheckpoint(kMagic, read, 0, state)));
  resume_ = read;
  return read;
}

}  // namespace sluice::query
