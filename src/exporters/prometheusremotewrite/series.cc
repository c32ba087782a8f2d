#include "exporters/prometheusremotewrite/series.h"

namespace sluice::exporters::prw {

uint64_t LabelSetHash(const std::vector<Label>& sorted_labels) {
  std::string canonical;
  for (const Label& l : sorted_labels) {
    if (!l.value.empty()) AppendLabel(canonical, l.name, l.value);
  }
  return HashLabels(canonical);
}

void WriteRequestBuilder::Add(std::string_view timeseries) {
  wire::ProtoWriter(&body_).Bytes(wire::prom::field::kWriteTimeseries, timeseries);
  ++series_;
}

size_t WriteRequestBuilder::EncodedSize(std::string_view timeseries) {
  return wire::ProtoWriter::LengthDelimitedSize(wire::prom::field::kWriteTimeseries,
                                                timeseries.size());
}

}  // namespace sluice::exporters::prw
