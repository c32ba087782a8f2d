#include "processors/filter/filter_processor.h"

#include <algorithm>

#include "base/logging.h"
#include "ottl/otlp_items.h"
#include "wire/otlp/inspect.h"
#include "wire/otlp/traces.h"

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

// A signal's section: only the keys listed are supported.
void ParseSection(const YAML::Node& node, config::Context& ctx, const char* section,
                  const std::vector<std::pair<std::string, ottl::ContextKind>>& supported,
                  const std::vector<std::string>& later, FilterOptions* o) {
  if (!node.IsMap()) {
    ctx.AddError(node, std::string("expected a map under ") + section);
    return;
  }
  for (auto it = node.begin(); it != node.end(); ++it) {
    std::string key = it->first.as<std::string>();
    bool done = false;
    for (const auto& [name, kind] : supported) {
      if (key != name) continue;
      ParseConditions(it->second, ctx, kind,
                      kind == ottl::ContextKind::kSpan ? &o->span : &o->log_record);
      done = true;
    }
    if (done) continue;
    std::vector<std::string> names;
    for (const auto& s : supported) names.push_back(s.first);
    bool known_later = std::find(later.begin(), later.end(), key) != later.end();
    ctx.AddError(it->first, std::string(known_later ? "filter does not support " : "unknown key ") +
                                section + "." + key + (known_later ? " yet" : "") +
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
    s->Custom(
        "traces", "map", "",
        "`span`: OTTL conditions; a span is dropped when any holds (a resource or scope "
        "left without spans is dropped with it).",
        [](const YAML::Node& n, FilterOptions* o, config::Context& ctx) {
          ParseSection(n, ctx, "traces", {{"span", ottl::ContextKind::kSpan}}, {"spanevent"}, o);
        });
    s->Custom("logs", "map", "",
              "`log_record`: OTTL conditions; a log record is dropped when any holds.",
              [](const YAML::Node& n, FilterOptions* o, config::Context& ctx) {
                ParseSection(n, ctx, "logs", {{"log_record", ottl::ContextKind::kLog}}, {}, o);
              });
    s->Custom("metrics", "map", "", "Not supported yet: `metric` and `datapoint` are refused.",
              [](const YAML::Node& n, FilterOptions* o, config::Context& ctx) {
                ParseSection(n, ctx, "metrics", {}, {"metric", "datapoint"}, o);
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
      dropped_log_records_(registry
                               .AddCounter("sluice_processor_filter_dropped_log_records_total",
                                           "Log records a filter processor dropped.", {"processor"})
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
  const std::vector<ottl::Condition>* conditions = nullptr;
  telemetry::Counter* dropped_counter = nullptr;
  if (in.signal == log::Signal::kTraces && !options_.span.empty()) {
    conditions = &options_.span;
    dropped_counter = &dropped_spans_;
  } else if (in.signal == log::Signal::kLogs && !options_.log_record.empty()) {
    conditions = &options_.log_record;
    dropped_counter = &dropped_log_records_;
  } else {
    return Status::Ok();
  }
  std::vector<bool> keep;
  uint64_t dropped = 0;
  SLUICE_RETURN_IF_ERROR(wire::otlp::ForEachLeaf(
      in.payload,
      [&](std::string_view resource, std::string_view scope, std::string_view leaf) -> Status {
        ottl::Parents parents{resource, scope};
        bool drop;
        if (in.signal == log::Signal::kTraces) {
          wire::otlp::SpanView span;
          SLUICE_RETURN_IF_ERROR(wire::otlp::ViewSpan(leaf, &span));
          SLUICE_ASSIGN_OR_RETURN(drop, Drops(*conditions, ottl::SpanItem(parents, span)));
        } else {
          SLUICE_ASSIGN_OR_RETURN(drop, Drops(*conditions, ottl::LogItem(parents, leaf)));
        }
        keep.push_back(!drop);
        dropped += drop ? 1 : 0;
        return Status::Ok();
      }));
  dropped_counter->Inc(dropped);
  if (dropped == 0) return Status::Ok();  // stored as received
  out->changed = true;
  out->items = in.items - std::min(in.items, dropped);
  if (out->items > 0) out->payload = wire::otlp::FilterRequest(in.payload, keep);
  return Status::Ok();
}

pipeline::ComponentType FilterProcessorType() {
  return pipeline::MakeProcessorType(
      "filter",
      "Drops spans and log records for which any OTTL condition holds (the OpenTelemetry "
      "Collector's filter processor; docs/processors.md lists the conditions it takes).",
      {log::Signal::kTraces, log::Signal::kLogs, log::Signal::kMetrics}, FilterOptionsSchema(),
      [](const pipeline::ComponentSettings& s, const FilterOptions& o,
         pipeline::Runtime& rt) -> Result<std::shared_ptr<const pipeline::Processor>> {
        return std::shared_ptr<const pipeline::Processor>(
            std::make_shared<FilterProcessor>(s.id, o, rt.metrics));
      });
}

}  // namespace sluice::processors::filter
