#pragma once

#include "config/schema.h"
#include "log/options.h"

namespace sluice::log {

// The `storage:` section's keys, types, bounds and documentation, kept apart
// from LogOptions so that including log/options.h (and log/log.h) does not
// bring in yaml-cpp.
const config::Schema<LogOptions>& LogOptionsSchema();

}  // namespace sluice::log
