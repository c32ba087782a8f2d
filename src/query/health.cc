#include "query/health.h"

#include <cmath>
#include <limits>

#include "base/strings.h"
#include "telemetry/metrics.h"

namespace sluice::query {
namespace {

std::string KeyOf(const telemetry::Sample& s) {
  std::string key = s.name + "{";
  for (const auto& [k, v] : s.labels) key += k + "=\"" + telemetry::EscapeLabelValue(v) + "\",";
  return key + "}";
}

void AppendNumber(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  out += buf;
}

void AppendSeriesHead(std::string& out, const telemetry::Sample& s) {
  out += "{\"name\":";
  AppendJsonString(out, s.name);
  out += ",\"labels\":{";
  for (size_t i = 0; i < s.labels.size(); ++i) {
    if (i > 0) out += ',';
    AppendJsonString(out, s.labels[i].first);
    out += ':';
    AppendJsonString(out, s.labels[i].second);
  }
  out += '}';
}

}  // namespace

const std::vector<std::pair<std::string, std::string>>& HealthHistory::Sections() {
  static const std::vector<std::pair<std::string, std::string>> kSections = {
      {"receivers", "sluice_receiver_"},
      {"log", "sluice_log_"},
      {"log", "sluice_state_"},
      {"exporters", "sluice_exporter_"},
      {"exporters", "sluice_dlq_"},
      {"connectors", "sluice_connector_"},
      {"processors", "sluice_processor_"},
      {"query", "sluice_query_"}};
  return kSections;
}

HealthHistory::HealthHistory(telemetry::Registry& registry, std::chrono::seconds interval,
                             size_t keep, size_t max_series)
    : registry_(registry),
      interval_(interval),
      keep_(keep),
      max_series_(max_series),
      times_(keep, 0) {}

void HealthHistory::MaybeSample(int64_t now) {
  MutexLock lock(mu_);
  const int64_t interval_ns = std::chrono::nanoseconds(interval_).count();
  if (samples_ > 0 && now - last_sample_ < interval_ns) return;
  last_sample_ = now;
  const size_t slot = samples_ % keep_;
  times_[slot] = now;
  for (auto& [key, series] : series_)
    series.values[slot] = std::numeric_limits<double>::quiet_NaN();
  for (const auto& [section, prefix] : Sections()) {
    for (telemetry::Sample& s : registry_.Samples(prefix)) {
      const std::string key = KeyOf(s);
      auto it = series_.find(key);
      if (it == series_.end()) {
        if (series_.size() >= max_series_) continue;
        it = series_
                 .emplace(key, Series{std::move(s),
                                      std::vector<double>(
                                          keep_, std::numeric_limits<double>::quiet_NaN())})
                 .first;
        it->second.values[slot] = it->second.sample.value;
        continue;
      }
      it->second.values[slot] = s.value;
    }
  }
  ++samples_;
}

std::string HealthHistory::Render(int64_t now) const {
  std::string out = "{\"now\":\"" + std::to_string(now) + "\"";
  std::string last_section;
  bool first_in_section = true;
  for (const auto& [section, prefix] : Sections()) {
    if (section != last_section) {
      if (!last_section.empty()) out += ']';
      out += ",\"" + section + "\":[";
      last_section = section;
      first_in_section = true;
    }
    for (const telemetry::Sample& s : registry_.Samples(prefix)) {
      if (!first_in_section) out += ',';
      first_in_section = false;
      AppendSeriesHead(out, s);
      out += ",\"value\":";
      AppendNumber(out, s.value);
      out += '}';
    }
  }
  out += ']';
  MutexLock lock(mu_);
  const size_t n = static_cast<size_t>(std::min<uint64_t>(samples_, keep_));
  const size_t oldest = samples_ > keep_ ? samples_ % keep_ : 0;
  out += ",\"history\":{\"intervalSeconds\":" + std::to_string(interval_.count()) + ",\"times\":[";
  for (size_t i = 0; i < n; ++i) {
    if (i > 0) out += ',';
    out += '"' + std::to_string(times_[(oldest + i) % keep_]) + '"';
  }
  out += "],\"series\":[";
  bool first = true;
  for (const auto& [key, series] : series_) {
    if (!first) out += ',';
    first = false;
    AppendSeriesHead(out, series.sample);
    out += ",\"values\":[";
    for (size_t i = 0; i < n; ++i) {
      if (i > 0) out += ',';
      AppendNumber(out, series.values[(oldest + i) % keep_]);
    }
    out += "]}";
  }
  out += "]}}";
  return out;
}

}  // namespace sluice::query
