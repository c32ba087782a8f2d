#include "wire/prom/remote_write_v2.h"

#include <limits>
#include <unordered_set>
#include <vector>

#include "wire/prom/labels.h"
#include "wire/prom/remote_write.h"
#include "wire/proto_reader.h"
#include "wire/proto_writer.h"

namespace sluice::wire::prom {

// Samples and the exponential-histogram fields are copied byte for byte from
// 2.0 into 1.0, which is only right while both messages number them alike.
static_assert(field_v2::kSampleValue == field::kSampleValue &&
              field_v2::kSampleTimestamp == field::kSampleTimestamp);
static_assert(field_v2::kHistogramTimestamp == field::kHistogramTimestamp);
static_assert(field_v2::kExemplarValue == field::kExemplarValue &&
              field_v2::kExemplarTimestamp == field::kExemplarTimestamp);

namespace {

enum class Outcome { kKept, kInvalid, kUnsupported };

struct SeriesCounts {
  uint64_t samples = 0;
  uint64_t histograms = 0;
  uint64_t exemplars = 0;
  int64_t min_ts = 0;
  int64_t max_ts = 0;
  bool any_ts = false;

  void Note(int64_t ts) {
    if (!any_ts || ts < min_ts) min_ts = ts;
    if (!any_ts || ts > max_ts) max_ts = ts;
    any_ts = true;
  }
};

// Appends the refs of one labels_refs field, which a sender may write packed
// (one length-delimited run of varints, the proto3 default) or as separate
// varints. Returns an error, or nullptr.
const char* ReadRefs(const ProtoReader& r, std::vector<uint32_t>* refs) {
  constexpr uint64_t kMax = std::numeric_limits<uint32_t>::max();
  if (r.Is(WireType::kVarint)) {
    if (r.varint() > kMax) return "symbol reference exceeds uint32";
    refs->push_back(static_cast<uint32_t>(r.varint()));
    return nullptr;
  }
  if (!r.Is(WireType::kLengthDelimited)) return "labels_refs has the wrong wire type";
  std::string_view packed = r.bytes();
  const auto* p = reinterpret_cast<const uint8_t*>(packed.data());
  const auto* end = p + packed.size();
  while (p < end) {
    uint64_t v = 0;
    int shift = 0;
    while (true) {
      if (p >= end) return "truncated labels_refs";
      if (shift >= 64) return "labels_refs varint longer than 10 bytes";
      uint8_t b = *p++;
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      shift += 7;
      if ((b & 0x80) == 0) break;
    }
    if (v > kMax) return "symbol reference exceeds uint32";
    refs->push_back(static_cast<uint32_t>(v));
  }
  return nullptr;
}

int32_t ZigZag32(uint64_t v) {
  auto u = static_cast<uint32_t>(v);
  return static_cast<int32_t>((u >> 1) ^ (~(u & 1) + 1));
}

class Converter {
 public:
  Status Run(std::string_view request, V2Conversion* out);

 private:
  Outcome ConvertSeries(std::string_view series, uint64_t index, SeriesCounts* counts,
                        std::string* error);
  // Checks the name/value pairs in `refs`; as labels of the series when
  // `series_labels`, else of an exemplar.
  bool CheckLabels(const std::vector<uint32_t>& refs, bool series_labels, std::string* error);
  std::string_view Symbol(uint32_t ref) const { return symbols_[ref]; }
  void AppendLabels(const std::vector<uint32_t>& refs, std::string* out);

  std::vector<std::string_view> symbols_;
  std::vector<uint32_t> refs_;
  std::vector<uint32_t> exemplar_refs_;
  std::string series_;    // the 1.0 TimeSeries being built
  std::string exemplar_;  // the 1.0 Exemplar being built
  std::string label_;
  std::string metadata_;  // 1.0 WriteRequest.metadata fields, appended last
  std::unordered_set<std::string_view> metadata_names_;
};

bool Converter::CheckLabels(const std::vector<uint32_t>& refs, bool series_labels,
                            std::string* error) {
  if (refs.size() % 2 != 0) {
    *error = "labels_refs has an odd number of entries (" + std::to_string(refs.size()) + ")";
    return false;
  }
  for (uint32_t ref : refs) {
    if (ref >= symbols_.size()) {
      *error = "symbol reference " + std::to_string(ref) + " is out of range (" +
               std::to_string(symbols_.size()) + " symbols)";
      return false;
    }
  }
  std::string_view previous;
  bool have_name = false;
  for (size_t i = 0; i < refs.size(); i += 2) {
    std::string_view name = Symbol(refs[i]);
    std::string_view value = Symbol(refs[i + 1]);
    if (!ValidLabelName(name)) {
      *error = "invalid label name " + Quote(name);
      return false;
    }
    if (!ValidUtf8(value)) {
      *error = "label " + std::string(name) + " has a value that is not UTF-8";
      return false;
    }
    if (i > 0 && name <= previous) {
      *error = "labels must be sorted by name without repeats (" + Quote(previous) + " then " +
               Quote(name) + ")";
      return false;
    }
    if (name == "__name__") have_name = !value.empty();
    previous = name;
  }
  if (series_labels && !have_name) {
    *error = "no __name__ label";
    return false;
  }
  return true;
}

void Converter::AppendLabels(const std::vector<uint32_t>& refs, std::string* out) {
  ProtoWriter w(out);
  for (size_t i = 0; i + 1 < refs.size(); i += 2) {
    label_.clear();
    ProtoWriter l(&label_);
    l.Bytes(field::kLabelName, Symbol(refs[i]));
    // proto3 leaves an empty string out; so does the protobuf library.
    if (!Symbol(refs[i + 1]).empty()) l.Bytes(field::kLabelValue, Symbol(refs[i + 1]));
    w.Bytes(field::kSeriesLabels, label_);
  }
}

Outcome Converter::ConvertSeries(std::string_view series, uint64_t index, SeriesCounts* counts,
                                 std::string* error) {
  // Count first, so a rejected series reports how much it held.
  ProtoReader count(series);
  while (count.Next()) {
    if (count.field() == field_v2::kSeriesSamples) ++counts->samples;
    if (count.field() == field_v2::kSeriesHistograms) ++counts->histograms;
    if (count.field() == field_v2::kSeriesExemplars) ++counts->exemplars;
  }
  const std::string prefix = "series " + std::to_string(index) + ": ";
  auto invalid = [&](std::string why) {
    *error = prefix + why;
    return Outcome::kInvalid;
  };

  refs_.clear();
  std::string_view metadata;
  bool unsupported = false;
  int32_t unsupported_schema = 0;
  ProtoReader s(series);
  while (s.Next()) {
    switch (s.field()) {
      case field_v2::kSeriesLabelsRefs:
        if (const char* e = ReadRefs(s, &refs_)) return invalid(e);
        break;
      case field_v2::kSeriesSamples: {
        if (!s.Is(WireType::kLengthDelimited)) return invalid("sample has the wrong wire type");
        ProtoReader p(s.bytes());
        int64_t ts = 0;  // proto3 leaves a timestamp of 0, the epoch, out
        while (p.Next()) {
          if (p.field() == field_v2::kSampleValue && !p.Is(WireType::kFixed64)) {
            return invalid("sample value has the wrong wire type");
          }
          if (p.field() == field_v2::kSampleTimestamp) {
            if (!p.Is(WireType::kVarint))
              return invalid("sample timestamp has the wrong wire type");
            ts = p.as_int64();
          }
        }
        if (!p.ok()) return invalid(std::string("malformed sample: ") + p.error());
        if (!TimestampInRange(ts)) return invalid(TimestampOutOfRange("sample", ts));
        counts->Note(ts);
        break;
      }
      case field_v2::kSeriesHistograms: {
        if (!s.Is(WireType::kLengthDelimited)) return invalid("histogram has the wrong wire type");
        ProtoReader h(s.bytes());
        int32_t schema = 0;
        bool custom_values = false;
        int64_t ts = 0;  // left out when 0, as for samples
        while (h.Next()) {
          if (h.field() == field_v2::kHistogramSchema) {
            if (!h.Is(WireType::kVarint))
              return invalid("histogram schema has the wrong wire type");
            schema = ZigZag32(h.varint());
          } else if (h.field() == field_v2::kHistogramTimestamp) {
            if (!h.Is(WireType::kVarint)) {
              return invalid("histogram timestamp has the wrong wire type");
            }
            ts = h.as_int64();
          } else if (h.field() == field_v2::kHistogramCustomValues) {
            custom_values = true;
          }
        }
        if (!h.ok()) return invalid(std::string("malformed histogram: ") + h.error());
        if (!TimestampInRange(ts)) return invalid(TimestampOutOfRange("histogram", ts));
        counts->Note(ts);
        if (schema < kMinExponentialSchema || schema > kMaxExponentialSchema || custom_values) {
          if (!unsupported) unsupported_schema = schema;
          unsupported = true;
        }
        break;
      }
      case field_v2::kSeriesExemplars: {
        if (!s.Is(WireType::kLengthDelimited)) return invalid("exemplar has the wrong wire type");
        ProtoReader x(s.bytes());
        exemplar_refs_.clear();
        while (x.Next()) {
          if (x.field() == field_v2::kExemplarLabelsRefs) {
            if (const char* e = ReadRefs(x, &exemplar_refs_)) {
              return invalid(std::string("exemplar: ") + e);
            }
          } else if (x.field() == field_v2::kExemplarValue && !x.Is(WireType::kFixed64)) {
            return invalid("exemplar value has the wrong wire type");
          } else if (x.field() == field_v2::kExemplarTimestamp && !x.Is(WireType::kVarint)) {
            return invalid("exemplar timestamp has the wrong wire type");
          }
        }
        if (!x.ok()) return invalid(std::string("malformed exemplar: ") + x.error());
        std::string why;
        if (!CheckLabels(exemplar_refs_, /*series_labels=*/false, &why)) {
          return invalid("exemplar: " + why);
        }
        break;
      }
      case field_v2::kSeriesMetadata: {
        if (!s.Is(WireType::kLengthDelimited)) return invalid("metadata has the wrong wire type");
        metadata = s.bytes();
        ProtoReader m(metadata);
        while (m.Next()) {
          if (m.field() != field_v2::kMetadataType && m.field() != field_v2::kMetadataHelpRef &&
              m.field() != field_v2::kMetadataUnitRef) {
            continue;
          }
          if (!m.Is(WireType::kVarint)) return invalid("metadata field has the wrong wire type");
          if (m.field() != field_v2::kMetadataType && m.varint() >= symbols_.size()) {
            return invalid("metadata symbol reference " + std::to_string(m.varint()) +
                           " is out of range");
          }
        }
        if (!m.ok()) return invalid(std::string("malformed metadata: ") + m.error());
        break;
      }
      case field_v2::kSeriesCreatedTimestamp:
        if (!s.Is(WireType::kVarint)) return invalid("created_timestamp has the wrong wire type");
        break;
      default:
        break;
    }
  }
  if (!s.ok()) return invalid(s.error());
  std::string why;
  if (!CheckLabels(refs_, /*series_labels=*/true, &why)) return invalid(why);
  if (counts->samples > 0 && counts->histograms > 0) {
    return invalid("has both samples and histograms; the specification requires separate series");
  }
  if (unsupported) {
    *error = prefix + "native histogram with schema " + std::to_string(unsupported_schema) +
             " (custom buckets) has no remote write 1.0 form";
    return Outcome::kUnsupported;
  }

  // Write the 1.0 TimeSeries in field order: labels, samples, exemplars, histograms.
  series_.clear();
  AppendLabels(refs_, &series_);
  ProtoWriter w(&series_);
  for (uint32_t wanted :
       {field_v2::kSeriesSamples, field_v2::kSeriesExemplars, field_v2::kSeriesHistograms}) {
    ProtoReader again(series);
    while (again.Next()) {
      if (again.field() != wanted) continue;
      if (wanted == field_v2::kSeriesSamples) {
        w.Bytes(field::kSeriesSamples, again.bytes());
      } else if (wanted == field_v2::kSeriesHistograms) {
        w.Bytes(field::kSeriesHistograms, again.bytes());
      } else {
        exemplar_.clear();
        exemplar_refs_.clear();
        ProtoReader x(again.bytes());
        while (x.Next()) {
          if (x.field() == field_v2::kExemplarLabelsRefs) (void)ReadRefs(x, &exemplar_refs_);
        }
        AppendLabels(exemplar_refs_, &exemplar_);
        ProtoReader y(again.bytes());
        while (y.Next()) {
          if (y.field() == field_v2::kExemplarValue || y.field() == field_v2::kExemplarTimestamp) {
            exemplar_.append(y.raw_field());
          }
        }
        w.Bytes(field::kSeriesExemplars, exemplar_);
      }
    }
  }

  if (!metadata.empty()) {
    std::string_view name;
    for (size_t i = 0; i + 1 < refs_.size(); i += 2) {
      if (Symbol(refs_[i]) == "__name__") name = Symbol(refs_[i + 1]);
    }
    uint64_t type = 0;
    std::string_view help;
    std::string_view unit;
    ProtoReader m(metadata);
    while (m.Next()) {
      if (m.field() == field_v2::kMetadataType) type = m.varint();
      if (m.field() == field_v2::kMetadataHelpRef) help = Symbol(static_cast<uint32_t>(m.varint()));
      if (m.field() == field_v2::kMetadataUnitRef) unit = Symbol(static_cast<uint32_t>(m.varint()));
    }
    if ((type != 0 || !help.empty() || !unit.empty()) && metadata_names_.insert(name).second) {
      std::string entry;
      ProtoWriter e(&entry);
      if (type != 0) e.Varint(field::kMetadataType, type);
      e.Bytes(field::kMetadataFamilyName, name);
      if (!help.empty()) e.Bytes(field::kMetadataHelp, help);
      if (!unit.empty()) e.Bytes(field::kMetadataUnit, unit);
      ProtoWriter(&metadata_).Bytes(field::kWriteMetadata, entry);
    }
  }
  return Outcome::kKept;
}

Status Converter::Run(std::string_view request, V2Conversion* out) {
  *out = V2Conversion{};
  // Symbols may follow the series on the wire, so they are gathered first.
  ProtoReader r(request);
  while (r.Next()) {
    if (r.field() >= field_v2::kRequestFirstReserved &&
        r.field() <= field_v2::kRequestLastReserved) {
      return Status::InvalidArgument(
          "the body has remote write 1.0 fields; send a prometheus.WriteRequest with "
          "Content-Type application/x-protobuf");
    }
    if (r.field() != field_v2::kRequestSymbols) continue;
    if (!r.Is(WireType::kLengthDelimited)) {
      return Status::InvalidArgument("symbols has the wrong wire type");
    }
    symbols_.push_back(r.bytes());
  }
  if (!r.ok()) return Status::InvalidArgument(std::string("malformed Request: ") + r.error());
  if (!symbols_.empty() && !symbols_[0].empty()) {
    return Status::InvalidArgument("symbols[0] must be the empty string, not " +
                                   Quote(symbols_[0]));
  }

  ProtoWriter w(&out->write_request);
  ProtoReader t(request);
  while (t.Next()) {
    if (t.field() != field_v2::kRequestTimeseries) continue;
    if (!t.Is(WireType::kLengthDelimited)) {
      return Status::InvalidArgument("timeseries has the wrong wire type");
    }
    SeriesCounts counts;
    std::string error;
    Outcome outcome = ConvertSeries(t.bytes(), out->series, &counts, &error);
    ++out->series;
    const uint64_t items = counts.samples + counts.histograms;
    if (outcome != Outcome::kKept) {
      if (outcome == Outcome::kInvalid) {
        ++out->invalid_series;
        out->invalid_items += items;
      } else {
        ++out->unsupported_series;
        out->unsupported_items += items;
      }
      if (out->first_error.empty()) out->first_error = std::move(error);
      continue;
    }
    w.Bytes(field::kWriteTimeseries, series_);
    out->samples += counts.samples;
    out->histograms += counts.histograms;
    out->exemplars += counts.exemplars;
    if (counts.any_ts) {
      if (!out->any_timestamp || counts.min_ts < out->min_timestamp_ms) {
        out->min_timestamp_ms = counts.min_ts;
      }
      if (!out->any_timestamp || counts.max_ts > out->max_timestamp_ms) {
        out->max_timestamp_ms = counts.max_ts;
      }
      out->any_timestamp = true;
    }
  }
  if (!t.ok()) return Status::InvalidArgument(std::string("malformed Request: ") + t.error());
  out->write_request.append(metadata_);
  return Status::Ok();
}

}  // namespace

Status ConvertRequestV2(std::string_view request, V2Conversion* out) {
  Converter c;
  return c.Run(request, out);
}

}  // namespace sluice::wire::prom
