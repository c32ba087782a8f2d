#include "pipeline/compat.h"

namespace sluice::pipeline {
namespace {

struct Section {
  const char* name;
  Kind kind;
  bool extensions;
};

}  // namespace

std::vector<ComponentVerdict> ClassifyComponents(const YAML::Node& root,
                                                 const std::vector<config::Error>& errors,
                                                 const Catalog& catalog) {
  std::vector<ComponentVerdict> out;
  if (!root.IsMap()) return out;
  const Section sections[] = {{"receivers", Kind::kReceiver, false},
                              {"processors", Kind::kProcessor, false},
                              {"exporters", Kind::kExporter, false},
                              {"connectors", Kind::kConnector, false},
                              {"extensions", Kind::kReceiver, true}};
  for (const Section& sec : sections) {
    const YAML::Node node = root[sec.name];
    if (!node.IsDefined() || !node.IsMap()) continue;
    // A component's lines run from its key to the next component's key.
    std::vector<std::pair<std::string, int>> starts;
    for (auto it = node.begin(); it != node.end(); ++it) {
      starts.emplace_back(it->first.Scalar(), it->first.Mark().line + 1);
    }
    int section_end = INT32_MAX;
    for (auto it = root.begin(); it != root.end(); ++it) {
      int line = it->first.Mark().line + 1;
      if (line > node.Mark().line + 1 && line < section_end && it->first.Scalar() != sec.name) {
        section_end = line;
      }
    }
    for (size_t i = 0; i < starts.size(); ++i) {
      ComponentVerdict v;
      v.section = sec.name;
      v.id = starts[i].first;
      int first = starts[i].second;
      int last = i + 1 < starts.size() ? starts[i + 1].second - 1 : section_end - 1;
      for (const config::Error& e : errors) {
        if (e.where.line >= first && e.where.line <= last) {
          v.kind = ComponentVerdict::Kind::kUnsupported;
          v.note = e.message;
          break;
        }
      }
      if (v.kind == ComponentVerdict::Kind::kUnchanged) {
        std::string type = v.id.substr(0, v.id.find('/'));
        if (sec.extensions) {
          const YAML::Node body = node[v.id];
          if (type == "pprof") {
            v.kind = ComponentVerdict::Kind::kDifferentMeaning;
            v.note = "does nothing: sluice has no Go profiler (use perf)";
          } else if (type == "zpages") {
            v.kind = ComponentVerdict::Kind::kDifferentMeaning;
            v.note = "does nothing: the admin port's /metrics and /readyz show pipeline health";
          } else if (type == "health_check" && !(body.IsMap() && body["endpoint"])) {
            v.kind = ComponentVerdict::Kind::kDifferentMeaning;
            v.note = "answered by the admin port's /healthz (set endpoint for a port of its own)";
          }
        } else if (const ComponentType* t = catalog.Find(sec.kind, type);
                   t != nullptr && !t->different_meaning.empty()) {
          v.kind = ComponentVerdict::Kind::kDifferentMeaning;
          v.note = t->different_meaning;
        }
      }
      out.push_back(std::move(v));
    }
  }
  return out;
}

std::string RenderVerdicts(const std::vector<ComponentVerdict>& verdicts) {
  std::string out;
  const std::pair<ComponentVerdict::Kind, const char*> groups[] = {
      {ComponentVerdict::Kind::kUnchanged, "loads unchanged"},
      {ComponentVerdict::Kind::kDifferentMeaning, "accepted with a different meaning"},
      {ComponentVerdict::Kind::kUnsupported, "unsupported"},
  };
  for (const auto& [kind, title] : groups) {
    std::string lines;
    for (const ComponentVerdict& v : verdicts) {
      if (v.kind != kind) continue;
      lines += "  " + v.section + ": " + v.id;
      if (!v.note.empty()) lines += " (" + v.note + ")";
      lines += "\n";
    }
    if (!lines.empty()) out += std::string(title) + ":\n" + lines;
  }
  return out;
}

}  // namespace sluice::pipeline
