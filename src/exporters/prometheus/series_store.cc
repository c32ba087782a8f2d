#include "exporters/prometheus/series_store.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <utility>

#include "base/check.h"
#include "exporters/prometheusremotewrite/series.h"
#include "wire/prom/remote_write.h"
#include "wire/proto_reader.h"

namespace sluice::exporters::prometheus {
namespace {

using wire::ProtoReader;
using wire::WireType;
using wire::prom::MetricType;
namespace field = wire::prom::field;

bool IsStaleMarker(double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  return bits == prw::kStaleNaNBits;
}

// The labels of a canonical encoding, in order, one at a time.
class LabelCursor {
 public:
  explicit LabelCursor(std::string_view labels) : r_(labels) {}
  // The next label; false at the end.
  bool Next(std::string_view* name, std::string_view* value) {
    while (r_.Next()) {
      if (r_.field() != field::kSeriesLabels || !r_.Is(WireType::kLengthDelimited)) continue;
      *name = *value = {};
      ProtoReader l(r_.bytes());
      while (l.Next()) {
        if (!l.Is(WireType::kLengthDelimited)) continue;
        if (l.field() == field::kLabelName) *name = l.bytes();
        if (l.field() == field::kLabelValue) *value = l.bytes();
      }
      return true;
    }
    return false;
  }

 private:
  ProtoReader r_;
};

// Calls fn(name, value) for each label of a canonical encoding.
template <class F>
void ForEachLabel(std::string_view labels, F&& fn) {
  LabelCursor c(labels);
  std::string_view name, value;
  while (c.Next(&name, &value)) fn(name, value);
}

std::string_view NameOf(std::string_view labels) {
  std::string_view out;
  ForEachLabel(labels, [&](std::string_view n, std::string_view v) {
    if (n == "__name__") out = v;
  });
  return out;
}

double BoundOf(std::string_view v) {
  if (v == "+Inf") return INFINITY;
  if (v == "-Inf") return -INFINITY;
  double d = 0;
  const char* end = v.data() + v.size();
  auto res = std::from_chars(v.data(), end, d);
  return res.ec == std::errc() && res.ptr == end ? d : NAN;
}

// Label sets in the order they read best: label by label, `le` and
// `quantile` by their number, so a histogram's buckets come in bound order.
bool LabelsLess(std::string_view a, std::string_view b) {
  LabelCursor ca(a);
  LabelCursor cb(b);
  std::string_view an, av, bn, bv;
  for (;;) {
    bool more_a = ca.Next(&an, &av);
    bool more_b = cb.Next(&bn, &bv);
    if (!more_a || !more_b) return !more_a && more_b;
    if (an != bn) return an < bn;
    if (av == bv) continue;
    if (an == "le" || an == "quantile") {
      // Numbers first, by value; then the rest as text: a total order.
      double x = BoundOf(av);
      double y = BoundOf(bv);
      if (std::isnan(x) != std::isnan(y)) return !std::isnan(x);
      if (!std::isnan(x) && x != y) return x < y;
    }
    return av < bv;
  }
}

}  // namespace

void AppendValue(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
    return;
  }
  if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
    return;
  }
  char buf[32];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<size_t>(res.ptr - buf));
}

std::string_view TypeWord(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
    case MetricType::kSummary:
      return "summary";
    default:
      return "";
  }
}

SeriesStore::SeriesStore(StoreOptions options, Clock& clock, StoreCounters counters)
    : options_(std::move(options)), clock_(clock), counters_(counters) {}

SeriesStore::Family* SeriesStore::FamilyFor(std::string_view name, MetricType type) {
  auto it = families_.find(name);
  if (it == families_.end()) {
    it = families_.emplace(std::string(name), Family{}).first;
    it->second.name = it->first;
  }
  // A type once known stays until a sample says otherwise: remote write
  // carries its metadata in requests of its own, so most samples come untyped.
  if (type != MetricType::kUnknown) it->second.type = type;
  return &it->second;
}

void SeriesStore::Link(Series* s, Family* f) {
  s->family = f;
  s->prev = nullptr;
  s->next = f->head;
  if (f->head != nullptr) f->head->prev = s;
  f->head = s;
  ++f->count;
}

void SeriesStore::Unlink(Series* s) {
  Family* f = s->family;
  if (s->prev != nullptr) {
    s->prev->next = s->next;
  } else {
    f->head = s->next;
  }
  if (s->next != nullptr) s->next->prev = s->prev;
  s->prev = s->next = nullptr;
  s->family = nullptr;
  // Invariant: a family is in families_ only while it has series.
  if (--f->count == 0) {
    SLUICE_CHECK(f->head == nullptr);
    families_.erase(families_.find(f->name));
  }
}

SeriesStore::SeriesMap::iterator SeriesStore::Remove(SeriesMap::iterator it) {
  Unlink(&it->second);
  return series_.erase(it);
}

void SeriesStore::Apply(const SampleUpdate& u) {
  const bool stale = IsStaleMarker(u.value);
  const int64_t now = clock_.MonotonicNanos();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = series_.find(u.label_hash);
  if (it != series_.end() && it->second.labels != u.labels) {
    // Two label sets with one 64-bit hash: the later one is refused rather
    // than overwriting the other.
    counters_.refused_series.Inc();
    return;
  }
  if (stale) {
    if (it == series_.end()) return;
    if (u.timestamp_ms < it->second.timestamp_ms) {
      counters_.out_of_order.Inc();
      return;
    }
    Remove(it);
    counters_.stale_series.Inc();
    counters_.series.Set(static_cast<double>(series_.size()));
    return;
  }
  Series* s;
  if (it == series_.end()) {
    if (series_.size() >= options_.max_series) {
      counters_.refused_series.Inc();
      return;
    }
    s = &series_[u.label_hash];
    s->labels.assign(u.labels);
    Link(s, FamilyFor(u.family, u.type));
    counters_.series.Set(static_cast<double>(series_.size()));
  } else {
    s = &it->second;
    if (u.timestamp_ms < s->timestamp_ms) {
      counters_.out_of_order.Inc();
      return;
    }
    if (s->family->name != u.family) {
      Unlink(s);
      Link(s, FamilyFor(u.family, u.type));
    } else if (u.type != MetricType::kUnknown) {
      s->family->type = u.type;
    }
  }
  s->value = u.value;
  s->timestamp_ms = u.timestamp_ms;
  s->updated_ns = now;
}

size_t SeriesStore::Expire() {
  const int64_t now = clock_.MonotonicNanos();
  const int64_t ttl = options_.metric_expiration.count();
  size_t removed = 0;
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = series_.begin(); it != series_.end();) {
    if (now - it->second.updated_ns >= ttl) {
      it = Remove(it);
      ++removed;
    } else {
      ++it;
    }
  }
  if (removed > 0) {
    counters_.expired_series.Inc(removed);
    counters_.series.Set(static_cast<double>(series_.size()));
  }
  return removed;
}

size_t SeriesStore::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return series_.size();
}

void SeriesStore::AppendSeries(std::string& out, const Series& s, std::string_view name) const {
  out += options_.name_prefix;
  out += name;
  bool first = true;
  ForEachLabel(s.labels, [&](std::string_view n, std::string_view v) {
    if (n == "__name__" || v.empty()) return;
    out.push_back(first ? '{' : ',');
    first = false;
    out += n;
    out += "=\"";
    telemetry::AppendEscapedLabelValue(out, v);
    out.push_back('"');
  });
  if (!first) out.push_back('}');
  out.push_back(' ');
  AppendValue(out, s.value);
  if (options_.send_timestamps) {
    out.push_back(' ');
    out += std::to_string(s.timestamp_ms);
  }
  out.push_back('\n');
}

void SeriesStore::Render(const std::function<void(std::string_view)>& write) const {
  std::string text;
  std::string last;  // the family written last; the next is the first after it
  bool started = false;
  std::vector<std::pair<std::string_view, const Series*>> members;
  for (;;) {
    text.clear();
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = started ? families_.upper_bound(last) : families_.begin();
      if (it == families_.end()) break;
      started = true;
      last = it->first;
      const Family& f = it->second;
      std::string_view type = TypeWord(f.type);
      if (!type.empty()) {
        text += "# TYPE ";
        text += options_.name_prefix;
        text += f.name;
        text.push_back(' ');
        text += type;
        text.push_back('\n');
      }
      members.clear();
      for (const Series* s = f.head; s != nullptr; s = s->next) {
        members.emplace_back(NameOf(s->labels), s);
      }
      std::sort(members.begin(), members.end(), [](const auto& a, const auto& b) {
        if (a.first != b.first) return a.first < b.first;
        return LabelsLess(a.second->labels, b.second->labels);
      });
      for (const auto& [name, s] : members) AppendSeries(text, *s, name);
    }
    write(text);
  }
}

}  // namespace sluice::exporters::prometheus
