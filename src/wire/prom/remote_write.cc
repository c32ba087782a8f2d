#include "wire/prom/remote_write.h"

#include <simdjson.h>

#include <algorithm>

#include "wire/proto_reader.h"

namespace sluice::wire::prom {
namespace {

Status Invalid(std::string why) {
  return Status::InvalidArgument(std::move(why));
}

bool ValidLabelName(std::string_view n) {
  if (n.empty()) return false;
  auto first = static_cast<unsigned char>(n[0]);
  if (!(std::isalpha(first) || first == '_')) return false;
  return std::all_of(n.begin() + 1, n.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

std::string Quote(std::string_view s) {
  std::string out = "\"";
  out.append(s.substr(0, 100));
  out += s.size() > 100 ? "…\"" : "\"";
  return out;
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

Status InspectSeries(std::string_view series, uint64_t index, SeriesResult* r) {
  std::string ref = "series " + std::to_string(index);
  // Count first, so a rejected series reports how many samples it held.
  ProtoReader count(series);
  while (count.Next()) {
    if (count.field() == field::kSeriesSamples || count.field() == field::kSeriesHistograms) {
      ++r->items;
    }
  }
  ProtoReader s(series);
  std::string_view previous;
  bool have_previous = false;
  bool have_name = false;
  std::string metric;
  while (s.Next()) {
    switch (s.field()) {
      case field::kSeriesLabels: {
        if (!s.Is(WireType::kLengthDelimited))
          return Invalid(ref + ": label has the wrong wire type");
        std::string_view name;
        std::string_view value;
        ProtoReader l(s.bytes());
        while (l.Next()) {
          if (!l.Is(WireType::kLengthDelimited))
            return Invalid(ref + ": label has the wrong wire type");
          if (l.field() == field::kLabelName) name = l.bytes();
          if (l.field() == field::kLabelValue) value = l.bytes();
        }
        if (!l.ok()) return Invalid(ref + ": malformed label: " + l.error());
        if (!ValidLabelName(name)) return Invalid(ref + ": invalid label name " + Quote(name));
        if (!simdjson::validate_utf8(value.data(), value.size())) {
          return Invalid(ref + ": label " + std::string(name) + " has a value that is not UTF-8");
        }
        if (have_previous && name <= previous) {
          return Invalid(ref + ": labels must be sorted by name without repeats (" +
                         Quote(previous) + " then " + Quote(name) + ")");
        }
        if (name == "__name__") {
          have_name = !value.empty();
          metric = std::string(value.substr(0, 100));
        }
        previous = name;
        have_previous = true;
        break;
      }
      case field::kSeriesSamples: {
        if (!s.Is(WireType::kLengthDelimited))
          return Invalid(ref + ": sample has the wrong wire type");
        ProtoReader p(s.bytes());
        while (p.Next()) {
          if (p.field() == field::kSampleValue && !p.Is(WireType::kFixed64)) {
            return Invalid(ref + ": sample value has the wrong wire type");
          }
          if (p.field() == field::kSampleTimestamp) {
            if (!p.Is(WireType::kVarint))
              return Invalid(ref + ": timestamp has the wrong wire type");
            NoteTimestamp(p.as_int64(), r);
          }
        }
        if (!p.ok()) return Invalid(ref + ": malformed sample: " + p.error());
        break;
      }
      case field::kSeriesHistograms: {
        if (!s.Is(WireType::kLengthDelimited))
          return Invalid(ref + ": histogram has the wrong wire type");
        ProtoReader h(s.bytes());
        while (h.Next()) {
          if (h.field() == field::kHistogramTimestamp && h.Is(WireType::kVarint)) {
            NoteTimestamp(h.as_int64(), r);
          }
        }
        if (!h.ok()) return Invalid(ref + ": malformed histogram: " + h.error());
        break;
      }
      default:
        break;
    }
  }
  if (!s.ok()) return Invalid(ref + ": " + s.error());
  if (!have_name) return Invalid(ref + ": no __name__ label");
  return Status::Ok();
}

}  // namespace

Status InspectWriteRequest(std::string_view request, WriteInspection* out) {
  *out = WriteInspection{};
  ProtoReader r(request);
  while (r.Next()) {
    if (r.field() != field::kWriteTimeseries) continue;
    if (!r.Is(WireType::kLengthDelimited)) return Invalid("timeseries has the wrong wire type");
    SeriesResult res;
    Status st = InspectSeries(r.bytes(), out->series, &res);
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
      if (out->min_timestamp_ms == 0 || res.min_ts < out->min_timestamp_ms) {
        out->min_timestamp_ms = res.min_ts;
      }
      out->max_timestamp_ms = std::max(out->max_timestamp_ms, res.max_ts);
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
