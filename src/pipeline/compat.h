#pragma once

#include <string>
#include <vector>

#include "config/schema.h"
#include "pipeline/component.h"

namespace sluice::pipeline {

// How each component of a configuration file loads, for `sluice validate`
// on a Collector configuration: as written, with a different meaning
// (`batch`, `pprof`, ...), or not at all (an unknown type, or an error
// inside its section).
struct ComponentVerdict {
  enum class Kind { kUnchanged, kDifferentMeaning, kUnsupported };
  std::string section;  // "receivers", ..., "extensions"
  std::string id;
  Kind kind = Kind::kUnchanged;
  std::string note;  // what it means instead, or the first error inside it
};

std::vector<ComponentVerdict> ClassifyComponents(const YAML::Node& root,
                                                 const std::vector<config::Error>& errors,
                                                 const Catalog& catalog);

// The verdicts as text: three groups, each component with its note.
std::string RenderVerdicts(const std::vector<ComponentVerdict>& verdicts);

}  // namespace sluice::pipeline
