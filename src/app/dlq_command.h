#pragma once

#include <iosfwd>
#include <string>

#include "pipeline/service_config.h"

namespace sluice::app {

// `sluice dlq list|replay|purge`: operates on the dead-letter queues under
// the configuration's storage.directory. `exporter` selects one exporter
// (required for replay and purge; list shows every exporter without it).
// replay resends each entry with the exporter's own sender, removing those
// accepted; it stops at a destination that stays unavailable. Returns the
// process exit code: 0 when everything asked for was done.
int RunDlqCommand(const std::string& action, const pipeline::ServiceConfig& config,
                  const std::string& exporter, std::ostream& out, std::ostream& err);

}  // namespace sluice::app
