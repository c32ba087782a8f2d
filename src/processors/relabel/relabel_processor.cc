#include "processors/relabel/relabel_processor.h"

#include <algorithm>

#include "processors/common/remote_write.h"
#include "wire/otlp/common.h"
#include "wire/otlp/edit.h"
#include "wire/otlp/metrics.h"
#include "wire/prom/labels.h"
#include "wire/prom/naming.h"
#include "wire/prom/remote_write.h"
#include "wire/proto_reader.h"
#include "wire/proto_writer.h"

namespace sluice::processors::relabel {
namespace {

using sluice::relabel::LabelSet;
namespace pf = wire::prom::field;
namespace of = wire::otlp::field;

bool IsSeriesLabel(std::string_view name) {
  return name != "__name__" && name != "job" && name != "instance";
}

// Whether the two sets hold the same labels besides __name__, job and
// instance (which the OTLP attributes do not carry).
bool SameAttributes(const LabelSet& a, const LabelSet& b) {
  auto count = [](const LabelSet& s) {
    size_t n = 0;
    for (size_t i = 0; i < s.size(); ++i) n += IsSeriesLabel(s[i].name) ? 1 : 0;
    return n;
  };
  if (count(a) != count(b)) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!IsSeriesLabel(a[i].name)) continue;
    if (!b.Has(a[i].name) || b.Get(a[i].name) != a[i].value) return false;
  }
  return true;
}

// A point's labels as the prometheusremotewrite exporter makes them.
void PointLabels(std::string_view name, std::string_view job, std::string_view instance,
                 std::string_view point, uint32_t attributes_field, LabelSet* labels) {
  labels->Clear();
  labels->Add("__name__", name);
  if (!job.empty()) labels->Add("job", job);
  if (!instance.empty()) labels->Add("instance", instance);
  wire::ProtoReader r(point);
  while (r.Next()) {
    if (r.field() != attributes_field || !r.Is(wire::WireType::kLengthDelimited)) continue;
    std::string_view key, value;
    wire::ProtoReader kv(r.bytes());
    while (kv.Next()) {
      if (kv.field() == of::kKeyValueKey) key = kv.bytes();
      if (kv.field() == of::kKeyValueValue) value = kv.bytes();
    }
    std::string label = wire::prom::PromLabelName(key);
    if (label.empty() || !IsSeriesLabel(label)) continue;
    labels->Set(label, wire::otlp::AnyValueText(value));
  }
}

// The point with its attributes replaced by `labels` (besides __name__, job
// and instance): an attribute whose label survived unchanged keeps its key
// and typed value; the others become string attributes named as labels.
std::string PointWithLabels(std::string_view point, uint32_t attributes_field,
                            const LabelSet& labels) {
  std::string out;
  std::vector<bool> done(labels.size(), false);
  wire::ProtoReader r(point);
  while (r.Next()) {
    if (r.field() != attributes_field || !r.Is(wire::WireType::kLengthDelimited)) {
      out.append(r.raw_field());
      continue;
    }
    std::string_view key, value;
    wire::ProtoReader kv(r.bytes());
    while (kv.Next()) {
      if (kv.field() == of::kKeyValueKey) key = kv.bytes();
      if (kv.field() == of::kKeyValueValue) value = kv.bytes();
    }
    std::string label = wire::prom::PromLabelName(key);
    for (size_t i = 0; i < labels.size(); ++i) {
      if (done[i] || labels[i].name != label) continue;
      if (labels[i].value == wire::otlp::AnyValueText(value)) {
        out.append(r.raw_field());
        done[i] = true;
      }
      break;
    }
  }
  wire::ProtoWriter w(&out);
  for (size_t i = 0; i < labels.size(); ++i) {
    if (done[i] || !IsSeriesLabel(labels[i].name)) continue;
    size_t mark = w.BeginMessage(attributes_field);
    w.Bytes(of::kKeyValueKey, labels[i].name);
    w.Bytes(of::kKeyValueValue, wire::otlp::AnyString(labels[i].value));
    w.EndMessage(mark);
  }
  return out;
}

// What the exporter makes of a metric's type.
wire::prom::PromType TypeOf(uint32_t data_field, std::string_view data) {
  switch (data_field) {
    case of::kMetricSum: {
      bool monotonic = false;
      uint64_t temporality = 0;
      wire::ProtoReader r(data);
      while (r.Next()) {
        if (r.field() == of::kSumIsMonotonic) monotonic = r.varint() != 0;
        if (r.field() == of::kTemporality) temporality = r.varint();
      }
      return monotonic && temporality == 2 ? wire::prom::PromType::kCounter
                                           : wire::prom::PromType::kGauge;
    }
    case of::kMetricHistogram:
    case of::kMetricExponentialHistogram:
      return wire::prom::PromType::kHistogram;
    case of::kMetricSummary:
      return wire::prom::PromType::kSummary;
    default:
      return wire::prom::PromType::kGauge;
  }
}

}  // namespace

const config::Schema<RelabelOptions>& RelabelOptionsSchema() {
  static const auto* schema = [] {
    auto* s = new config::Schema<RelabelOptions>("relabel processor");
    s->Custom("metric_relabel_configs", "list", "(required)",
              "Prometheus relabel configs, unchanged: source_labels, separator, target_label, "
              "regex, modulus, replacement, action (replace, keep, drop, keepequal, dropequal, "
              "hashmod, labelmap, labeldrop, labelkeep, lowercase, uppercase), and vmagent's "
              "`if` series selector.",
              [](const YAML::Node& n, RelabelOptions* o, config::Context& ctx) {
                sluice::relabel::ParseRules(n, ctx, &o->metric_relabel_configs);
              })
        .Required();
    return s;
  }();
  return *schema;
}

RelabelProcessor::RelabelProcessor(const std::string& id, const RelabelOptions& options,
                                   telemetry::Registry& registry)
    : options_(options),
      dropped_series_(registry
                          .AddCounter("sluice_processor_relabel_dropped_series_total",
                                      "Series (remote-write series, OTLP data points) a relabel "
                                      "processor dropped.",
                                      {"processor"})
                          .With({id})),
      changed_series_(registry
                          .AddCounter("sluice_processor_relabel_changed_series_total",
                                      "Series whose labels a relabel processor changed.",
                                      {"processor"})
                          .With({id})) {}

Status RelabelProcessor::Process(const Input& in, Output* out) const {
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

Status RelabelProcessor::ProcessRemoteWrite(const Input& in, std::string_view request,
                                            Output* out) const {
  thread_local LabelSet labels, before;
  std::string result;
  bool changed = false;
  uint64_t dropped_items = 0, dropped = 0, relabelled = 0;
  wire::ProtoReader req(request);
  while (req.Next()) {
    if (req.field() != pf::kWriteTimeseries || !req.Is(wire::WireType::kLengthDelimited)) {
      result.append(req.raw_field());
      continue;
    }
    labels.Clear();
    uint64_t items = 0;
    wire::ProtoReader ts(req.bytes());
    while (ts.Next()) {
      if (ts.field() == pf::kSeriesSamples || ts.field() == pf::kSeriesHistograms) ++items;
      if (ts.field() != pf::kSeriesLabels) continue;
      std::string_view name, value;
      if (!wire::prom::SplitCanonicalLabel(ts.bytes(), &name, &value)) {
        wire::ProtoReader l(ts.bytes());
        while (l.Next()) {
          if (l.field() == pf::kLabelName) name = l.bytes();
          if (l.field() == pf::kLabelValue) value = l.bytes();
        }
      }
      labels.Add(name, value);
    }
    before = labels;
    bool kept = sluice::relabel::Apply(options_.metric_relabel_configs, &labels) && !labels.empty();
    if (!kept) {
      changed = true;
      ++dropped;
      dropped_items += items;
      continue;
    }
    if (labels == before) {
      result.append(req.raw_field());
      continue;
    }
    changed = true;
    ++relabelled;
    labels.Sort();
    wire::ProtoWriter w(&result);
    size_t mark = w.BeginMessage(pf::kWriteTimeseries);
    for (size_t i = 0; i < labels.size(); ++i) {
      size_t l = w.BeginMessage(pf::kSeriesLabels);
      w.Bytes(pf::kLabelName, labels[i].name);
      w.Bytes(pf::kLabelValue, labels[i].value);
      w.EndMessage(l);
    }
    wire::ProtoReader rest(req.bytes());
    while (rest.Next()) {
      if (rest.field() != pf::kSeriesLabels) result.append(rest.raw_field());
    }
    w.EndMessage(mark);
  }
  dropped_series_.Inc(dropped);
  changed_series_.Inc(relabelled);
  if (!changed) return Status::Ok();
  out->changed = true;
  out->items = in.items - std::min(in.items, dropped_items);
  if (out->items > 0) out->payload = std::move(result);
  return Status::Ok();
}

Status RelabelProcessor::ProcessOtlp(const Input& in, Output* out) const {
  uint64_t dropped_points = 0, relabelled = 0;
  wire::otlp::RequestEditor editor;
  editor.leaf = [&](std::string_view resource, std::string_view, std::string_view metric,
                    wire::otlp::BlockEdit* edit) -> Status {
    // The metric's Prometheus name, and the job and instance of its resource.
    const wire::otlp::MetricData found = wire::otlp::FindMetricData(metric);
    if (found.field == 0) return Status::Ok();
    const uint32_t data_field = found.field;
    const std::string_view data = found.bytes;
    std::string prom_name = wire::prom::PromMetricName(
        wire::LastBytesField(metric, of::kMetricName),
        wire::LastBytesField(metric, of::kMetricUnit), TypeOf(data_field, data), true);
    std::string job, instance;
    std::string_view v;
    if (wire::otlp::FindAttribute(resource, of::kResourceAttributes, "service.name", &v)) {
      job = wire::otlp::AnyValueText(v);
      if (wire::otlp::FindAttribute(resource, of::kResourceAttributes, "service.namespace", &v)) {
        job = wire::otlp::AnyValueText(v) + "/" + job;
      }
    }
    if (wire::otlp::FindAttribute(resource, of::kResourceAttributes, "service.instance.id", &v)) {
      instance = wire::otlp::AnyValueText(v);
    }
    const uint32_t attrs_field = wire::otlp::PointAttributesField(found.kind);
    // Each kept point under the name the rules left it, in order.
    struct Group {
      std::string name;
      std::string points;  // data_points fields
    };
    std::vector<Group> groups;
    bool changed = false;
    thread_local LabelSet labels, before;
    wire::ProtoReader d(data);
    while (d.Next()) {
      if (d.field() != of::kDataPoints || !d.Is(wire::WireType::kLengthDelimited)) continue;
      PointLabels(prom_name, job, instance, d.bytes(), attrs_field, &labels);
      before = labels;  // reuses before's memory
      if (!sluice::relabel::Apply(options_.metric_relabel_configs, &labels) ||
          labels.Get("__name__").empty()) {
        changed = true;
        ++dropped_points;
        continue;
      }
      std::string name(labels.Get("__name__"));
      auto g = std::find_if(groups.begin(), groups.end(),
                            [&](const Group& x) { return x.name == name; });
      if (g == groups.end()) g = groups.insert(groups.end(), Group{name, {}});
      bool same_attrs = SameAttributes(labels, before);
      if (same_attrs && name == prom_name) {
        g->points.append(d.raw_field());
        continue;
      }
      changed = true;
      ++relabelled;
      if (same_attrs) {
        g->points.append(d.raw_field());
      } else {
        wire::ProtoWriter(&g->points)
            .Bytes(of::kDataPoints, PointWithLabels(d.bytes(), attrs_field, labels));
      }
    }
    if (!changed) return Status::Ok();
    if (groups.empty()) {
      edit->drop = true;
      return Status::Ok();
    }
    // One Metric per name: its own fields as received, its data's fields
    // besides the points, and the group's points. A renamed metric loses its
    // unit, which the exporter would otherwise add to the new name again.
    std::string data_rest;
    wire::ProtoReader dr(data);
    while (dr.Next()) {
      if (dr.field() != of::kDataPoints) data_rest.append(dr.raw_field());
    }
    auto encode = [&](const Group& g, std::string* outm) {
      bool renamed = g.name != prom_name;
      wire::ProtoReader mr(metric);
      while (mr.Next()) {
        if (mr.field() == data_field) continue;
        if (renamed && (mr.field() == of::kMetricName || mr.field() == of::kMetricUnit)) continue;
        outm->append(mr.raw_field());
      }
      wire::ProtoWriter w(outm);
      if (renamed) w.Bytes(of::kMetricName, g.name);
      size_t mark = w.BeginMessage(data_field);
      outm->append(data_rest);
      outm->append(g.points);
      w.EndMessage(mark);
    };
    edit->replace = true;
    if (groups.size() == 1) {
      encode(groups[0], &edit->bytes);
      return Status::Ok();
    }
    edit->framed = true;  // one Metric per name, each a ScopeMetrics.metrics field
    for (const Group& g : groups) {
      std::string one;
      encode(g, &one);
      wire::ProtoWriter(&edit->bytes).Bytes(of::kScopeMetricsMetrics, one);
    }
    return Status::Ok();
  };
  bool changed = false;
  SLUICE_RETURN_IF_ERROR(wire::otlp::EditRequest(in.payload, editor, &out->payload, &changed));
  dropped_series_.Inc(dropped_points);
  changed_series_.Inc(relabelled);
  if (!changed) return Status::Ok();
  out->changed = true;
  out->items = in.items - std::min(in.items, dropped_points);
  if (out->items == 0) out->payload.clear();
  return Status::Ok();
}

pipeline::ComponentType RelabelProcessorType() {
  return pipeline::MakeProcessorType(
      "relabel",
      "Prometheus metric_relabel_configs (every action, and vmagent's `if`) on remote-write "
      "series and OTLP data points, as the Prometheus translation names them.",
      {log::Signal::kMetrics}, RelabelOptionsSchema(),
      [](const pipeline::ComponentSettings& s, const RelabelOptions& o,
         pipeline::Runtime& rt) -> Result<std::shared_ptr<const pipeline::Processor>> {
        return std::shared_ptr<const pipeline::Processor>(
            std::make_shared<RelabelProcessor>(s.id, o, rt.metrics));
      });
}

}  // namespace sluice::processors::relabel
