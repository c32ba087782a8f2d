#include "processors/transform/transform_processor.h"

#include <algorithm>

#include "base/logging.h"
#include "wire/otlp/edit.h"
#include "wire/otlp/traces.h"
#include "wire/proto_reader.h"
#include "wire/proto_writer.h"

namespace sluice::processors::transform {
namespace {

using ottl::ContextKind;

struct ContextName {
  const char* name;
  ContextKind kind;
  int depth;  // 0 resource, 1 scope, 2 item, 3 within an item
};

const std::vector<ContextName>& Contexts(const char* section) {
  static const std::vector<ContextName> kTraces = {{"resource", ContextKind::kResource, 0},
                                                   {"scope", ContextKind::kScope, 1},
                                                   {"span", ContextKind::kSpan, 2},
                                                   {"spanevent", ContextKind::kSpanEvent, 3}};
  static const std::vector<ContextName> kMetrics = {{"resource", ContextKind::kResource, 0},
                                                    {"scope", ContextKind::kScope, 1},
                                                    {"metric", ContextKind::kMetric, 2},
                                                    {"datapoint", ContextKind::kDataPoint, 3}};
  static const std::vector<ContextName> kLogs = {{"resource", ContextKind::kResource, 0},
                                                 {"scope", ContextKind::kScope, 1},
                                                 {"log", ContextKind::kLog, 2}};
  std::string_view s = section;
  return s == "trace_statements" ? kTraces : s == "metric_statements" ? kMetrics : kLogs;
}

std::string Names(const std::vector<ContextName>& contexts) {
  std::vector<std::string> names;
  for (const auto& c : contexts) names.push_back(c.name);
  return config::JoinChoices(names);
}

// The context a statement written without `context:` names by its path
// prefixes ("span.name", "resource.attributes"): the deepest one used.
bool InferContext(std::string_view text, const std::vector<ContextName>& contexts,
                  ContextKind* out) {
  int best = -1;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
      continue;
    }
    bool word_start = i == 0 || !(std::isalnum(static_cast<unsigned char>(text[i - 1])) ||
                                  text[i - 1] == '_' || text[i - 1] == '.');
    if (!word_start) continue;
    for (const auto& ctx : contexts) {
      std::string prefix = std::string(ctx.name) + ".";
      std::string_view rest = text.substr(i);
      bool match = rest.starts_with(prefix) ||
                   (ctx.kind == ContextKind::kScope && rest.starts_with("instrumentation_scope."));
      if (match && ctx.depth > best) {
        best = ctx.depth;
        *out = ctx.kind;
      }
    }
  }
  return best >= 0;
}

void ParseGroup(const YAML::Node& node, config::Context& ctx, const char* section,
                std::vector<StatementGroup>* out) {
  const auto& contexts = Contexts(section);
  auto compile_statement = [&](const YAML::Node& at, const std::string& text, ContextKind kind,
                               StatementGroup* g) {
    Result<ottl::Statement> s = ottl::Statement::Compile(text, kind);
    if (!s.ok()) {
      ctx.AddError(at, "statement '" + text + "': " + s.status().message());
      return;
    }
    g->statements.push_back(std::move(s).value());
  };
  if (node.IsScalar()) {
    // A statement on its own: its paths name the context.
    std::string text;
    if (!ctx.Scalar(node, &text)) return;
    StatementGroup g;
    if (!InferContext(text, contexts, &g.context)) {
      ctx.AddError(node, "statement '" + text +
                             "': name its context by prefixing its paths (span.name, "
                             "resource.attributes[...]) or use {context: ..., statements: [...]}; "
                             "contexts here: " +
                             Names(contexts));
      return;
    }
    compile_statement(node, text, g.context, &g);
    if (!g.statements.empty()) out->push_back(std::move(g));
    return;
  }
  if (!node.IsMap()) {
    ctx.AddError(node, "expected a statement or {context, conditions, statements}");
    return;
  }
  StatementGroup g;
  bool has_context = false;
  YAML::Node statements, conditions;
  bool has_statements = false, has_conditions = false;
  for (auto it = node.begin(); it != node.end(); ++it) {
    std::string key = it->first.as<std::string>();
    if (key == "context") {
      std::string name;
      if (!ctx.Scalar(it->second, &name)) return;
      for (const auto& c : contexts) {
        if (name == c.name) {
          g.context = c.kind;
          has_context = true;
        }
      }
      if (!has_context) {
        ctx.AddError(it->second, "unknown context \"" + name + "\" in " + section +
                                     "; choose one of " + Names(contexts));
        return;
      }
    } else if (key == "statements") {
      statements.reset(it->second);
      has_statements = true;
    } else if (key == "conditions") {
      conditions.reset(it->second);
      has_conditions = true;
    } else if (key == "error_mode") {
      ctx.AddError(it->first, "error_mode per group is not supported; set it on the processor");
      return;
    } else {
      ctx.AddError(it->first,
                   "unknown key \"" + key + "\"; a group has context, conditions, statements");
      return;
    }
  }
  if (!has_context) {
    ctx.AddError(node, std::string("the group needs `context`: one of ") + Names(contexts));
    return;
  }
  if (!has_statements || !statements.IsSequence()) {
    ctx.AddError(node, "the group needs `statements`: a list of OTTL statements");
    return;
  }
  if (has_conditions) {
    if (!conditions.IsSequence()) {
      ctx.AddError(conditions, "expected a list of OTTL conditions");
      return;
    }
    for (const auto& c : conditions) {
      std::string text;
      if (!ctx.Scalar(c, &text)) continue;
      Result<ottl::Condition> compiled = ottl::Condition::Compile(text, g.context);
      if (!compiled.ok()) {
        ctx.AddError(c, "condition '" + text + "': " + compiled.status().message());
        continue;
      }
      g.conditions.push_back(std::move(compiled).value());
    }
  }
  for (const auto& s : statements) {
    std::string text;
    if (ctx.Scalar(s, &text)) compile_statement(s, text, g.context, &g);
  }
  out->push_back(std::move(g));
}

void ParseSection(const YAML::Node& node, config::Context& ctx, const char* section,
                  std::vector<StatementGroup>* out) {
  if (!node.IsSequence()) {
    ctx.AddError(node, std::string("expected a list under ") + section);
    return;
  }
  for (const auto& item : node) ParseGroup(item, ctx, section, out);
}

}  // namespace

const config::Schema<TransformOptions>& TransformOptionsSchema() {
  static const auto* schema = [] {
    auto* s = new config::Schema<TransformOptions>("transform processor");
    s->Enum("error_mode", &TransformOptions::error_mode,
            {{"propagate", filter::ErrorMode::kPropagate},
             {"ignore", filter::ErrorMode::kIgnore},
             {"silent", filter::ErrorMode::kSilent}},
            "A statement that fails (a condition that cannot be evaluated, a value of the wrong "
            "type): `propagate` refuses the request (400); `ignore` counts and logs it and goes "
            "on with the next item; `silent` counts it without a log line.");
    s->Custom("trace_statements", "list", "[]",
              "Groups `{context: resource|scope|span|spanevent, conditions: [...], statements: "
              "[...]}`, or statements whose path prefixes name the context.",
              [](const YAML::Node& n, TransformOptions* o, config::Context& ctx) {
                ParseSection(n, ctx, "trace_statements", &o->trace_statements);
              });
    s->Custom("metric_statements", "list", "[]",
              "As trace_statements, with contexts resource, scope, metric, datapoint.",
              [](const YAML::Node& n, TransformOptions* o, config::Context& ctx) {
                ParseSection(n, ctx, "metric_statements", &o->metric_statements);
              });
    s->Custom("log_statements", "list", "[]",
              "As trace_statements, with contexts resource, scope, log.",
              [](const YAML::Node& n, TransformOptions* o, config::Context& ctx) {
                ParseSection(n, ctx, "log_statements", &o->log_statements);
              });
    return s;
  }();
  return *schema;
}

TransformProcessor::TransformProcessor(const std::string& id, const TransformOptions& options,
                                       telemetry::Registry& registry)
    : id_(id),
      options_(options),
      errors_(registry
                  .AddCounter("sluice_processor_transform_errors_total",
                              "Statements and conditions a transform processor could not run "
                              "(the item kept the changes before the failure unless error_mode "
                              "is propagate).",
                              {"processor"})
                  .With({id})) {}

Status TransformProcessor::Run(const StatementGroup& group, ottl::EditableItem& item) const {
  auto fail = [&](const Status& st) -> Status {
    if (options_.error_mode == filter::ErrorMode::kPropagate) return st;
    errors_.Inc();
    if (options_.error_mode == filter::ErrorMode::kIgnore) {
      logging::Warn("processor", "statement failed; the item goes on",
                    {{"processor", id_}, {"error", st.message()}});
    }
    return Status::Ok();
  };
  if (!group.conditions.empty()) {
    bool any = false;
    for (const ottl::Condition& c : group.conditions) {
      Result<bool> r = c.Evaluate(item);
      if (!r.ok()) return fail(r.status());
      if (*r) {
        any = true;
        break;
      }
    }
    if (!any) return Status::Ok();
  }
  for (const ottl::Statement& s : group.statements) {
    bool changed = false;
    Status st = s.Execute(item, &changed);
    if (!st.ok()) return fail(st);
  }
  return Status::Ok();
}

Status TransformProcessor::RunGroup(const StatementGroup& group, std::string_view payload,
                                    std::string* out, bool* changed) const {
  using wire::otlp::BlockEdit;
  auto take = [](const ottl::EditableItem& item, BlockEdit* edit) {
    if (!item.changed()) return;
    edit->replace = true;
    edit->bytes.assign(item.bytes());
  };
  wire::otlp::RequestEditor editor;
  switch (group.context) {
    case ContextKind::kResource:
      editor.resource = [&](std::string_view resource, BlockEdit* edit) -> Status {
        ottl::EditableItem item(ContextKind::kResource, resource, {});
        SLUICE_RETURN_IF_ERROR(Run(group, item));
        take(item, edit);
        return Status::Ok();
      };
      break;
    case ContextKind::kScope:
      editor.scope = [&](std::string_view resource, std::string_view scope,
                         BlockEdit* edit) -> Status {
        ottl::EditableItem item(ContextKind::kScope, scope, ottl::Parents{resource, {}});
        SLUICE_RETURN_IF_ERROR(Run(group, item));
        take(item, edit);
        return Status::Ok();
      };
      break;
    case ContextKind::kSpan:
    case ContextKind::kLog:
    case ContextKind::kMetric:
      editor.leaf = [&](std::string_view resource, std::string_view scope, std::string_view leaf,
                        BlockEdit* edit) -> Status {
        ottl::EditableItem item(group.context, leaf, ottl::Parents{resource, scope});
        SLUICE_RETURN_IF_ERROR(Run(group, item));
        take(item, edit);
        return Status::Ok();
      };
      break;
    case ContextKind::kSpanEvent:
      editor.leaf = [&](std::string_view resource, std::string_view scope, std::string_view span,
                        BlockEdit* edit) -> Status {
        ottl::Parents parents{resource, scope};
        std::string next;
        bool any = false;
        wire::ProtoReader r(span);
        while (r.Next()) {
          if (r.field() != wire::otlp::field::kSpanEvents ||
              !r.Is(wire::WireType::kLengthDelimited)) {
            next.append(r.raw_field());
            continue;
          }
          ottl::EditableItem item(ContextKind::kSpanEvent, r.bytes(), parents);
          SLUICE_RETURN_IF_ERROR(Run(group, item));
          if (item.changed()) {
            wire::ProtoWriter(&next).Bytes(wire::otlp::field::kSpanEvents, item.bytes());
            any = true;
          } else {
            next.append(r.raw_field());
          }
        }
        if (any) {
          edit->replace = true;
          edit->bytes = std::move(next);
        }
        return Status::Ok();
      };
      break;
    case ContextKind::kDataPoint:
      editor.leaf = [&](std::string_view resource, std::string_view scope, std::string_view metric,
                        BlockEdit* edit) -> Status {
        ottl::Parents parents{resource, scope};
        size_t left = 0;
        SLUICE_ASSIGN_OR_RETURN(
            bool points_changed,
            wire::otlp::EditDataPoints(
                metric,
                [&](wire::otlp::PointKind kind, std::string_view point, BlockEdit* pe) -> Status {
                  ottl::EditableItem item(ContextKind::kDataPoint, point, parents, metric, kind);
                  SLUICE_RETURN_IF_ERROR(Run(group, item));
                  take(item, pe);
                  return Status::Ok();
                },
                &edit->bytes, &left));
        edit->replace = points_changed;
        return Status::Ok();
      };
      break;
  }
  return wire::otlp::EditRequest(payload, editor, out, changed);
}

Status TransformProcessor::Process(const Input& in, Output* out) const {
  if (in.encoding != log::Encoding::kOtlpProto) return Status::Ok();
  const std::vector<StatementGroup>* groups = nullptr;
  switch (in.signal) {
    case log::Signal::kTraces:
      groups = &options_.trace_statements;
      break;
    case log::Signal::kMetrics:
      groups = &options_.metric_statements;
      break;
    case log::Signal::kLogs:
      groups = &options_.log_statements;
      break;
  }
  // Each group runs over the batch as the one before left it.
  std::string_view current = in.payload;
  std::string result, next;
  bool any = false;
  for (const StatementGroup& g : *groups) {
    bool changed = false;
    Status st = RunGroup(g, current, &next, &changed);
    if (!st.ok()) return Status::InvalidArgument("processor " + id_ + ": " + st.message());
    if (!changed) continue;
    result.swap(next);
    current = result;
    any = true;
  }
  if (!any) return Status::Ok();
  out->changed = true;
  out->payload = std::move(result);
  out->items = in.items;
  return Status::Ok();
}

pipeline::ComponentType TransformProcessorType() {
  return pipeline::MakeProcessorType(
      "transform",
      "Changes spans, span events, log records, metrics, data points, resources and scopes "
      "with OTTL statements (the OpenTelemetry Collector's transform processor; "
      "docs/processors.md lists the editors).",
      {log::Signal::kTraces, log::Signal::kLogs, log::Signal::kMetrics}, TransformOptionsSchema(),
      [](const pipeline::ComponentSettings& s, const TransformOptions& o,
         pipeline::Runtime& rt) -> Result<std::shared_ptr<const pipeline::Processor>> {
        return std::shared_ptr<const pipeline::Processor>(
            std::make_shared<TransformProcessor>(s.id, o, rt.metrics));
      });
}

}  // namespace sluice::processors::transform
