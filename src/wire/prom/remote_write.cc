#include "wire/prom/remote_write.h"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "wire/prom/labels.h"
#include "wire/prom/remote_write_v2.h"
#include "wire/proto_reader.h"

namespace sluice::wire::prom {

// [a-zA-Z_][a-zA-Z0-9_]*, by table: locale-aware isalnum costs a call per byte.
bool ValidLabelName(std::string_view n) {
  static constexpr auto kTable = [] {
    std::array<uint8_t, 256> t{};  // 1: may start a name, 2: may continue one
    for (int c = 'a'; c <= 'z'; ++c) t[c] = 3;
    for (int c = 'A'; c <= 'Z'; ++c) t[c] = 3;
    for (int c = '0'; c <= '9'; ++c) t[c] = 2;
    t['_'] = 3;
    return t;
  }();
  if (n.empty() || !(kTable[static_cast<uint8_t>(n[0])] & 1)) return false;
  for (size_t i = 1; i < n.size(); ++i) {
    if (!(kTable[static_cast<uint8_t>(n[i])] & 2)) return false;
  }
  return true;
}

std::string Quote(std::string_view s) {
  std::string out = "\"";
  out.append(s.substr(0, 100));
  out += s.size() > 100 ? "…\"" : "\"";
  return out;
}

// UTF-8 check with a fast path for the common all-ASCII value (label values
// are short, where the general validator's setup cost dominates).
bool ValidUtf8(std::string_view v) {
  uint64_t high = 0;
  size_t i = 0;
  for (; i + 8 <= v.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, v.data() + i, 8);
    high |= w;
  }
  for (; i < v.size(); ++i) high |= static_cast<uint8_t>(v[i]);
  if ((high & 0x8080808080808080ULL) == 0) return true;
  return simdjson::validate_utf8(v.data(), v.size());
}

std::string TimestampOutOfRange(std::string_view what, int64_t ms) {
  return std::string(what) + " timestamp " + std::to_string(ms) +
         " ms is outside the range sluice stores (1677-09-21 to 2262-04-11 UTC, " +
         std::to_string(kMinTimestampMs) + " to " + std::to_string(kMaxTimestampMs) + " ms)";
}

namespace {

Status Invalid(std::string why) {
  return Status::InvalidArgument(std::move(why));
}

struct SeriesResult {
  uint64_t items = 0;
  int64_t min_ts = 0;
  int64_t max_ts = 0;
  bool any_ts = false;
};

void NoteTimestamp(int64_t ts, SeriesResult* r) {
  if (!r->any_ts || ts < r->min_ts) r->min_ts = ts;
  if (!r->any_ts || ts > r->max_ts) r->max_ts = ts;
  r->any_ts = true;
}

// Samples and histograms in a series.
uint64_t CountItems(std::string_view series) {
  uint64_t n = 0;
  ProtoReader count(series);
  while (count.Next()) {
    n += count.field() == field::kSeriesSamples || count.field() == field::kSeriesHistograms;
  }
  return n;
}

// One pass, counting the items as it goes; a rejected series is counted
// whole, so it reports how many samples it held.
// `readable_end` is the end of the request the series is in.
Status InspectSeries(std::string_view series, const char* readable_end, uint64_t index,
                     SeriesResult* r) {
  // "series N: ...", built only when there is an error to report.
  auto bad = [index, series, r](const std::string& what) {
    r->items = CountItems(series);
    return Invalid("series " + std::to_string(index) + ": " + what);
  };
  ProtoReader s(series);
  std::string_view previous;
  bool have_previous = false;
  bool have_name = false;
  while (s.Next()) {
    switch (s.field()) {
      case field::kSeriesLabels: {
        if (!s.Is(WireType::kLengthDelimited)) return bad("label has the wrong wire type");
        std::string_view name;
        std::string_view value;
        if (!SplitCanonicalLabel(s.bytes(), &name, &value)) {
          ProtoReader l(s.bytes());
          while (l.Next()) {
            if (!l.Is(WireType::kLengthDelimited)) return bad("label has the wrong wire type");
            if (l.field() == field::kLabelName) name = l.bytes();
            if (l.field() == field::kLabelValue) value = l.bytes();
          }
          if (!l.ok()) return bad(std::string("malformed label: ") + l.error());
        }
        if (!ValidLabelNameIn(name, readable_end)) {
          return bad(std::string("invalid label name ") + Quote(name));
        }
        if (!ValidUtf8In(value, readable_end)) {
          return bad(std::string("label ") + std::string(name) + " has a value that is not UTF-8");
        }
        if (have_previous && !NameLess(previous, name)) {
          return bad(std::string("labels must be sorted by name without repeats (") +
                     Quote(previous) + " then " + Quote(name) + ")");
        }
        if (name == "__name__") {
          have_name = !value.empty();
        }
        previous = name;
        have_previous = true;
        break;
      }
      case field::kSeriesSamples: {
        ++r->items;
        if (!s.Is(WireType::kLengthDelimited)) return bad("sample has the wrong wire type");
        ProtoReader p(s.bytes());
        int64_t ts = 0;  // proto3 leaves a timestamp of 0, the epoch, out
        while (p.Next()) {
          if (p.field() == field::kSampleValue && !p.Is(WireType::kFixed64)) {
            return bad("sample value has the wrong wire type");
          }
          if (p.field() == field::kSampleTimestamp) {
            if (!p.Is(WireType::kVarint)) return bad("timestamp has the wrong wire type");
            ts = p.as_int64();
          }
        }
        if (!p.ok()) return bad(std::string("malformed sample: ") + p.error());
        if (!TimestampInRange(ts)) return bad(TimestampOutOfRange("sample", ts));
        NoteTimestamp(ts, r);
        break;
      }
      case field::kSeriesHistograms: {
        ++r->items;
        if (!s.Is(WireType::kLengthDelimited)) return bad("histogram has the wrong wire type");
        ProtoReader h(s.bytes());
        int64_t ts = 0;  // left out when 0, as for samples
        while (h.Next()) {
          if (h.field() == field::kHistogramTimestamp && h.Is(WireType::kVarint)) {
            ts = h.as_int64();
          }
        }
        if (!h.ok()) return bad(std::string("malformed histogram: ") + h.error());
        if (!TimestampInRange(ts)) return bad(TimestampOutOfRange("histogram", ts));
        NoteTimestamp(ts, r);
        break;
      }
      default:
        break;
    }
  }
  if (!s.ok()) return bad(s.error());
  if (!have_name) return bad("no __name__ label");
  return Status::Ok();
}

}  // namespace

Status InspectWriteRequest(std::string_view request, WriteInspection* out) {
  *out = WriteInspection{};
  ProtoReader r(request);
  while (r.Next()) {
    // 1.0 never uses these numbers; a sender mislabelling a 2.0 body would
    // otherwise get a 204 for an empty request.
    if (r.field() == field_v2::kRequestSymbols || r.field() == field_v2::kRequestTimeseries) {
      return Invalid(
          "the body has remote write 2.0 fields; send an io.prometheus.write.v2.Request with "
          "Content-Type application/x-protobuf;proto=io.prometheus.write.v2.Request");
    }
    if (r.field() != field::kWriteTimeseries) continue;
    if (!r.Is(WireType::kLengthDelimited)) return Invalid("timeseries has the wrong wire type");
    SeriesResult res;
    Status st = InspectSeries(r.bytes(), request.data() + request.size(), out->series, &res);
    ++out->series;
    out->items += res.items;
    out->series_ok.push_back(st.ok());
    if (!st.ok()) {
      ++out->rejected_series;
      out->rejected_items += res.items;
      if (out->first_error.empty()) out->first_error = st.message();
      continue;
    }
    if (res.any_ts) {
      if (!out->any_timestamp || res.min_ts < out->min_timestamp_ms) {
        out->min_timestamp_ms = res.min_ts;
      }
      if (!out->any_timestamp || res.max_ts > out->max_timestamp_ms) {
        out->max_timestamp_ms = res.max_ts;
      }
      out->any_timestamp = true;
    }
  }
  if (!r.ok()) return Invalid(std::string("malformed WriteRequest: ") + r.error());
  return Status::Ok();
}

std::string FilterWriteRequest(std::string_view request, const std::vector<bool>& series_ok) {
  std::string out;
  ProtoReader r(request);
  size_t series = 0;
  while (r.Next()) {
    if (r.field() == field::kWriteTimeseries) {
      bool keep = series < series_ok.size() && series_ok[series];
      ++series;
      if (!keep) continue;
    }
    out.append(r.raw_field());
  }
  return out;
}

}  // namespace sluice::wire::prom
