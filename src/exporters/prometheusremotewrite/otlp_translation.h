#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "base/status.h"
#include "exporters/prometheusremotewrite/attributes.h"
#include "exporters/prometheusremotewrite/series.h"
#include "exporters/prometheusremotewrite/translate.h"

namespace sluice::exporters::prw {

// OTLP metrics into remote write series (Translator::TranslateOtlpMetrics),
// by the rules of docs/exporters/prometheusremotewrite_translation.md. Keeps
// its buffers from request to request; one thread at a time.
class OtlpTranslator {
 public:
  // Both must outlive the translator; `external` is sorted by name, its
  // values non-empty.
  OtlpTranslator(const TranslateOptions& options, const std::vector<LabelRef>& external)
      : options_(options), external_(external) {}

  Status Translate(std::string_view request, SeriesSink& sink, TranslateStats* stats);

 private:
  Status TranslateResourceMetrics(std::string_view rm);
  Status ParseResource(std::string_view resource);
  Status ParseScope(std::string_view scope);
  Status TranslateMetric(std::string_view metric);
  Status TranslateNumberPoint(std::string_view point);
  Status TranslateHistogramPoint(std::string_view point);
  Status TranslateSummaryPoint(std::string_view point);
  void EmitTargetInfo();

  void AddTranslationLabels(std::string_view extra_label);
  // Labels for the point whose attributes are in `attributes_`, plus the
  // translation's own (reserving `extra_label`), built into `labels_`.
  // False when the point was dropped (an attribute is not UTF-8).
  Result<bool> PointLabels(std::string_view extra_label);
  void BuildPointLabels();
  uint64_t Encode(std::string_view name, std::string_view extra, double value, int64_t ts_ms);
  void Emit(std::string_view name, std::string_view extra, double value, int64_t ts_ms);
  // Counts `n` under `reason` (and in dropped_points unless they are whole
  // metrics) and describes the first drop.
  void Drop(uint64_t TranslateStats::*reason, uint64_t n, std::string_view why, bool points = true);

  const TranslateOptions& options_;
  const std::vector<LabelRef>& external_;

  Arena point_arena_;                         // label text of the current data point
  Arena resource_arena_;                      // label text of the current resource
  std::string render_;                        // an attribute value or name being rendered
  std::string join_;                          // colliding values being joined
  std::vector<std::string_view> attributes_;  // KeyValues of the current point
  std::vector<std::string_view> quantiles_;   // ValueAtQuantile of the current point
  std::vector<Candidate> candidates_;
  std::vector<Candidate> resource_candidates_;
  std::vector<LabelRef> labels_;  // the current point's final label set
  PlaceholderIndexes placeholders_{};
  std::string series_;  // the TimeSeries being encoded
  std::vector<uint64_t> bucket_counts_;
  std::vector<double> bounds_;
  std::string name_;  // Prometheus names of the current metric
  std::string name_bucket_;
  std::string name_sum_;
  std::string name_count_;
  std::string unit_scratch_;
  std::string unit_word_;
  std::vector<uint64_t> target_info_hashes_;  // sent in this request

  // Per resource.
  std::string_view job_;
  std::string_view instance_;
  int64_t max_timestamp_ms_ = 0;
  bool resource_has_points_ = false;
  // Per scope.
  std::string_view scope_name_;
  std::string_view scope_version_;
  // Per metric, for messages.
  std::string_view metric_name_;

  SeriesSink* sink_ = nullptr;
  TranslateStats* stats_ = nullptr;
};

}  // namespace sluice::exporters::prw
