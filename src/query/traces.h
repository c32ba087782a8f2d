#pragma once

#include <string>
#include <string_view>

#include "base/result.h"
#include "log/log.h"
#include "query/indexer.h"
#include "query/params.h"

namespace sluice::query {

// Every span of `trace_id` (16 bytes) in the log, as one OTLP
// ExportTraceServiceRequest: the resource and scope blocks as stored, with
// only the trace's spans kept. Reads only the traces batches of the segments
// `index` names, one batch in memory at a time, of the tenant `scope`
// admits. NotFound when no span has the id.
Result<std::string> FindTrace(log::Log& log, const Indexer& index, std::string_view trace_id,
                              const TenantScope& scope);

}  // namespace sluice::query
