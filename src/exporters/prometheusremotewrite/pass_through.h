#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "exporters/prometheusremotewrite/series.h"
#include "exporters/prometheusremotewrite/translate.h"

namespace sluice::exporters::prw {

// Remote write in, remote write out (Translator::SplitWriteRequest): a
// WriteRequest split into its series, each passed on as the request's own
// bytes, or with its labels merged with the external labels. Keeps its
// buffer from request to request; one thread at a time.
class WriteRequestSplitter {
 public:
  // `external` must outlive the splitter; it is sorted by name, its values
  // non-empty.
  explicit WriteRequestSplitter(const std::vector<LabelRef>& external) : external_(external) {}

  Status Split(std::string_view request, SeriesSink& sink, TranslateStats* stats);

 private:
  Status SplitSeries(std::string_view series_bytes, uint64_t index);
  bool SplitCanonicalSeries(std::string_view series_bytes);

  const std::vector<LabelRef>& external_;
  std::string canonical_;  // labels in canonical form, then (merged) the other fields
  SeriesSink* sink_ = nullptr;
  TranslateStats* stats_ = nullptr;
};

}  // namespace sluice::exporters::prw
