#include "telemetry/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "base/check.h"

namespace sluice::telemetry {
namespace {

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    return std::to_string(static_cast<int64_t>(v));
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

void AppendLabels(std::string& out, const std::vector<std::string>& names,
                  const std::vector<std::string>& values, const char* extra_name = nullptr,
                  const std::string& extra_value = {}) {
  if (names.empty() && extra_name == nullptr) return;
  out += '{';
  bool first = true;
  for (size_t i = 0; i < names.size(); ++i) {
    if (!first) out += ',';
    first = false;
    out += names[i];
    out += "=\"";
    out += EscapeLabelValue(values[i]);
    out += '"';
  }
  if (extra_name != nullptr) {
    if (!first) out += ',';
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  out += '}';
}

const char* TypeName(MetricType t) {
  switch (t) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

void AppendHeader(std::string& out, const std::string& name, const std::string& help,
                  MetricType type) {
  out += "# HELP ";
  out += name;
  out += ' ';
  for (char c : help) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += TypeName(type);
  out += '\n';
}

void RenderChild(std::string& out, const std::string& name, const std::vector<std::string>& names,
                 const std::vector<std::string>& values, const Counter& c) {
  out += name;
  AppendLabels(out, names, values);
  out += ' ';
  out += std::to_string(c.Value());
  out += '\n';
}

void RenderChild(std::string& out, const std::string& name, const std::vector<std::string>& names,
                 const std::vector<std::string>& values, const Gauge& g) {
  out += name;
  AppendLabels(out, names, values);
  out += ' ';
  out += FormatValue(g.Value());
  out += '\n';
}

void RenderChild(std::string& out, const std::string& name, const std::vector<std::string>& names,
                 const std::vector<std::string>& values, const Histogram& h) {
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= h.bounds().size(); ++i) {
    cumulative += h.BucketCount(i);
    std::string le = i < h.bounds().size() ? FormatValue(h.bounds()[i]) : "+Inf";
    out += name;
    out += "_bucket";
    AppendLabels(out, names, values, "le", le);
    out += ' ';
    out += std::to_string(cumulative);
    out += '\n';
  }
  out += name;
  out += "_sum";
  AppendLabels(out, names, values);
  out += ' ';
  out += FormatValue(h.Sum());
  out += '\n';
  out += name;
  out += "_count";
  AppendLabels(out, names, values);
  out += ' ';
  out += std::to_string(cumulative);
  out += '\n';
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  SLUICE_CHECK(std::is_sorted(bounds_.begin(), bounds_.end()));
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0);
}

void Histogram::Observe(double v) {
  size_t i =
      static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

std::vector<double> LatencyBuckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
}

template <class M>
M& Family<M>::With(const std::vector<std::string>& label_values) {
  SLUICE_CHECK(label_values.size() == label_names_.size());
  std::lock_guard<std::mutex> lock(mu_);
  auto it = children_.find(label_values);
  if (it != children_.end()) return *it->second;
  std::unique_ptr<M> child;
  if constexpr (std::is_same_v<M, Histogram>) {
    child = std::make_unique<M>(bounds_);
  } else {
    child = std::make_unique<M>();
  }
  M& ref = *child;
  children_.emplace(label_values, std::move(child));
  return ref;
}

template <class M>
void Family<M>::Render(std::string& out) const {
  AppendHeader(out, name_, help_, type_);
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [values, child] : children_)
    RenderChild(out, name_, label_names_, values, *child);
}

template <class M>
void Family<M>::Collect(std::vector<Sample>* out) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [values, child] : children_) {
    Sample sample;
    sample.name = name_;
    for (size_t i = 0; i < values.size(); ++i)
      sample.labels.emplace_back(label_names_[i], values[i]);
    if constexpr (std::is_same_v<M, Histogram>) {
      sample.name += "_count";
      sample.value = static_cast<double>(child->Count());
    } else {
      sample.value = static_cast<double>(child->Value());
    }
    out->push_back(std::move(sample));
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

template <class M>
Family<M>& Registry::Add(const std::string& name, const std::string& help,
                         std::vector<std::string> label_names, MetricType type,
                         std::vector<double> bounds) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = families_.find(name);
  if (it != families_.end()) {
    // Invariant: one name, one type, one label set.
    SLUICE_CHECK(it->second->type() == type);
    SLUICE_CHECK(it->second->label_names() == label_names);
    return static_cast<Family<M>&>(*it->second);
  }
  auto family =
      std::make_unique<Family<M>>(name, help, std::move(label_names), type, std::move(bounds));
  Family<M>& ref = *family;
  families_.emplace(name, std::move(family));
  return ref;
}

CounterFamily& Registry::AddCounter(const std::string& name, const std::string& help,
                                    std::vector<std::string> label_names) {
  return Add<Counter>(name, help, std::move(label_names), MetricType::kCounter, {});
}

GaugeFamily& Registry::AddGauge(const std::string& name, const std::string& help,
                                std::vector<std::string> label_names) {
  return Add<Gauge>(name, help, std::move(label_names), MetricType::kGauge, {});
}

HistogramFamily& Registry::AddHistogram(const std::string& name, const std::string& help,
                                        std::vector<std::string> label_names,
                                        std::vector<double> bounds) {
  return Add<Histogram>(name, help, std::move(label_names), MetricType::kHistogram,
                        std::move(bounds));
}

std::string Registry::Render() const {
  std::string out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [name, family] : families_) family->Render(out);
  return out;
}

std::vector<Sample> Registry::Samples(std::string_view prefix) const {
  std::vector<Sample> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = families_.lower_bound(std::string(prefix));
       it != families_.end() && it->first.starts_with(prefix); ++it) {
    it->second->Collect(&out);
  }
  return out;
}

std::string EscapeLabelValue(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  AppendEscapedLabelValue(out, v);
  return out;
}

void AppendEscapedLabelValue(std::string& out, std::string_view v) {
  for (char c : v) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out.push_back(c);
    }
  }
}

}  // namespace sluice::telemetry
