#include "processors/filter/filter_processor.h"

#include <algorithm>
#include <tuple>

#include "base/logging.h"
#include "ottl/otlp_items.h"
#include "wire/otlp/edit.h"
#include "wire/otlp/inspect.h"
#include "wire/otlp/traces.h"
#include "wire/proto_reader.h"

namespace sluice::processors::filter {
namespace {

// Parses a list of condition strings for `kind` into *out; each error is
// reported at its string, with the column inside it.
void ParseConditions(const YAML::Node& node, config::Context& ctx, ottl::ContextKind kind,
                     std::vector<ottl::Condition>* out) {
  if (!node.IsSequence()) {
    ctx.AddError(node, "expected a list of OTTL conditions");
    return;
  }
  for (const auto& item : node) {
    std::string text;
    if (!ctx.Scalar(item, &text)) continue;
    Result<ottl::Condition> c = ottl::Condition::Compile(text, kind);
    if (!c.ok()) {
      ctx.AddError(item, "condition '" + text + "': " + c.status().message());
      continue;
    }
    out->push_back(std::move(c).value());
  }
}

// A signal's section and the lists of conditions its keys fill.
void ParseSection(
    const YAML::Node& node, config::Context& ctx, const char* section,
    const std::vector<std::tuple<std::string, ottl::ContextKind, std::vector<ottl::Condition>*>>&
        keys) {
  if (!node.IsMap()) {
    ctx.AddError(node, std::string("expected a map under ") + section);
    return;
  }
  for (auto it = node.begin(); it != node.end(); ++it) {
    std::string key = it->first.as<std::string>();
    bool done = false;
    for (const auto& [name, kind, out] : keys) {
      if (key != name) continue;
      ParseConditions(it->second, ctx, kind, out);
      done = true;
    }
    if (done) continue;
    std::vector<std::string> names;
    for (const auto& k : keys) names.push_back(std::get<0>(k));
    ctx.AddError(it->first, std::string("unknown key ") + section + "." + key +
                                "; supported: " + config::JoinChoices(names));
  }
}

}  // namespace

const config::Schema<FilterOptions>& FilterOptionsSchema() {
  static const auto* schema = [] {
    auto* s = new config::Schema<FilterOptions>("filter processor");
    s->Enum("error_mode", &FilterOptions::error_mode,
            {{"propagate", ErrorMode::kPropagate},
             {"ignore", ErrorMode::kIgnore},
             {"silent", ErrorMode::kSilent}},
            "A condition that fails to evaluate: `propagate` refuses the request (400); "
            "`ignore` counts and logs it and keeps the item; `silent` keeps it without a log "
            "line.");
    s->Custom("traces", "map", "",
              "`span`, `spanevent`: OTTL conditions; a span (or span event) is dropped when any "
              "holds (a resource or scope left without spans is dropped with it).",
              [](const YAML::Node& n, FilterOptions* o, config::Context& ctx) {
                ParseSection(n, ctx, "traces",
                             {{"span", ottl::ContextKind::kSpan, &o->span},
                              {"spanevent", ottl::ContextKind::kSpanEvent, &o->spanevent}});
              });
    s->Custom(
        "logs", "map", "", "`log_record`: OTTL conditions; a log record is dropped when any holds.",
        [](const YAML::Node& n, FilterOptions* o, config::Context& ctx) {
          ParseSection(n, ctx, "logs", {{"log_record", ottl::ContextKind::kLog, &o->log_record}});
        });
    s->Custom("metrics", "map", "",
              "`metric`, `datapoint`: OTTL conditions; a metric (with its points) or a data "
              "point is dropped when any holds; a metric left without points is dropped.",
              [](const YAML::Node& n, FilterOptions* o, config::Context& ctx) {
                ParseSection(n, ctx, "metrics",
                             {{"metric", ottl::ContextKind::kMetric, &o->metric},
                              {"datapoint", ottl::ContextKind::kDataPoint, &o->datapoint}});
              });
    return s;
  }();
  return *schema;
}

FilterProcessor::FilterProcessor(const std::string& id, const FilterOptions& options,
                                 telemetry::Registry& registry)
    : id_(id),
      options_(options),
      dropped_spans_(registry
                         .AddCounter("sluice_processor_filter_dropped_spans_total",
                                     "Spans a filter processor dropped.", {"processor"})
                         .With({id})),
      dropped_span_events_(registry
                               .AddCounter("sluice_processor_filter_dropped_span_events_total",
                                           "Span events a filter processor dropped.", {"processor"})
                               .With({id})),
      dropped_log_records_(registry
                               .AddCounter("sluice_processor_filter_dropped_log_records_total",
                                           "Log records a filter processor dropped.", {"processor"})
                               .With({id})),
      dropped_metrics_(registry
                           .AddCounter("sluice_processor_filter_dropped_metrics_total",
                                       "Metrics a filter processor dropped whole.", {"processor"})
                           .With({id})),
      dropped_data_points_(registry
                               .AddCounter("sluice_processor_filter_dropped_data_points_total",
                                           "Data points a filter processor dropped (those of "
                                           "dropped metrics included).",
                                           {"processor"})
                               .With({id})),
      errors_(registry
                  .AddCounter("sluice_processor_filter_condition_errors_total",
                              "Conditions that failed to evaluate (the item was kept unless "
                              "error_mode is propagate).",
                              {"processor"})
                  .With({id})) {}

Result<bool> FilterProcessor::Drops(const std::vector<ottl::Condition>& conditions,
                                    const ottl::Item& item) const {
  for (const ottl::Condition& c : conditions) {
    Result<bool> r = c.Evaluate(item);
    if (r.ok()) {
      if (*r) return true;
      continue;
    }
    if (options_.error_mode == ErrorMode::kPropagate) return r.status();
    errors_.Inc();
    if (options_.error_mode == ErrorMode::kIgnore) {
      logging::Warn("processor", "condition failed; the item is kept",
                    {{"processor", id_}, {"error", r.status().message()}});
    }
  }
  return false;
}

Status FilterProcessor::Process(const Input& in, Output* out) const {
  if (in.encoding != log::Encoding::kOtlpProto) return Status::Ok();
  const FilterOptions& o = options_;
  uint64_t spans = 0, events = 0, records = 0, metrics = 0, points = 0;
  using wire::otlp::BlockEdit;
  wire::otlp::RequestEditor editor;
  switch (in.signal) {
    case log::Signal::kTraces:
      if (o.span.empty() && o.spanevent.empty()) return Status::Ok();
      editor.leaf = [&](std::string_view resource, std::string_view scope, std::string_view leaf,
                        BlockEdit* edit) -> Status {
        ottl::Parents parents{resource, scope};
        if (!o.span.empty()) {
          wire::otlp::SpanView span;
          SLUICE_RETURN_IF_ERROR(wire::otlp::ViewSpan(leaf, &span));
          SLUICE_ASSIGN_OR_RETURN(bool drop, Drops(o.span, ottl::SpanItem(parents, span)));
          if (drop) {
            edit->drop = true;
            ++spans;
            return Status::Ok();
          }
        }
        if (o.spanevent.empty()) return Status::Ok();
        uint64_t dropped = 0;
        wire::ProtoReader r(leaf);
        while (r.Next()) {
          if (r.field() == wire::otlp::field::kSpanEvents &&
              r.Is(wire::WireType::kLengthDelimited)) {
            SLUICE_ASSIGN_OR_RETURN(bool drop,
                                    Drops(o.spanevent, ottl::SpanEventItem(parents, r.bytes())));
            if (drop) {
              ++dropped;
              continue;
            }
          }
          edit->bytes.append(r.raw_field());
        }
        edit->replace = dropped > 0;
        events += dropped;
        return Status::Ok();
      };
      break;
    case log::Signal::kLogs:
      if (o.log_record.empty()) return Status::Ok();
      editor.leaf = [&](std::string_view resource, std::string_view scope, std::string_view leaf,
                        BlockEdit* edit) -> Status {
        ottl::Parents parents{resource, scope};
        SLUICE_ASSIGN_OR_RETURN(edit->drop, Drops(o.log_record, ottl::LogItem(parents, leaf)));
        records += edit->drop ? 1 : 0;
        return Status::Ok();
      };
      break;
    case log::Signal::kMetrics:
      if (o.metric.empty() && o.datapoint.empty()) return Status::Ok();
      editor.leaf = [&](std::string_view resource, std::string_view scope, std::string_view metric,
                        BlockEdit* edit) -> Status {
        ottl::Parents parents{resource, scope};
        bool drop_metric = false;
        if (!o.metric.empty()) {
          SLUICE_ASSIGN_OR_RETURN(drop_metric, Drops(o.metric, ottl::MetricItem(parents, metric)));
        }
        size_t left = 0;
        uint64_t dropped = 0;
        SLUICE_ASSIGN_OR_RETURN(
            bool changed,
            wire::otlp::EditDataPoints(
                metric,
                [&](wire::otlp::PointKind kind, std::string_view point, BlockEdit* pe) -> Status {
                  if (drop_metric) {
                    pe->drop = true;
                  } else if (!o.datapoint.empty()) {
                    SLUICE_ASSIGN_OR_RETURN(
                        pe->drop,
                        Drops(o.datapoint, ottl::DataPointItem(parents, metric, kind, point)));
                  }
                  dropped += pe->drop ? 1 : 0;
                  return Status::Ok();
                },
                &edit->bytes, &left));
        points += dropped;
        if (drop_metric || (changed && left == 0)) {
          edit->drop = true;
          ++metrics;
        } else {
          edit->replace = changed;
        }
        return Status::Ok();
      };
      break;
  }
  bool changed = false;
  SLUICE_RETURN_IF_ERROR(wire::otlp::EditRequest(in.payload, editor, &out->payload, &changed));
  dropped_spans_.Inc(spans);
  dropped_span_events_.Inc(events);
  dropped_log_records_.Inc(records);
  dropped_metrics_.Inc(metrics);
  dropped_data_points_.Inc(points);
  if (!changed) return Status::Ok();  // stored as received
  uint64_t dropped_items = spans + records + points;
  out->changed = true;
  out->items = in.items - std::min(in.items, dropped_items);
  if (out->items == 0) out->payload.clear();  // nothing left to store
  return Status::Ok();
}

pipeline::ComponentType FilterProcessorType() {
  return pipeline::MakeProcessorType(
      "filter",
      "Drops spans, span events, log records, metrics and data points for which any OTTL "
      "condition holds (the OpenTelemetry "
      "Collector's filter processor; docs/processors.md lists the conditions it takes).",
      {log::Signal::kTraces, log::Signal::kLogs, log::Signal::kMetrics}, FilterOptionsSchema(),
      [](const pipeline::ComponentSettings& s, const FilterOptions& o,
         pipeline::Runtime& rt) -> Result<std::shared_ptr<const pipeline::Processor>> {
        return std::shared_ptr<const pipeline::Processor>(
            std::make_shared<FilterProcessor>(s.id, o, rt.metrics));
      });
}

}  // namespace sluice::processors::filter
