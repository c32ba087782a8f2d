#include "processors/cardinality/cardinality_limit_processor.h"

#include <algorithm>
#include <map>
#include <tuple>
#include <vector>

#include "processors/cardinality/fold.h"
#include "processors/common/remote_write.h"
#include "wire/otlp/common.h"
#include "wire/otlp/edit.h"
#include "wire/otlp/metrics.h"
#include "wire/prom/labels.h"
#include "wire/prom/remote_write.h"
#include "wire/proto_reader.h"
#include "wire/proto_writer.h"

// Inlined: the hash is taken per label of every series of every request.
#define XXH_INLINE_ALL
#include <xxhash.h>

namespace sluice::processors::cardinality {
namespace {

namespace pf = wire::prom::field;
namespace of = wire::otlp::field;
using wire::ProtoReader;
using wire::ProtoWriter;

bool Exempt(std::string_view metric) {
  return metric.starts_with("sluice_");
}

// Mixes one attribute's hash so that a sum over a set does not depend on
// the set's order.
uint64_t Mix(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return h;
}

// An order-free hash of the KeyValues at `field` of `message`.
uint64_t AttributesHash(std::string_view message, uint32_t field) {
  uint64_t h = 0;
  ProtoReader r(message);
  while (r.Next()) {
    if (r.field() == field && r.Is(wire::WireType::kLengthDelimited)) {
      h += Mix(XXH3_64bits(r.bytes().data(), r.bytes().size()));
    }
  }
  return h;
}

}  // namespace

// Folds and drops of one request, per metric (few per request).
struct CardinalityLimitProcessor::Tally {
  struct Entry {
    std::string_view metric;
    uint64_t folded = 0;
    uint64_t dropped = 0;
  };
  std::vector<Entry> entries;
  Entry& For(std::string_view metric) {
    if (!entries.empty() && entries.back().metric == metric) return entries.back();
    for (Entry& e : entries) {
      if (e.metric == metric) return e;
    }
    return entries.emplace_back(Entry{metric});
  }
};

const config::Schema<CardinalityLimitOptions>& CardinalityLimitOptionsSchema() {
  using O = CardinalityLimitOptions;
  static const auto* schema = [] {
    auto* s = new config::Schema<O>("cardinality_limit processor");
    s->Int("max_series", &O::max_series,
           "Active series allowed per metric name and tenant; series past it are folded or "
           "dropped.",
           {1, 100'000'000})
        .Duration("window", &O::window,
                  "A series is active while it was seen within this long; one idle for longer "
                  "frees its place.",
                  {1e9, 31 * 86400e9})
        .Enum("action", &O::action,
              {{"overflow", O::Action::kOverflow}, {"drop", O::Action::kDrop}},
              "What happens to the samples of series past the limit: `overflow` folds them into "
              "the metric's series labelled otel_metric_overflow=\"true\"; `drop` drops them.");
    return s;
  }();
  return *schema;
}

CardinalityLimitProcessor::CardinalityLimitProcessor(const std::string& id,
                                                     const CardinalityLimitOptions& options,
                                                     telemetry::Registry& registry, Clock& clock)
    : options_(options),
      limiter_(static_cast<uint64_t>(options.max_series), options.window, clock),
      folded_(registry.AddCounter(
          "sluice_processor_cardinality_folded_total",
          "Samples (remote-write samples, OTLP data points) of series past a cardinality limit, "
          "folded into their metric's overflow series.",
          {"processor", "tenant", "metric"})),
      dropped_(registry.AddCounter(
          "sluice_processor_cardinality_dropped_total",
          "Samples (remote-write samples, OTLP data points) of series past a cardinality limit, "
          "dropped (action: drop, or native histograms that do not fold).",
          {"processor", "tenant", "metric"})),
      active_(registry
                  .AddGauge("sluice_processor_cardinality_active_series",
                            "Series a cardinality_limit processor holds as active.", {"processor"})
                  .With({id})),
      id_(id) {}

void CardinalityLimitProcessor::Count(std::string_view tenant, const Tally& tally) const {
  for (const Tally::Entry& e : tally.entries) {
    std::vector<std::string> labels{id_, std::string(tenant), std::string(e.metric)};
    if (e.folded > 0) folded_.With(labels).Inc(e.folded);
    if (e.dropped > 0) dropped_.With(labels).Inc(e.dropped);
  }
  active_.Set(static_cast<double>(limiter_.active_series()));
}

Status CardinalityLimitProcessor::Process(const Input& in, Output* out) const {
  if (in.signal != log::Signal::kMetrics) return Status::Ok();
  switch (in.encoding) {
    case log::Encoding::kOtlpProto:
      return ProcessOtlp(in, out);
    case log::Encoding::kPromRemoteWriteProto:
    case log::Encoding::kPromRemoteWriteSnappy:
      return WithRemoteWriteRequest(
          in, out, [&](std::string_view request) { return ProcessRemoteWrite(in, request, out); });
  }
  return Status::Ok();
}

Status CardinalityLimitProcessor::ProcessRemoteWrite(const Input& in, std::string_view request,
                                                     Output* out) const {
  struct Series {
    std::string_view raw;  // the TimeSeries field
    std::string_view name, job, instance;
    uint64_t hash = 0;
    bool admitted = true;
  };
  thread_local std::vector<Series> series;
  series.clear();
  ProtoReader req(request);
  while (req.Next()) {
    if (req.field() != pf::kWriteTimeseries || !req.Is(wire::WireType::kLengthDelimited)) continue;
    Series& s = series.emplace_back();
    s.raw = req.raw_field();
    uint64_t h = 0;
    ProtoReader ts(req.bytes());
    while (ts.Next()) {
      if (ts.field() != pf::kSeriesLabels || !ts.Is(wire::WireType::kLengthDelimited)) continue;
      std::string_view label = ts.bytes();
      h = XXH3_64bits_withSeed(label.data(), label.size(), h);
      std::string_view name, value;
      if (!wire::prom::SplitCanonicalLabel(label, &name, &value)) {
        ProtoReader l(label);
        while (l.Next()) {
          if (l.field() == pf::kLabelName) name = l.bytes();
          if (l.field() == pf::kLabelValue) value = l.bytes();
        }
      }
      if (name == "__name__") s.name = value;
      if (name == "job") s.job = value;
      if (name == "instance") s.instance = value;
    }
    if (!ts.ok()) return Status::InvalidArgument(std::string("malformed series: ") + ts.error());
    s.hash = h;
  }
  if (!req.ok()) return Status::InvalidArgument(std::string("malformed request: ") + req.error());

  bool any_refused = false;
  {
    SeriesLimiter::Lookup lookup(limiter_);
    for (Series& s : series) {
      if (Exempt(s.name)) continue;
      s.admitted = lookup.Admit(in.tenant, s.name, s.hash);
      any_refused |= !s.admitted;
    }
  }
  if (!any_refused) {
    active_.Set(static_cast<double>(limiter_.active_series()));
    return Status::Ok();
  }

  // Keep the admitted series and every other field as received; gather the
  // refused series' samples per overflow series.
  Tally tally;
  using Key = std::tuple<std::string_view, std::string_view, std::string_view>;
  std::map<Key, std::map<int64_t, double>> overflow;
  std::string result;
  uint64_t removed = 0;
  size_t next = 0;
  ProtoReader again(request);
  while (again.Next()) {
    if (again.field() != pf::kWriteTimeseries || !again.Is(wire::WireType::kLengthDelimited)) {
      result.append(again.raw_field());
      continue;
    }
    const Series& s = series[next++];
    if (s.admitted) {
      result.append(s.raw);
      continue;
    }
    Tally::Entry& entry = tally.For(s.name);
    std::map<int64_t, double>* samples = nullptr;
    if (options_.action == CardinalityLimitOptions::Action::kOverflow) {
      samples = &overflow[Key{s.name, s.job, s.instance}];
    }
    ProtoReader ts(again.bytes());
    while (ts.Next()) {
      if (ts.field() == pf::kSeriesHistograms) {
        ++removed;
        ++entry.dropped;
        continue;
      }
      if (ts.field() != pf::kSeriesSamples || !ts.Is(wire::WireType::kLengthDelimited)) continue;
      ++removed;
      if (samples == nullptr) {
        ++entry.dropped;
        continue;
      }
      ++entry.folded;
      double value = 0;
      int64_t timestamp = 0;
      ProtoReader sample(ts.bytes());
      while (sample.Next()) {
        if (sample.field() == pf::kSampleValue) value = sample.as_double();
        if (sample.field() == pf::kSampleTimestamp) timestamp = sample.as_int64();
      }
      (*samples)[timestamp] += value;
    }
  }
  uint64_t added = 0;
  for (const auto& [key, samples] : overflow) {
    if (samples.empty()) continue;
    const auto& [name, job, instance] = key;
    ProtoWriter w(&result);
    size_t mark = w.BeginMessage(pf::kWriteTimeseries);
    // Sorted by name, as remote write requires.
    auto label = [&](std::string_view n, std::string_view v) {
      if (v.empty()) return;
      size_t l = w.BeginMessage(pf::kSeriesLabels);
      w.Bytes(pf::kLabelName, n);
      w.Bytes(pf::kLabelValue, v);
      w.EndMessage(l);
    };
    label("__name__", name);
    label("instance", instance);
    label("job", job);
    label("otel_metric_overflow", "true");
    for (const auto& [timestamp, value] : samples) {
      size_t m = w.BeginMessage(pf::kSeriesSamples);
      w.Double(pf::kSampleValue, value);
      w.Varint(pf::kSampleTimestamp, static_cast<uint64_t>(timestamp));
      w.EndMessage(m);
      ++added;
    }
    w.EndMessage(mark);
  }
  Count(in.tenant, tally);
  out->changed = true;
  out->items = in.items - std::min(in.items, removed) + added;
  if (out->items > 0) out->payload = std::move(result);
  return Status::Ok();
}

Status CardinalityLimitProcessor::ProcessOtlp(const Input& in, Output* out) const {
  Tally tally;
  uint64_t removed = 0, added = 0;
  // The resource's attribute hash, computed once per resource.
  const char* resource_data = nullptr;
  size_t resource_size = SIZE_MAX;
  uint64_t resource_hash = 0;
  wire::otlp::RequestEditor editor;
  editor.leaf = [&](std::string_view resource, std::string_view, std::string_view metric,
                    wire::otlp::BlockEdit* edit) -> Status {
    std::string_view name = wire::LastBytesField(metric, of::kMetricName);
    if (Exempt(name)) return Status::Ok();
    const wire::otlp::MetricData found = wire::otlp::FindMetricData(metric);
    if (found.field == 0) return Status::Ok();
    const uint32_t data_field = found.field;
    const std::string_view data = found.bytes;
    const wire::otlp::PointKind kind = found.kind;
    if (resource.data() != resource_data || resource.size() != resource_size) {
      resource_data = resource.data();
      resource_size = resource.size();
      resource_hash = Mix(AttributesHash(resource, of::kResourceAttributes));
    }
    const uint32_t attrs_field = wire::otlp::PointAttributesField(kind);

    thread_local std::vector<std::pair<std::string_view, bool>> points;  // raw field, admitted
    points.clear();
    bool any_refused = false;
    {
      SeriesLimiter::Lookup lookup(limiter_);
      ProtoReader d(data);
      while (d.Next()) {
        if (d.field() != of::kDataPoints || !d.Is(wire::WireType::kLengthDelimited)) continue;
        uint64_t h =
            resource_hash ^ Mix(AttributesHash(d.bytes(), attrs_field) + 0x9e3779b97f4a7c15ull);
        bool admitted = lookup.Admit(in.tenant, name, h);
        any_refused |= !admitted;
        points.emplace_back(d.raw_field(), admitted);
      }
    }
    if (!any_refused) return Status::Ok();
    std::string kept;
    std::vector<std::string_view> refused;
    for (const auto& [raw, admitted] : points) {
      if (admitted) {
        kept.append(raw);
      } else {
        ProtoReader one(raw);
        if (one.Next()) refused.push_back(one.bytes());
      }
    }
    Tally::Entry& entry = tally.For(name);
    removed += refused.size();
    if (options_.action == CardinalityLimitOptions::Action::kOverflow) {
      entry.folded += refused.size();
      added += FoldPoints(kind, refused, &kept);
    } else {
      entry.dropped += refused.size();
    }
    if (kept.empty()) {
      edit->drop = true;
      return Status::Ok();
    }
    // The metric with its data's points replaced.
    edit->replace = true;
    ProtoReader mr(metric);
    while (mr.Next()) {
      if (mr.field() != data_field) edit->bytes.append(mr.raw_field());
    }
    ProtoWriter w(&edit->bytes);
    size_t mark = w.BeginMessage(data_field);
    ProtoReader dr(data);
    while (dr.Next()) {
      if (dr.field() != of::kDataPoints) edit->bytes.append(dr.raw_field());
    }
    edit->bytes.append(kept);
    w.EndMessage(mark);
    return Status::Ok();
  };
  bool changed = false;
  SLUICE_RETURN_IF_ERROR(wire::otlp::EditRequest(in.payload, editor, &out->payload, &changed));
  Count(in.tenant, tally);
  if (!changed) return Status::Ok();
  out->changed = true;
  out->items = in.items - std::min(in.items, removed) + added;
  if (out->items == 0) out->payload.clear();
  return Status::Ok();
}

pipeline::ComponentType CardinalityLimitProcessorType() {
  return pipeline::MakeProcessorType(
      "cardinality_limit",
      "An exact limit of active series per metric name and tenant within a window; series past "
      "it fold into an overflow series or are dropped, counted per metric and tenant.",
      {log::Signal::kMetrics}, CardinalityLimitOptionsSchema(),
      [](const pipeline::ComponentSettings& s, const CardinalityLimitOptions& o,
         pipeline::Runtime& rt) -> Result<std::shared_ptr<const pipeline::Processor>> {
        return std::shared_ptr<const pipeline::Processor>(
            std::make_shared<CardinalityLimitProcessor>(s.id, o, rt.metrics, rt.clock));
      });
}

}  // namespace sluice::processors::cardinality
