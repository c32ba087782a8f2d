#include "processors/attributes/attributes_processor.h"

#include "wire/otlp/edit.h"
#include "wire/otlp/logs.h"
#include "wire/otlp/metrics.h"
#include "wire/otlp/traces.h"
#include "wire/proto_reader.h"

namespace sluice::processors::attributes {
namespace {

namespace f = wire::otlp::field;
using wire::otlp::AttributeMap;
using wire::otlp::BlockEdit;

// The fields of a leaf the match properties look at.
MatchItem SpanFacts(std::string_view resource, std::string_view scope, std::string_view span) {
  MatchItem m{resource, scope, span, f::kSpanAttributes};
  wire::ProtoReader r(span);
  while (r.Next()) {
    if (r.field() == f::kSpanName && r.Is(wire::WireType::kLengthDelimited)) m.name = r.bytes();
    if (r.field() == f::kSpanKind && r.Is(wire::WireType::kVarint)) m.kind = r.as_int64();
  }
  return m;
}

MatchItem LogFacts(std::string_view resource, std::string_view scope, std::string_view record) {
  MatchItem m{resource, scope, record, f::kRecordAttributes};
  wire::ProtoReader r(record);
  while (r.Next()) {
    if (r.field() == f::kRecordBody && r.Is(wire::WireType::kLengthDelimited)) m.body = r.bytes();
    if (r.field() == f::kRecordSeverityText && r.Is(wire::WireType::kLengthDelimited)) {
      m.severity_text = r.bytes();
    }
    if (r.field() == f::kRecordSeverityNumber && r.Is(wire::WireType::kVarint)) {
      m.severity_number = r.as_int64();
    }
  }
  return m;
}

MatchItem MetricFacts(std::string_view resource, std::string_view scope, std::string_view metric) {
  MatchItem m{resource, scope, {}, 0};
  wire::ProtoReader r(metric);
  while (r.Next()) {
    if (r.field() == f::kMetricName && r.Is(wire::WireType::kLengthDelimited)) m.name = r.bytes();
  }
  return m;
}

void ParseMatch(const YAML::Node& n, std::optional<MatchProperties>* out, config::Context& ctx) {
  out->emplace();
  ParseMatchProperties(n, ctx, &**out);
}

}  // namespace

const config::Schema<AttributesOptions>& AttributesOptionsSchema() {
  static const auto* schema = [] {
    auto* s = new config::Schema<AttributesOptions>("attributes processor");
    s->Custom("actions", "list", "(required)",
              "Actions in order: `{key, action, value | from_attribute | pattern | "
              "converted_type}`; `action` is insert, update, upsert, delete, hash (SHA-256, hex), "
              "extract (named groups of `pattern` become attributes) or convert (to int, double "
              "or string).",
              [](const YAML::Node& n, AttributesOptions* o, config::Context& ctx) {
                ParseActions(n, ctx, &o->actions);
              })
        .Required();
    s->Custom("include", "map", "",
              "Only items matching these properties are changed: `match_type` (strict or "
              "regexp) and any of services, span_names, span_kinds, attributes, resources, "
              "libraries, log_bodies, log_severity_texts, log_severity_number, metric_names.",
              [](const YAML::Node& n, AttributesOptions* o, config::Context& ctx) {
                ParseMatch(n, &o->include, ctx);
              });
    s->Custom("exclude", "map", "",
              "Items matching these properties (as `include`) are left alone; checked after "
              "`include`.",
              [](const YAML::Node& n, AttributesOptions* o, config::Context& ctx) {
                ParseMatch(n, &o->exclude, ctx);
              });
    return s;
  }();
  return *schema;
}

AttributesProcessor::AttributesProcessor(const std::string& id, const AttributesOptions& options,
                                         telemetry::Registry& registry)
    : id_(id),
      options_(options),
      changed_(registry
                   .AddCounter("sluice_processor_attributes_changed_items_total",
                               "Spans, log records and data points whose attributes an "
                               "attributes processor changed.",
                               {"processor"})
                   .With({id})) {}

bool AttributesProcessor::Selected(const MatchItem& item) const {
  if (options_.include && !Matches(*options_.include, item)) return false;
  if (options_.exclude && Matches(*options_.exclude, item)) return false;
  return true;
}

Status AttributesProcessor::Process(const Input& in, Output* out) const {
  if (in.encoding != log::Encoding::kOtlpProto) return Status::Ok();
  const bool match = options_.include || options_.exclude;
  uint64_t changed_items = 0;
  // Applies the actions to the KeyValues at `field` of `message`.
  auto edit_attributes = [&](std::string_view message, uint32_t field, BlockEdit* edit) {
    thread_local AttributeMap attrs;  // reused item after item: no allocation
    attrs.Reset(message, field);
    if (!ApplyActions(options_.actions, &attrs)) return;
    edit->replace = true;
    wire::otlp::AppendWithAttributes(message, field, attrs, &edit->bytes);
    ++changed_items;
  };
  wire::otlp::RequestEditor editor;
  switch (in.signal) {
    case log::Signal::kTraces:
      editor.leaf = [&](std::string_view resource, std::string_view scope, std::string_view span,
                        BlockEdit* edit) {
        if (!match || Selected(SpanFacts(resource, scope, span))) {
          edit_attributes(span, f::kSpanAttributes, edit);
        }
        return Status::Ok();
      };
      break;
    case log::Signal::kLogs:
      editor.leaf = [&](std::string_view resource, std::string_view scope, std::string_view record,
                        BlockEdit* edit) {
        if (!match || Selected(LogFacts(resource, scope, record))) {
          edit_attributes(record, f::kRecordAttributes, edit);
        }
        return Status::Ok();
      };
      break;
    case log::Signal::kMetrics:
      editor.leaf = [&](std::string_view resource, std::string_view scope, std::string_view metric,
                        BlockEdit* edit) -> Status {
        if (match && !Selected(MetricFacts(resource, scope, metric))) return Status::Ok();
        size_t left = 0;
        SLUICE_ASSIGN_OR_RETURN(
            bool changed,
            wire::otlp::EditDataPoints(
                metric,
                [&](wire::otlp::PointKind kind, std::string_view point, BlockEdit* pe) {
                  edit_attributes(point, wire::otlp::PointAttributesField(kind), pe);
                  return Status::Ok();
                },
                &edit->bytes, &left));
        edit->replace = changed;
        return Status::Ok();
      };
      break;
  }
  bool changed = false;
  SLUICE_RETURN_IF_ERROR(wire::otlp::EditRequest(in.payload, editor, &out->payload, &changed));
  changed_.Inc(changed_items);
  if (!changed) return Status::Ok();
  out->changed = true;
  out->items = in.items;
  return Status::Ok();
}

pipeline::ComponentType AttributesProcessorType() {
  return pipeline::MakeProcessorType(
      "attributes",
      "Inserts, updates, deletes, hashes, extracts and converts attributes of spans, log "
      "records and metric data points (the OpenTelemetry Collector's attributes processor).",
      {log::Signal::kTraces, log::Signal::kLogs, log::Signal::kMetrics}, AttributesOptionsSchema(),
      [](const pipeline::ComponentSettings& s, const AttributesOptions& o,
         pipeline::Runtime& rt) -> Result<std::shared_ptr<const pipeline::Processor>> {
        for (const pipeline::PipelineRef& p : s.pipelines) {
          for (const auto* props : {&o.include, &o.exclude}) {
            if (!*props) continue;
            std::vector<std::string> wrong = (*props)->NotFor(p.signal);
            if (wrong.empty()) continue;
            return Status::InvalidArgument(
                "processor " + s.id + " in pipeline " + p.name + ": " + config::JoinChoices(wrong) +
                " cannot match " + std::string(log::SignalName(p.signal)) +
                "; use a separate attributes processor for this pipeline");
          }
        }
        return std::shared_ptr<const pipeline::Processor>(
            std::make_shared<AttributesProcessor>(s.id, o, rt.metrics));
      });
}

}  // namespace sluice::processors::attributes
