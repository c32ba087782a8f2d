#include "backfill/series_batcher.h"

#include <algorithm>

#include "wire/prom/encode.h"
#include "wire/proto_writer.h"

namespace sluice::backfill {

using wire::ProtoWriter;
namespace field = wire::prom::field;

void SeriesBatcher::BeginSeries(const relabel::LabelSet& labels) {
  if (in_series_) EndSeries();
  labels_.clear();
  ProtoWriter w(&labels_);
  for (size_t i = 0; i < labels.size(); ++i) {
    wire::prom::AppendLabel(w, labels[i].name, labels[i].value);
  }
  samples_bytes_.clear();
  in_series_ = true;
}

void SeriesBatcher::AddSample(int64_t timestamp_ms, double value) {
  ProtoWriter w(&samples_bytes_);
  const auto ts = static_cast<uint64_t>(timestamp_ms);
  w.MessageHeader(field::kSeriesSamples,
                  ProtoWriter::Fixed64FieldSize(field::kSampleValue) +
                      ProtoWriter::VarintFieldSize(field::kSampleTimestamp, ts));
  w.Double(field::kSampleValue, value);
  w.Varint(field::kSampleTimestamp, ts);
  ++samples_;
  min_ms_ = std::min(min_ms_, timestamp_ms);
  max_ms_ = std::max(max_ms_, timestamp_ms);
}

void SeriesBatcher::EndSeries() {
  if (!in_series_) return;
  in_series_ = false;
  if (samples_bytes_.empty()) return;
  ProtoWriter w(&payload_);
  w.MessageHeader(field::kWriteTimeseries, labels_.size() + samples_bytes_.size());
  payload_.append(labels_);
  payload_.append(samples_bytes_);
  samples_bytes_.clear();
}

void SeriesBatcher::Take(InputBatch* out) {
  const bool reopen = in_series_;
  EndSeries();
  out->signal = log::Signal::kMetrics;
  out->encoding = log::Encoding::kPromRemoteWriteProto;
  out->payload.swap(payload_);
  payload_.clear();
  out->tenant.clear();
  out->items = samples_;
  out->min_event_unix_nanos = samples_ > 0 ? min_ms_ * 1'000'000 : 0;
  out->max_event_unix_nanos = samples_ > 0 ? max_ms_ * 1'000'000 : 0;
  samples_ = 0;
  min_ms_ = INT64_MAX;
  max_ms_ = INT64_MIN;
  // A series cut by the batch's end goes on in the next batch.
  in_series_ = reopen;
}

}  // namespace sluice::backfill
