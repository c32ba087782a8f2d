#include "receivers/postgresql/options.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>
#include <set>

#include "io/file_system.h"

namespace sluice::receivers::postgresql {
namespace {

// `metric: seconds` pairs, in the file's order.
void ParseIntervals(const YAML::Node& n, config::Context& ctx,
                    std::vector<std::pair<std::string, int64_t>>* out) {
  if (n.IsNull()) return;
  if (!n.IsMap()) {
    ctx.AddError(n, "expected a map of metric name to interval in seconds");
    return;
  }
  for (auto it = n.begin(); it != n.end(); ++it) {
    const YAML::Node key = it->first;
    const YAML::Node value = it->second;
    std::string name, seconds;
    if (!ctx.Scalar(key, &name) || !ctx.Scalar(value, &seconds)) continue;
    char* end = nullptr;
    const long long v = std::strtoll(seconds.c_str(), &end, 10);
    if (seconds.empty() || *end != '\0' || v <= 0 || v > 7 * 86400) {
      ctx.AddError(value, "metric " + name +
                              ": the interval must be a whole number of seconds from 1 to 604800");
      continue;
    }
    out->emplace_back(name, v);
  }
}

const config::Schema<ReconnectOptions>& ReconnectSchema() {
  static const config::Schema<ReconnectOptions> s = [] {
    config::Schema<ReconnectOptions> r("reconnect");
    r.Duration("initial_interval", &ReconnectOptions::initial_interval,
               "The wait after a source's first failed connection; it doubles with each further "
               "failure, with jitter.",
               {1e6, 3600e9})
        .Duration("max_interval", &ReconnectOptions::max_interval,
                  "The longest wait between connection attempts.", {1e6, 86400e9});
    return r;
  }();
  return s;
}

// The GCD of the plan's intervals.
std::chrono::nanoseconds Gcd(const SourcePlan& p) {
  int64_t g = 0;
  for (const auto* list : {&p.primary, &p.standby}) {
    for (const Planned& m : *list) g = std::gcd(g, static_cast<int64_t>(m.interval.count()));
  }
  return std::chrono::nanoseconds(g);
}

std::string At(const config::Location& l) {
  return l.file.empty()
             ? ""
             : l.file + ":" + std::to_string(l.line) + ":" + std::to_string(l.column) + ": ";
}

// A preset's and the custom metrics, custom ones replacing the preset's.
Status Resolve(const pgmetrics::Definitions& defs, const Source& s, const std::string& preset,
               const std::vector<std::pair<std::string, int64_t>>& custom,
               std::vector<Planned>* out) {
  std::vector<std::pair<std::string, int64_t>> all;
  if (!preset.empty()) {
    auto p = defs.presets.find(preset);
    if (p == defs.presets.end()) {
      std::string names;
      for (const auto& [n, unused] : defs.presets) names += (names.empty() ? "" : ", ") + n;
      return Status::InvalidArgument(At(s.where) + "source " + s.name + ": unknown preset \"" +
                                     preset + "\" (presets: " + names + ")");
    }
    all.assign(p->second.metrics.begin(), p->second.metrics.end());
  }
  for (const auto& [name, seconds] : custom) {
    bool replaced = false;
    for (auto& [n, v] : all) {
      if (n == name) {
        v = seconds;
        replaced = true;
      }
    }
    if (!replaced) all.emplace_back(name, seconds);
  }
  for (const auto& [name, seconds] : all) {
    auto m = defs.metrics.find(name);
    if (m == defs.metrics.end()) {
      return Status::InvalidArgument(At(s.where) + "source " + s.name + ": unknown metric \"" +
                                     name + "\"");
    }
    out->push_back(Planned{&m->second, std::chrono::seconds(seconds)});
  }
  return Status::Ok();
}

// A string field that may be left empty in the file (`key:`), as pgwatch's
// sample sources file does.
config::Schema<Source>& Text(config::Schema<Source>& s, const char* name, std::string Source::*m,
                             const char* doc) {
  return s.Custom(name, "string", "\"\"", doc,
                  [m](const YAML::Node& n, Source* o, config::Context& ctx) {
                    if (!n.IsNull()) ctx.Scalar(n, &(o->*m));
                  });
}

}  // namespace

const config::Schema<Source>& SourceSchema() {
  static const config::Schema<Source> schema = [] {
    config::Schema<Source> s("source");
    s.Custom("name", "string", "(required)", "The source's unique name: the `dbname` label.",
             [](const YAML::Node& n, Source* o, config::Context& ctx) {
               o->where = ctx.Where(n);
               ctx.Scalar(n, &o->name);
             })
        .Required();
    Text(s, "conn_str", &Source::conn_str,
         "A libpq connection string or URI; ${env:NAME} puts a secret in from the environment.")
        .Required();
    Text(s, "kind", &Source::kind, "Only `postgres` is supported.");
    Text(s, "preset_metrics", &Source::preset_metrics, "A preset's name.");
    s.Custom("custom_metrics", "map of metric to seconds", "{}",
             "Metrics and their intervals, beside (and replacing those of) the preset.",
             [](const YAML::Node& n, Source* o, config::Context& ctx) {
               ParseIntervals(n, ctx, &o->custom_metrics);
             });
    Text(s, "preset_metrics_standby", &Source::preset_metrics_standby,
         "The preset used while the server is a standby (default: preset_metrics).");
    s.Custom("custom_metrics_standby", "map of metric to seconds", "{}",
             "The custom metrics while the server is a standby.",
             [](const YAML::Node& n, Source* o, config::Context& ctx) {
               ParseIntervals(n, ctx, &o->custom_metrics_standby);
             })
        .Bool("is_enabled", &Source::is_enabled, "A disabled source is not monitored.")
        .Bool("only_if_master", &Source::only_if_master,
              "Fetch nothing but pg_up while the server is a standby.")
        .Custom("stmt_timeout", "int (seconds)", "0",
                "The statement timeout of the source's metrics that set none (0: the receiver's "
                "statement_timeout).",
                [](const YAML::Node& n, Source* o, config::Context& ctx) {
                  if (n.IsNull()) return;
                  config::internal::ParseInt(n, ctx, {0, 86400}, &o->stmt_timeout);
                });
    Text(s, "group", &Source::group, "The source's group, for sharing sources by instance.");
    s.StringMap("custom_tags", &Source::custom_tags, "Labels added to every series.");
    for (const char* unused : {"include_pattern", "exclude_pattern", "dbname_include_pattern",
                               "dbname_exclude_pattern"}) {
      s.Custom(unused, "string", "\"\"",
               "pgwatch's database filter of its discovery kinds, which sluice refuses; accepted "
               "so a pgwatch file loads.",
               [](const YAML::Node&, Source*, config::Context&) {});
    }
    return s;
  }();
  return schema;
}

const config::Schema<PostgresqlOptions>& PostgresqlOptionsSchema() {
  static const config::Schema<PostgresqlOptions> schema = [] {
    config::Schema<PostgresqlOptions> s("postgresql");
    s.ObjectList("sources", &PostgresqlOptions::sources, SourceSchema(),
                 "Monitored databases, as the entries of pgwatch's sources.yaml.")
        .String("sources_file", &PostgresqlOptions::sources_file,
                "A pgwatch sources.yaml file: a list of sources, read at start.")
        .String("metrics_file", &PostgresqlOptions::metrics_file,
                "A pgwatch metrics.yaml file whose metrics and presets add to (and replace) the "
                "built-in ones.")
        .String("namespace", &PostgresqlOptions::name_space,
                "Series are named <namespace>_<metric>_<column>.")
        .StringList("groups", &PostgresqlOptions::groups,
                    "Monitor only the sources of these groups (all when empty).")
        .Duration("connect_timeout", &PostgresqlOptions::connect_timeout,
                  "The deadline of a connection attempt.", {1e8, 300e9})
        .Duration("statement_timeout", &PostgresqlOptions::statement_timeout,
                  "A metric's statement timeout when its definition sets none.", {1e8, 3600e9})
        .Object("reconnect", &PostgresqlOptions::reconnect, ReconnectSchema(),
                "Backoff between connection attempts of a failing source.")
        .Check([](const PostgresqlOptions& o) -> std::string {
          return o.sources.empty() && o.sources_file.empty()
                     ? "set sources or sources_file (or both)"
                     : "";
        });
    return s;
  }();
  return schema;
}

Result<std::shared_ptr<const Plan>> MakePlan(const PostgresqlOptions& options) {
  auto plan = std::make_shared<Plan>();
  plan->definitions = pgmetrics::Builtin();
  if (!options.metrics_file.empty()) {
    Result<std::string> text = io::ReadSmallFile(io::FileSystem::Posix(), options.metrics_file);
    if (!text.ok()) {
      return Status::InvalidArgument("metrics_file " + options.metrics_file + ": " +
                                     text.status().message());
    }
    SLUICE_ASSIGN_OR_RETURN(
        pgmetrics::Definitions mine,
        pgmetrics::ParseDefinitions(*text, options.metrics_file, &plan->definitions));
    plan->definitions.Merge(std::move(mine));
  }
  std::vector<Source> sources = options.sources;
  if (!options.sources_file.empty()) {
    config::Context ctx(options.sources_file);
    std::optional<YAML::Node> root = config::LoadFile(options.sources_file, ctx);
    if (root && !root->IsNull() && !root->IsSequence()) {
      ctx.AddError(*root, "expected a list of sources");
    } else if (root && root->IsSequence()) {
      for (auto it = root->begin(); it != root->end(); ++it) {
        const YAML::Node item = *it;
        Source s;
        SourceSchema().Parse(item, &s, ctx);
        sources.push_back(std::move(s));
      }
    }
    if (!ctx.ok()) {
      std::string all;
      for (const config::Error& e : ctx.errors()) all += (all.empty() ? "" : "\n") + e.ToString();
      return Status::InvalidArgument(all);
    }
  }
  std::set<std::string> names;
  for (Source& s : sources) {
    if (!names.insert(s.name).second) {
      return Status::InvalidArgument(At(s.where) + "source " + s.name +
                                     ": the name is used by another source");
    }
    if (!s.is_enabled) continue;
    if (s.kind != "postgres") {
      return Status::InvalidArgument(
          At(s.where) + "source " + s.name + ": kind \"" + s.kind +
          "\" is not supported; sluice monitors kind postgres sources (one database each)");
    }
    if (!options.groups.empty() &&
        std::find(options.groups.begin(), options.groups.end(), s.group) == options.groups.end()) {
      continue;
    }
    SourcePlan p;
    SLUICE_RETURN_IF_ERROR(
        Resolve(plan->definitions, s, s.preset_metrics, s.custom_metrics, &p.primary));
    if (s.only_if_master) {
      // nothing while a standby
    } else if (s.preset_metrics_standby.empty() && s.custom_metrics_standby.empty()) {
      p.standby = p.primary;
    } else {
      SLUICE_RETURN_IF_ERROR(Resolve(plan->definitions, s, s.preset_metrics_standby,
                                     s.custom_metrics_standby, &p.standby));
    }
    p.tick = Gcd(p);
    if (p.tick.count() == 0) p.tick = std::chrono::minutes(1);  // pg_up only
    p.source = std::move(s);
    plan->sources.push_back(std::move(p));
  }
  return std::shared_ptr<const Plan>(std::move(plan));
}

std::chrono::nanoseconds ReconnectDelay(int failures, const ReconnectOptions& o,
                                        std::mt19937_64& rng) {
  const double base = std::min<double>(static_cast<double>(o.max_interval.count()),
                                       static_cast<double>(o.initial_interval.count()) *
                                           std::pow(2.0, std::clamp(failures - 1, 0, 40)));
  std::uniform_real_distribution<double> jitter(0.5, 1.0);
  return std::chrono::nanoseconds(static_cast<int64_t>(base * jitter(rng)));
}

int64_t StatementTimeoutMs(const pgmetrics::Metric& m, const Source& s,
                           std::chrono::nanoseconds fallback) {
  if (m.statement_timeout_seconds > 0) return m.statement_timeout_seconds * 1000;
  if (s.stmt_timeout > 0) return s.stmt_timeout * 1000;
  return std::chrono::duration_cast<std::chrono::milliseconds>(fallback).count();
}

std::chrono::nanoseconds TickBound(const SourcePlan& p, const PostgresqlOptions& o) {
  int64_t primary = 0, standby = 0;
  for (const Planned& m : p.primary)
    primary += StatementTimeoutMs(*m.metric, p.source, o.statement_timeout);
  for (const Planned& m : p.standby)
    standby += StatementTimeoutMs(*m.metric, p.source, o.statement_timeout);
  return o.connect_timeout + std::chrono::milliseconds(std::max(primary, standby) + 1000);
}

}  // namespace sluice::receivers::postgresql
