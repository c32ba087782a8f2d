#pragma once

#include "pipeline/component.h"

namespace sluice::components {

// Every receiver, processor and exporter type compiled into this binary.
const pipeline::Catalog& BuiltinCatalog();

// Markdown reference of every component's options, generated from their schemas.
std::string ConfigurationReference();

}  // namespace sluice::components
