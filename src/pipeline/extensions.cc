#include "pipeline/extensions.h"

#include <algorithm>

namespace sluice::pipeline {
namespace {

struct TypeInfo {
  const char* name;
  ExtensionType type;
  std::vector<const char*> keys;  // accepted option keys
};

const std::vector<TypeInfo>& Types() {
  static const auto* types = new std::vector<TypeInfo>{
      {"health_check",
       ExtensionType::kHealthCheck,
       {"endpoint", "path", "response_body", "check_collector_pipeline", "tls", "auth", "cors",
        "include_metadata"}},
      {"pprof",
       ExtensionType::kPprof,
       {"endpoint", "block_profile_fraction", "mutex_profile_fraction", "save_to_file"}},
      {"zpages", ExtensionType::kZpages, {"endpoint", "expvar"}},
  };
  return *types;
}

void ParseHealthCheck(const YAML::Node& body, const std::string& id, config::Context& ctx,
                      HealthCheckOptions* h) {
  for (auto k = body.begin(); k != body.end(); ++k) {
    const std::string key = k->first.Scalar();
    const YAML::Node v = k->second;
    if (key == "endpoint") {
      ctx.Scalar(v, &h->endpoint);
    } else if (key == "path") {
      ctx.Scalar(v, &h->path);
    } else if (key == "response_body" && v.IsMap()) {
      for (auto b = v.begin(); b != v.end(); ++b) {
        if (b->first.Scalar() == "healthy") ctx.Scalar(b->second, &h->healthy_body);
        if (b->first.Scalar() == "unhealthy") ctx.Scalar(b->second, &h->unhealthy_body);
      }
    } else if (key == "tls" || key == "auth" || key == "cors") {
      ctx.AddError(k->first,
                   "extension " + id + ": " + key + " is not supported on the health endpoint");
    }
  }
}

}  // namespace

void ParseExtensions(const YAML::Node& defined, const YAML::Node& listed, config::Context& ctx,
                     std::vector<ExtensionConfig>* out) {
  if (defined.IsDefined() && !defined.IsNull()) {
    if (!defined.IsMap()) {
      ctx.AddError(defined, "extensions: expected a map of extension ids");
    } else {
      for (auto it = defined.begin(); it != defined.end(); ++it) {
        std::string id = it->first.Scalar();
        std::string type = id.substr(0, id.find('/'));
        const TypeInfo* info = nullptr;
        std::vector<std::string> names;
        for (const TypeInfo& t : Types()) {
          names.push_back(t.name);
          if (type == t.name) info = &t;
        }
        if (info == nullptr) {
          ctx.AddError(it->first, "unknown extension type \"" + type +
                                      "\"; known types: " + config::JoinChoices(names));
          continue;
        }
        ExtensionConfig e;
        e.id = id;
        e.type = info->type;
        e.where = ctx.Where(it->first);
        const YAML::Node body = it->second;
        if (body.IsDefined() && !body.IsNull() && !body.IsMap()) {
          ctx.AddError(body, "extension " + id + ": expected a map of options");
          continue;
        }
        if (body.IsMap()) {
          for (auto k = body.begin(); k != body.end(); ++k) {
            std::string key = k->first.Scalar();
            bool known = std::any_of(info->keys.begin(), info->keys.end(),
                                     [&](const char* x) { return key == x; });
            if (!known) {
              std::vector<std::string> keys(info->keys.begin(), info->keys.end());
              ctx.AddError(k->first, "extension " + id + ": unknown key \"" + key +
                                         "\"; valid keys: " + config::JoinChoices(keys));
            }
          }
          if (e.type == ExtensionType::kHealthCheck)
            ParseHealthCheck(body, id, ctx, &e.health_check);
        }
        out->push_back(std::move(e));
      }
    }
  }
  if (!listed.IsDefined() || listed.IsNull()) return;
  std::vector<std::string> ids;
  if (!config::internal::ParseStringList(listed, ctx, &ids)) return;
  for (size_t i = 0; i < ids.size(); ++i) {
    auto it = std::find_if(out->begin(), out->end(),
                           [&](const ExtensionConfig& e) { return e.id == ids[i]; });
    if (it == out->end()) {
      std::vector<std::string> defined_ids;
      for (const auto& e : *out) defined_ids.push_back(e.id);
      ctx.AddError(listed[i], "service.extensions: \"" + ids[i] +
                                  "\" is not defined under extensions; defined: " +
                                  config::JoinChoices(defined_ids));
      continue;
    }
    it->enabled = true;
  }
}

std::string ExtensionsReference() {
  return "| extension | what it does in sluice |\n|---|---|\n"
         "| `health_check` | `endpoint` unset: the admin port's `/healthz` answers. `endpoint` "
         "set: a server there answers GET `path` (default `/`) with 200 "
         "`{\"status\":\"Server available\"}` while every component is ready and 503 otherwise "
         "(`response_body.healthy` / `unhealthy` replace the bodies). |\n"
         "| `pprof` | Accepted; sluice has no Go profiler: use `perf record -g -p PID`. |\n"
         "| `zpages` | Accepted; the admin port's `/metrics` and `/readyz` show pipeline health. "
         "|\n";
}

void HealthCheckHandler::Handle(net::HttpRequest&& request, net::Responder respond) {
  if (request.path != options_.path) {
    return respond(net::HttpResponse::Text(
        404, "not found: " + request.path + " (health: " + options_.path + ")"));
  }
  bool ready = health_.Check().ready;
  if (ready) {
    return respond(options_.healthy_body.empty()
                       ? net::HttpResponse::Json(200, "{\"status\":\"Server available\"}")
                       : net::HttpResponse::Text(200, options_.healthy_body));
  }
  respond(options_.unhealthy_body.empty()
              ? net::HttpResponse::Json(503, "{\"status\":\"Server not available\"}")
              : net::HttpResponse::Text(503, options_.unhealthy_body));
}

}  // namespace sluice::pipeline
