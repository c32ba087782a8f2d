#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "base/status.h"
#include "exporters/prometheusremotewrite/translate.h"
#include "wire/prom/remote_write.h"
#include "wire/proto_reader.h"
#include "wire/proto_writer.h"

// Inlined: the hash is taken once per series, and most label sets are short.
#define XXH_INLINE_ALL
#include <xxhash.h>

namespace sluice::exporters::prw {

// What translation and pass-through share: series written in the canonical
// form that LabelSetHash covers (labels sorted by name, each a Label with
// name then value and minimal varints), and the checks their input is read
// with.

struct LabelRef {
  std::string_view name;
  std::string_view value;
};

// Appends one TimeSeries.labels field, Label{name, value}. An empty value is
// left out, as proto3 does for defaults.
inline void AppendLabel(std::string& out, std::string_view name, std::string_view value) {
  namespace field = wire::prom::field;
  using W = wire::ProtoWriter;
  uint64_t size = W::LengthDelimitedSize(field::kLabelName, name.size());
  if (!value.empty()) size += W::LengthDelimitedSize(field::kLabelValue, value.size());
  W w(&out);
  w.MessageHeader(field::kSeriesLabels, size);
  w.Bytes(field::kLabelName, name);
  if (!value.empty()) w.Bytes(field::kLabelValue, value);
}

// Appends one TimeSeries.samples field. The timestamp is written even when
// zero, as every series the translation makes has one.
inline void AppendSample(std::string& out, double value, int64_t timestamp_ms) {
  namespace field = wire::prom::field;
  using W = wire::ProtoWriter;
  const auto ts = static_cast<uint64_t>(timestamp_ms);
  W w(&out);
  w.MessageHeader(field::kSeriesSamples, W::Fixed64FieldSize(field::kSampleValue) +
                                             W::VarintFieldSize(field::kSampleTimestamp, ts));
  w.Double(field::kSampleValue, value);
  w.Varint(field::kSampleTimestamp, ts);
}

// The hash SeriesSink is given, of labels already in canonical form.
inline uint64_t HashLabels(std::string_view canonical_labels) {
  return XXH3_64bits(canonical_labels.data(), canonical_labels.size());
}

inline double StaleNaN() {
  double d;
  std::memcpy(&d, &kStaleNaNBits, sizeof d);
  return d;
}

inline Status Invalid(std::string why) {
  return Status::InvalidArgument(std::move(why));
}

// Reads one encoded prometheus.TimeSeries (what a SeriesSink is handed), in
// field order: on_label(name, value) for each label, on_sample(value,
// timestamp_ms) for each sample. Returns the native histograms it holds
// (which have no sample form), or nullopt for bytes that are not a
// TimeSeries (after the callbacks for what came before the damage).
template <class OnLabel, class OnSample>
std::optional<uint64_t> ReadTimeSeries(std::string_view timeseries, OnLabel&& on_label,
                                       OnSample&& on_sample) {
  namespace field = wire::prom::field;
  uint64_t histograms = 0;
  wire::ProtoReader r(timeseries);
  while (r.Next()) {
    if (r.field() == field::kSeriesHistograms) {
      ++histograms;
    } else if (r.field() == field::kSeriesLabels && r.Is(wire::WireType::kLengthDelimited)) {
      std::string_view name;
      std::string_view value;
      wire::ProtoReader l(r.bytes());
      while (l.Next()) {
        if (!l.Is(wire::WireType::kLengthDelimited)) continue;
        if (l.field() == field::kLabelName) name = l.bytes();
        if (l.field() == field::kLabelValue) value = l.bytes();
      }
      on_label(name, value);
    } else if (r.field() == field::kSeriesSamples && r.Is(wire::WireType::kLengthDelimited)) {
      double value = 0;
      int64_t timestamp_ms = 0;
      wire::ProtoReader s(r.bytes());
      while (s.Next()) {
        if (s.field() == field::kSampleValue && s.Is(wire::WireType::kFixed64)) {
          value = s.as_double();
        } else if (s.field() == field::kSampleTimestamp && s.Is(wire::WireType::kVarint)) {
          timestamp_ms = s.as_int64();
        }
      }
      on_sample(value, timestamp_ms);
    }
  }
  if (!r.ok()) return std::nullopt;
  return histograms;
}

// True if the reader's field has wire type `t`; otherwise fails the reader,
// which ends its loop with that error.
inline bool Expect(wire::ProtoReader& r, wire::WireType t) {
  if (r.Is(t)) return true;
  r.Fail("a field has the wrong wire type");
  return false;
}

}  // namespace sluice::exporters::prw
