#include "pipeline/component.h"

namespace sluice::pipeline {

std::string_view KindName(Kind k) {
  switch (k) {
    case Kind::kReceiver:
      return "receiver";
    case Kind::kProcessor:
      return "processor";
    case Kind::kExporter:
      return "exporter";
    case Kind::kConnector:
      return "connector";
  }
  return "component";
}

std::string_view KindSection(Kind k) {
  switch (k) {
    case Kind::kReceiver:
      return "receivers";
    case Kind::kProcessor:
      return "processors";
    case Kind::kExporter:
      return "exporters";
    case Kind::kConnector:
      return "connectors";
  }
  return "components";
}

const ComponentType* Catalog::Find(Kind kind, std::string_view type) const {
  for (const auto& t : types_) {
    if (t.kind == kind && t.type == type) return &t;
  }
  return nullptr;
}

std::vector<std::string> Catalog::Names(Kind kind) const {
  std::vector<std::string> names;
  for (const auto& t : types_) {
    if (t.kind == kind) names.push_back(t.type);
  }
  return names;
}

}  // namespace sluice::pipeline
