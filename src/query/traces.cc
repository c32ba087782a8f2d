#include "query/traces.h"

#include "query/segment_reader.h"
#include "wire/otlp/inspect.h"
#include "wire/otlp/traces.h"

namespace sluice::query {

Result<std::string> FindTrace(log::Log& log, const Indexer& index, std::string_view trace_id,
                              const TenantScope& scope) {
  log::PipelineSet pipelines;
  for (uint32_t id : index.traces_pipelines()) pipelines.Add(id);
  std::string out;
  std::vector<bool> keep;
  for (const Indexer::Range& range : index.RangesWithTrace(trace_id)) {
    SLUICE_RETURN_IF_ERROR(ForEachBatchInRange(
        log, range.segment, range.begin, range.end, pipelines,
        [&](const log::LogReader::Batch& batch) {
          if (batch.header.signal != log::Signal::kTraces ||
              batch.header.encoding != log::Encoding::kOtlpProto || !scope.Admits(batch.tenant)) {
            return true;
          }
          keep.clear();
          bool any = false;
          Status st = wire::otlp::ForEachLeaf(
              batch.payload, [&](std::string_view, std::string_view, std::string_view leaf) {
                wire::otlp::SpanView span;
                bool match = wire::otlp::ViewSpan(leaf, &span).ok() && span.trace_id == trace_id;
                keep.push_back(match);
                any |= match;
                return Status::Ok();
              });
          // Requests concatenate: their resource_spans fields add up.
          if (st.ok() && any) out += wire::otlp::FilterRequest(batch.payload, keep);
          return true;
        }));
  }
  if (out.empty()) return Status::NotFound("no span of this trace in the log");
  return out;
}

}  // namespace sluice::query
