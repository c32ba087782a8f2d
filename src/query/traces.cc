#include "query/traces.h"

#include <algorithm>

#include "wire/otlp/inspect.h"
#include "wire/otlp/traces.h"

namespace sluice::query {

Result<std::string> FindTrace(log::Log& log, const Indexer& index, std::string_view trace_id) {
  log::PipelineSet pipelines;
  for (uint32_t id : index.traces_pipelines()) pipelines.Add(id);
  std::string out;
  std::vector<bool> keep;
  const std::vector<uint64_t> all = log.Segments();
  for (uint64_t segment : index.SegmentsWithTrace(trace_id)) {
    auto next = std::upper_bound(all.begin(), all.end(), segment);
    const uint64_t limit = next == all.end() ? UINT64_MAX : *next;
    log::LogReader reader(log, log::Position{segment, log::kSegmentHeaderSize, segment});
    reader.SetPipelines(pipelines);
    while (true) {
      Result<log::LogReader::Batch> batch = reader.Next();
      if (!batch.ok()) {
        if (batch.status().code() == StatusCode::kEndOfStream) break;
        return batch.status();
      }
      if (batch->header.base_offset >= limit) break;
      if (batch->header.signal != log::Signal::kTraces ||
          batch->header.encoding != log::Encoding::kOtlpProto) {
        continue;
      }
      keep.clear();
      bool any = false;
      Status st = wire::otlp::ForEachLeaf(
          batch->payload, [&](std::string_view, std::string_view, std::string_view leaf) {
            wire::otlp::SpanView span;
            bool match = wire::otlp::ViewSpan(leaf, &span).ok() && span.trace_id == trace_id;
            keep.push_back(match);
            any |= match;
            return Status::Ok();
          });
      if (!st.ok() || !any) continue;
      // Requests concatenate: their resource_spans fields add up.
      out += wire::otlp::FilterRequest(batch->payload, keep);
    }
  }
  if (out.empty()) return Status::NotFound("no span of this trace in the log");
  return out;
}

}  // namespace sluice::query
