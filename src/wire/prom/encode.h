#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "wire/prom/remote_write.h"
#include "wire/proto_writer.h"

namespace sluice::wire::prom {

// Writing remote write requests one series at a time: encode a series'
// labels once with AppendLabel (sorted by name, "__name__" first among
// them by that order), then append it with a sample by AppendSeries. The
// concatenation of AppendSeries outputs is a WriteRequest.

inline size_t LabelSize(std::string_view name, std::string_view value) {
  return ProtoWriter::LengthDelimitedSize(field::kLabelName, name.size()) +
         ProtoWriter::LengthDelimitedSize(field::kLabelValue, value.size());
}

// One TimeSeries.labels field, Label{name, value}.
inline void AppendLabel(ProtoWriter& w, std::string_view name, std::string_view value) {
  w.MessageHeader(field::kSeriesLabels, LabelSize(name, value));
  w.Bytes(field::kLabelName, name);
  w.Bytes(field::kLabelValue, value);
}

// One WriteRequest.timeseries field: the encoded `labels` and one sample.
inline void AppendSeries(std::string* out, std::string_view labels, double value,
                         int64_t timestamp_ms) {
  ProtoWriter w(out);
  const auto ts = static_cast<uint64_t>(timestamp_ms);
  const size_t sample = ProtoWriter::Fixed64FieldSize(field::kSampleValue) +
                        ProtoWriter::VarintFieldSize(field::kSampleTimestamp, ts);
  const size_t series =
      labels.size() + ProtoWriter::LengthDelimitedSize(field::kSeriesSamples, sample);
  w.MessageHeader(field::kWriteTimeseries, series);
  out->append(labels);
  w.MessageHeader(field::kSeriesSamples, sample);
  w.Double(field::kSampleValue, value);
  w.Varint(field::kSampleTimestamp, ts);
}

}  // namespace sluice::wire::prom
