#include "exporters/prometheusremotewrite/pass_through.h"

#include "wire/prom/labels.h"
#include "wire/proto_reader.h"
#include "wire/proto_writer.h"

namespace sluice::exporters::prw {
namespace {

using wire::ProtoReader;
using wire::ProtoWriter;
using wire::WireType;
namespace prom = wire::prom::field;

}  // namespace

// The series as most senders write it, read by hand: labels first, each a
// non-empty name then a non-empty value of under 128 bytes, in name order,
// then samples or histograms. Then the labels are already in canonical form
// and hashed where they lie. False, having reported nothing, for any other
// series, which SplitSeries then reads in full.
bool WriteRequestSplitter::SplitCanonicalSeries(std::string_view bytes) {
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  const auto* end = p + bytes.size();
  std::string_view previous;
  while (end - p >= 2 && p[0] == 0x0a && p[1] < 0x80) {  // labels (1), one-byte length
    size_t length = p[1];
    if (length > static_cast<size_t>(end - p - 2)) return false;
    std::string_view name;
    std::string_view value;
    if (!wire::prom::SplitCanonicalLabel(
            std::string_view(reinterpret_cast<const char*>(p) + 2, length), &name, &value) ||
        value.empty() ||
        (p != reinterpret_cast<const uint8_t*>(bytes.data()) &&
         !wire::prom::NameLess(previous, name))) {
      return false;
    }
    previous = name;
    p += 2 + length;
  }
  const size_t labels_end = static_cast<size_t>(p - reinterpret_cast<const uint8_t*>(bytes.data()));
  uint64_t items = 0;
  ProtoReader rest(bytes.substr(labels_end));
  while (rest.Next()) {
    if (rest.field() == prom::kSeriesLabels) return false;
    if (rest.field() == prom::kSeriesSamples || rest.field() == prom::kSeriesHistograms) ++items;
  }
  if (!rest.ok()) return false;
  ++stats_->series;
  stats_->samples += items;
  sink_->Series(HashLabels(bytes.substr(0, labels_end)), bytes, items);
  return true;
}

Status WriteRequestSplitter::SplitSeries(std::string_view bytes, uint64_t index) {
  if (external_.empty() && SplitCanonicalSeries(bytes)) return Status::Ok();
  // The hash covers the canonical form of the labels. Series written by
  // Prometheus-compatible senders usually start with their labels in that
  // form already, so the hash is taken over the input and nothing is copied.
  const bool merge = !external_.empty();
  size_t direct_end = 0;  // end of the canonical label prefix of `bytes`
  bool direct = !merge;
  bool labels_done = false;  // a non-label field was seen
  std::string_view previous;
  bool have_previous = false;
  size_t next_external = 0;
  uint64_t items = 0;
  canonical_.clear();
  ProtoReader s(bytes);
  while (s.Next()) {
    if (s.field() == prom::kSeriesSamples || s.field() == prom::kSeriesHistograms) ++items;
    if (s.field() != prom::kSeriesLabels) {
      labels_done = true;
      continue;
    }
    if (!Expect(s, WireType::kLengthDelimited)) break;
    std::string_view name;
    std::string_view value;
    uint32_t inner_fields = 2;
    bool in_order = true;
    if (!wire::prom::SplitCanonicalLabel(s.bytes(), &name, &value)) {
      inner_fields = 0;
      ProtoReader l(s.bytes());
      while (l.Next()) {
        if (l.field() != prom::kLabelName && l.field() != prom::kLabelValue) {
          ++inner_fields;
          in_order = false;
          continue;
        }
        if (!Expect(l, WireType::kLengthDelimited)) break;
        if (l.field() == prom::kLabelName) {
          in_order = in_order && inner_fields == 0;
          name = l.bytes();
        } else {
          value = l.bytes();
        }
        ++inner_fields;
      }
      if (!l.ok()) {
        return Invalid("series " + std::to_string(index) + ": malformed label: " + l.error());
      }
    }
    if (have_previous && !wire::prom::NameLess(previous, name)) {
      return Invalid("series " + std::to_string(index) +
                     ": labels must be sorted by name without repeats");
    }
    previous = name;
    have_previous = true;
    if (direct) {
      // Canonical: a non-empty name then a non-empty value, minimal lengths,
      // contiguous from the start of the series.
      size_t canonical_inner = ProtoWriter::LengthDelimitedSize(prom::kLabelName, name.size()) +
                               ProtoWriter::LengthDelimitedSize(prom::kLabelValue, value.size());
      std::string_view raw = s.raw_field();
      size_t offset = static_cast<size_t>(raw.data() - bytes.data());
      direct = !labels_done && offset == direct_end && in_order && inner_fields == 2 &&
               !value.empty() &&
               raw.size() == ProtoWriter::LengthDelimitedSize(prom::kSeriesLabels, canonical_inner);
      direct_end = offset + raw.size();
      // Canonical so far: keep `canonical` unbuilt; it is rebuilt below if
      // a later label breaks the form.
      if (direct) continue;
      canonical_.clear();
      ProtoReader again(bytes);
      while (again.Next() && again.raw_field().data() < raw.data()) {
        if (again.field() != prom::kSeriesLabels) continue;
        std::string_view n;
        std::string_view v;
        ProtoReader al(again.bytes());
        while (al.Next()) (al.field() == prom::kLabelName ? n : v) = al.bytes();
        if (!v.empty()) AppendLabel(canonical_, n, v);
      }
    }
    if (value.empty()) continue;  // an empty value is no label (an external one may fill in)
    while (next_external < external_.size() && external_[next_external].name < name) {
      AppendLabel(canonical_, external_[next_external].name, external_[next_external].value);
      ++next_external;
    }
    if (next_external < external_.size() && external_[next_external].name == name) {
      ++next_external;  // the series' own label wins
    }
    AppendLabel(canonical_, name, value);
  }
  if (!s.ok()) return Invalid("series " + std::to_string(index) + ": " + s.error());
  ++stats_->series;
  stats_->samples += items;
  if (!merge) {
    uint64_t hash = direct ? HashLabels(bytes.substr(0, direct_end)) : HashLabels(canonical_);
    sink_->Series(hash, bytes, items);
    return Status::Ok();
  }
  for (; next_external < external_.size(); ++next_external) {
    AppendLabel(canonical_, external_[next_external].name, external_[next_external].value);
  }
  uint64_t hash = HashLabels(canonical_);
  // Samples, histograms, exemplars and unknown fields keep their bytes and order.
  ProtoReader rest(bytes);
  while (rest.Next()) {
    if (rest.field() != prom::kSeriesLabels) canonical_.append(rest.raw_field());
  }
  sink_->Series(hash, canonical_, items);
  return Status::Ok();
}

Status WriteRequestSplitter::Split(std::string_view request, SeriesSink& sink,
                                   TranslateStats* stats) {
  sink_ = &sink;
  stats_ = stats;
  ProtoReader r(request);
  uint64_t index = 0;
  Status st;
  while (st.ok() && r.Next()) {
    if (r.field() == prom::kWriteMetadata) {
      ++stats_->dropped_metadata;
      continue;
    }
    if (r.field() != prom::kWriteTimeseries) continue;
    if (!r.Is(WireType::kLengthDelimited)) {
      st = Invalid("timeseries has the wrong wire type");
      break;
    }
    st = SplitSeries(r.bytes(), index++);
  }
  if (st.ok() && !r.ok()) st = Invalid(std::string("malformed request: ") + r.error());
  return st;
}

}  // namespace sluice::exporters::prw
