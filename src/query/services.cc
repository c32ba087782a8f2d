#include "query/services.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "base/strings.h"
#include "base/units.h"
#include "query/params.h"

namespace sluice::query {
namespace {

using Kind = Rollups::Kind;
constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kMaxWindow = 400LL * 86400 * kSecond;

// A service's or operation's totals over the window, and over each of its
// points.
struct Figures {
  Totals total;
  std::vector<Totals> points;
};

double Ratio(uint64_t part, uint64_t whole) {
  return whole == 0 ? std::nan("") : static_cast<double>(part) / static_cast<double>(whole);
}

void AppendSummary(std::string& out, const Totals& t, double seconds) {
  out += "\"calls\":" + std::to_string(t.calls) + ",\"errors\":" + std::to_string(t.errors) +
         ",\"rate\":";
  AppendJsonNumber(out, static_cast<double>(t.calls) / seconds);
  out += ",\"errorRatio\":";
  AppendJsonNumber(out, t.calls == 0 ? 0.0 : Ratio(t.errors, t.calls));
  for (auto [name, q] : {std::pair{"p50", 0.5}, std::pair{"p95", 0.95}, std::pair{"p99", 0.99}}) {
    out += ",\"";
    out += name;
    out += "\":";
    AppendJsonNumber(out, t.latency.Quantile(q));
  }
}

template <typename F>
void AppendArray(std::string& out, const char* name, const std::vector<Totals>& points, F value) {
  out += '"';
  out += name;
  out += "\":[";
  for (size_t i = 0; i < points.size(); ++i) {
    if (i > 0) out += ',';
    AppendJsonNumber(out, value(points[i]));
  }
  out += ']';
}

// The step of `points` points over the window, at least the rollups'.
int64_t StepOf(const WindowQuery& q, int64_t resolution, size_t points) {
  int64_t step = std::max<int64_t>(q.window_nanos / static_cast<int64_t>(points), resolution);
  return (step + resolution - 1) / resolution * resolution;
}

template <typename Key>
void Sort(std::vector<std::pair<Key, const Totals*>>& rows, WindowQuery::Sort sort) {
  auto value = [&](const Totals& t) {
    switch (sort) {
      case WindowQuery::Sort::kRate:
        return static_cast<double>(t.calls);
      case WindowQuery::Sort::kErrors:
        return t.calls == 0 ? 0.0 : Ratio(t.errors, t.calls);
      case WindowQuery::Sort::kP99: {
        double v = t.latency.Quantile(0.99);
        return std::isnan(v) ? -1.0 : v;
      }
      case WindowQuery::Sort::kName:
        break;
    }
    return 0.0;
  };
  if (sort == WindowQuery::Sort::kName) return;  // rows come in name order
  std::stable_sort(rows.begin(), rows.end(), [&](const auto& x, const auto& y) {
    return value(*x.second) > value(*y.second);
  });
}

// Per service: what it served (server and consumer spans), and all of its
// spans for services that serve none.
struct ServiceFigures {
  Figures served, all;
  const Figures& Chosen() const { return served.total.calls > 0 ? served : all; }
};

std::map<std::string, ServiceFigures> CollectServices(const Rollups& rollups, const WindowQuery& q,
                                                      size_t points, int64_t* step,
                                                      std::string_view only = {}) {
  std::map<std::string, ServiceFigures> services;
  const int64_t from = q.end_unix_nano - q.window_nanos;
  int64_t resolution = 0;
  std::vector<std::tuple<std::string, bool, int64_t, Totals>> cells;
  resolution = rollups.ForEach(from, q.end_unix_nano, q.scope,
                               [&](const Rollups::Series& s, int64_t start, const Totals& t) {
                                 if (s.kind != Kind::kService && s.kind != Kind::kServiceAll)
                                   return;
                                 if (!only.empty() && s.a != only) return;
                                 cells.emplace_back(s.a, s.kind == Kind::kService, start, t);
                               });
  *step = StepOf(q, resolution, points);
  const size_t n = static_cast<size_t>((q.window_nanos + *step - 1) / *step);
  for (auto& [name, served, start, t] : cells) {
    ServiceFigures& f = services[name];
    Figures& into = served ? f.served : f.all;
    if (into.points.empty()) into.points.resize(n);
    into.total.Merge(t);
    int64_t i = (start - from) / *step;
    if (i >= 0 && static_cast<size_t>(i) < n) into.points[static_cast<size_t>(i)].Merge(t);
  }
  for (auto& [name, f] : services) {
    if (f.served.points.empty()) f.served.points.resize(n);
    if (f.all.points.empty()) f.all.points.resize(n);
  }
  return services;
}

void AppendHeader(std::string& out, const WindowQuery& q, int64_t step) {
  out += "\"window\":" + std::to_string(q.window_nanos / kSecond) +
         ",\"step\":" + std::to_string(step / kSecond) + ",\"end\":\"" +
         std::to_string(q.end_unix_nano) + "\"";
}

}  // namespace

Result<WindowQuery> ParseWindowQuery(const std::vector<std::pair<std::string, std::string>>& params,
                                     int64_t now_unix_nano) {
  WindowQuery q;
  q.end_unix_nano = now_unix_nano;
  for (const auto& [name, value] : params) {
    if (name == "window") {
      Result<std::chrono::nanoseconds> d = ParseDuration(value);
      if (!d.ok() || d->count() < 10 * kSecond || d->count() > kMaxWindow) {
        return BadParam(name, "expected a duration from 10s to 400d, such as 15m or 1h");
      }
      q.window_nanos = d->count();
    } else if (name == "end") {
      if (!ParseUnixSeconds(value, &q.end_unix_nano))
        return BadParam(name, "expected Unix seconds");
    } else if (name == "sort") {
      if (value == "name") {
        q.sort = WindowQuery::Sort::kName;
      } else if (value == "rate") {
        q.sort = WindowQuery::Sort::kRate;
      } else if (value == "errors") {
        q.sort = WindowQuery::Sort::kErrors;
      } else if (value == "p99") {
        q.sort = WindowQuery::Sort::kP99;
      } else {
        return BadParam(name, "expected name, rate, errors or p99");
      }
    } else {
      return BadParam(name, "unknown parameter; known: window, end, sort");
    }
  }
  return q;
}

std::string RenderServices(const Rollups& rollups, const WindowQuery& q) {
  int64_t step = 0;
  std::map<std::string, ServiceFigures> services = CollectServices(rollups, q, 30, &step);
  std::vector<std::pair<std::string_view, const Totals*>> rows;
  for (const auto& [name, f] : services) rows.emplace_back(name, &f.Chosen().total);
  Sort(rows, q.sort);
  const double seconds = static_cast<double>(q.window_nanos) / kSecond;
  const double step_seconds = static_cast<double>(step) / kSecond;
  std::string out = "{";
  AppendHeader(out, q, step);
  out += ",\"services\":[";
  bool first = true;
  for (const auto& [name, total] : rows) {
    if (!first) out += ',';
    first = false;
    const Figures& f = services[std::string(name)].Chosen();
    out += "{\"name\":";
    AppendJsonString(out, name);
    out += ',';
    AppendSummary(out, *total, seconds);
    out += ",\"spark\":{";
    AppendArray(out, "rate", f.points,
                [&](const Totals& t) { return static_cast<double>(t.calls) / step_seconds; });
    out += ',';
    AppendArray(out, "errorRatio", f.points,
                [](const Totals& t) { return Ratio(t.errors, t.calls); });
    out += ',';
    AppendArray(out, "p99", f.points, [](const Totals& t) { return t.latency.Quantile(0.99); });
    out += "}}";
  }
  out += "]}";
  return out;
}

Result<std::string> RenderService(const Rollups& rollups, std::string_view service,
                                  const WindowQuery& q) {
  int64_t step = 0;
  std::map<std::string, ServiceFigures> services = CollectServices(rollups, q, 60, &step, service);
  auto found = services.find(std::string(service));
  if (found == services.end()) {
    return Status::NotFound("no calls of service " + std::string(service) + " in the window");
  }
  const Figures& f = found->second.Chosen();
  const int64_t from = q.end_unix_nano - q.window_nanos;
  std::map<std::pair<std::string, std::string>, Totals> operations;
  rollups.ForEach(from, q.end_unix_nano, q.scope,
                  [&](const Rollups::Series& s, int64_t, const Totals& t) {
                    if (s.kind == Kind::kOperation && s.a == service)
                      operations[{s.b, s.c}].Merge(t);
                  });
  std::vector<std::pair<const std::pair<std::string, std::string>*, const Totals*>> rows;
  for (const auto& [key, t] : operations) rows.emplace_back(&key, &t);
  Sort(rows, q.sort);

  const double seconds = static_cast<double>(q.window_nanos) / kSecond;
  const double step_seconds = static_cast<double>(step) / kSecond;
  std::string out = "{\"name\":";
  AppendJsonString(out, service);
  out += ',';
  AppendHeader(out, q, step);
  out += ",\"series\":{\"times\":[";
  for (size_t i = 0; i < f.points.size(); ++i) {
    if (i > 0) out += ',';
    out += '"' + std::to_string(from + static_cast<int64_t>(i) * step) + '"';
  }
  out += "],";
  AppendArray(out, "rate", f.points,
              [&](const Totals& t) { return static_cast<double>(t.calls) / step_seconds; });
  out += ',';
  AppendArray(out, "errorRatio", f.points,
              [](const Totals& t) { return Ratio(t.errors, t.calls); });
  for (auto [name, quantile] :
       {std::pair{"p50", 0.5}, std::pair{"p95", 0.95}, std::pair{"p99", 0.99}}) {
    out += ',';
    AppendArray(out, name, f.points, [&](const Totals& t) { return t.latency.Quantile(quantile); });
  }
  out += "},\"operations\":[";
  bool first = true;
  for (const auto& [key, t] : rows) {
    if (!first) out += ',';
    first = false;
    out += "{\"name\":";
    AppendJsonString(out, key->first);
    out += ",\"kind\":";
    AppendJsonString(out, key->second);
    out += ',';
    AppendSummary(out, *t, seconds);
    out += '}';
  }
  out += "]}";
  return out;
}

std::string RenderGraph(const Rollups& rollups, const WindowQuery& q) {
  const int64_t from = q.end_unix_nano - q.window_nanos;
  std::map<std::pair<std::string, std::string>, Totals> edges;
  std::map<std::pair<std::string, std::string>, std::string> types;
  rollups.ForEach(from, q.end_unix_nano, q.scope,
                  [&](const Rollups::Series& s, int64_t, const Totals& t) {
                    if (s.kind != Kind::kEdge) return;
                    edges[{s.a, s.b}].Merge(t);
                    if (!s.c.empty()) types[{s.a, s.b}] = s.c;
                  });
  std::set<std::string> nodes;
  for (const auto& [key, t] : edges) {
    nodes.insert(key.first);
    nodes.insert(key.second);
  }
  const double seconds = static_cast<double>(q.window_nanos) / kSecond;
  std::string out = "{\"window\":" + std::to_string(q.window_nanos / kSecond) + ",\"end\":\"" +
                    std::to_string(q.end_unix_nano) + "\",\"nodes\":[";
  bool first = true;
  for (const std::string& n : nodes) {
    if (!first) out += ',';
    first = false;
    out += "{\"id\":";
    AppendJsonString(out, n);
    out += rollups.HasService(q.scope, n) ? ",\"virtual\":false}" : ",\"virtual\":true}";
  }
  out += "],\"edges\":[";
  first = true;
  for (const auto& [key, t] : edges) {
    if (!first) out += ',';
    first = false;
    out += "{\"client\":";
    AppendJsonString(out, key.first);
    out += ",\"server\":";
    AppendJsonString(out, key.second);
    auto type = types.find(key);
    if (type != types.end()) {
      out += ",\"connectionType\":";
      AppendJsonString(out, type->second);
    }
    out += ",\"requests\":" + std::to_string(t.calls) + ",\"failed\":" + std::to_string(t.errors) +
           ",\"rate\":";
    AppendJsonNumber(out, static_cast<double>(t.calls) / seconds);
    out += ",\"failedRatio\":";
    AppendJsonNumber(out, t.calls == 0 ? 0.0 : Ratio(t.errors, t.calls));
    out += ",\"p50\":";
    AppendJsonNumber(out, t.latency.Quantile(0.5));
    out += ",\"p99\":";
    AppendJsonNumber(out, t.latency.Quantile(0.99));
    out += '}';
  }
  out += "]}";
  return out;
}

}  // namespace sluice::query
