#include "pipeline/component.h"

#include "base/check.h"

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

void Catalog::Add(Kind kind, std::string type, MakeType make) {
  entries_.push_back(std::unique_ptr<Entry>(new Entry{kind, std::move(type), make, {}, nullptr}));
}

const ComponentType* Catalog::Made(const Entry& e) {
  std::call_once(e.once, [&e] {
    auto made = std::make_unique<const ComponentType>(e.make());
    // Invariant: a type is registered under the kind and name it has.
    SLUICE_CHECK(made->kind == e.kind && made->type == e.type);
    e.made = std::move(made);
  });
  return e.made.get();
}

const ComponentType* Catalog::Find(Kind kind, std::string_view type) const {
  for (const auto& e : entries_) {
    if (e->kind == kind && e->type == type) return Made(*e);
  }
  return nullptr;
}

std::vector<std::string> Catalog::Names(Kind kind) const {
  std::vector<std::string> names;
  for (const auto& e : entries_) {
    if (e->kind == kind) names.push_back(e->type);
  }
  return names;
}

std::vector<const ComponentType*> Catalog::types() const {
  std::vector<const ComponentType*> all;
  all.reserve(entries_.size());
  for (const auto& e : entries_) all.push_back(Made(*e));
  return all;
}

}  // namespace sluice::pipeline
