#include "loadgen/loadgen.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <array>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <queue>
#include <random>
#include <thread>
#include <vector>

#include "net/endpoint.h"
#include "wire/proto_reader.h"
#include "wire/proto_writer.h"

namespace sluice::loadgen {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using SteadyClock = std::chrono::steady_clock;

enum class Kind { kTraces, kLogs, kMetrics };

const char* HttpPath(Kind k) {
  return k == Kind::kTraces ? "/v1/traces" : k == Kind::kLogs ? "/v1/logs" : "/v1/metrics";
}
const char* GrpcMethod(Kind k) {
  return k == Kind::kTraces ? "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
         : k == Kind::kLogs ? "/opentelemetry.proto.collector.logs.v1.LogsService/Export"
                            : "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";
}

struct Request {
  Kind kind;
  std::string body;
  uint64_t items;
  std::map<std::string, EdgeCount> edges = {};  // a topology request's calls
};

// Latency buckets: geometric from 10 µs, ×1.15 per bucket, to ~50 s.
class LatencyHistogram {
 public:
  static constexpr int kBuckets = 110;
  void Observe(double ms) {
    int i = ms <= 0.01 ? 0 : static_cast<int>(std::log(ms / 0.01) / std::log(1.15)) + 1;
    buckets_[std::min(i, kBuckets - 1)].fetch_add(1, std::memory_order_relaxed);
  }
  double Quantile(double q) const {
    uint64_t total = 0;
    for (const auto& b : buckets_) total += b.load();
    if (total == 0) return 0;
    uint64_t rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(total)));
    uint64_t seen = 0;
    for (int i = 0; i < kBuckets; ++i) {
      seen += buckets_[i].load();
      if (seen >= rank) return 0.01 * std::pow(1.15, i);  // the bucket's upper bound
    }
    return 0.01 * std::pow(1.15, kBuckets);
  }

 private:
  std::atomic<uint64_t> buckets_[kBuckets]{};
};

struct Stats {
  std::atomic<uint64_t> requests{0}, sent{0}, accepted{0}, refused{0}, retried{0}, failed{0};
  LatencyHistogram latency;
  std::mutex mu;
  std::map<std::string, EdgeCount> edges;  // guarded by mu
};

// n random bytes (8 or 16), eight per draw, never all zero.
std::string RandomId(std::mt19937_64& rng, size_t n) {
  std::string id(n, '\0');
  for (size_t at = 0; at < n; at += 8) {
    uint64_t v = rng();
    std::memcpy(id.data() + at, &v, std::min<size_t>(8, n - at));
  }
  id[0] |= 1;
  return id;
}

// A KeyValue with a string value at `field` of the message being written.
void Attribute(wire::ProtoWriter& w, uint32_t field, std::string_view key, std::string_view value) {
  size_t kv = w.BeginMessage(field);
  w.Bytes(1, key);
  size_t v = w.BeginMessage(2);
  w.Bytes(1, value);
  w.EndMessage(v);
  w.EndMessage(kv);
}

// One simulated service: its own random stream, span names and attributes.
class Service {
 public:
  Service(int index, uint64_t seed, int operations, double name_churn)
      : name_("service-" + std::to_string(index)),
        rng_(seed * 1000003 + static_cast<uint64_t>(index)),
        churn_per_million_(static_cast<uint64_t>(name_churn * 1e6)) {
    static const char* kRoutes[] = {"/api/orders", "/api/users/{id}", "/api/cart",
                                    "/health",     "/api/search",     "/api/payments"};
    if (operations > 0) {
      for (int i = 0; i < operations; ++i) routes_.push_back("/api/v1/op-" + std::to_string(i));
    } else {
      for (int i = 0; i < 3; ++i) routes_.push_back(kRoutes[rng_() % 6]);
    }
  }

  // A trace export request with about `spans` spans (whole traces).
  Request Traces(uint64_t spans, int64_t now_ns) {
    uint64_t made = 0;
    std::string body = Envelope([&](wire::ProtoWriter& w) {
      while (made < spans) {
        std::string trace_id = Id(16);
        std::string root_id = Id(8);
        int children = static_cast<int>(rng_() % 5);
        int64_t start = now_ns - static_cast<int64_t>(rng_() % 1'000'000'000);
        int64_t root_len = 1'000'000 + static_cast<int64_t>(rng_() % 50'000'000);
        bool error = rng_() % 100 < 5;
        std::string churned;
        if (churn_per_million_ > 0 && rng_() % 1'000'000 < churn_per_million_) {
          churned = "/api/v1/item/" + std::to_string(++churned_names_);
        }
        const std::string& route = churned.empty() ? routes_[rng_() % routes_.size()] : churned;
        Span(w, trace_id, root_id, "", "GET " + route, 2, start, start + root_len, route, error);
        ++made;
        for (int c = 0; c < children && made < spans; ++c, ++made) {
          int64_t cs = start + static_cast<int64_t>(rng_() % static_cast<uint64_t>(root_len / 2));
          Span(w, trace_id, Id(8), root_id, c % 2 ? "SELECT orders" : "cache.get", 3, cs,
               cs + root_len / 4, route, false);
        }
      }
    });
    return {Kind::kTraces, std::move(body), made};
  }

  Request Logs(uint64_t n, int64_t now_ns) {
    std::string body = Envelope([&](wire::ProtoWriter& w) {
      for (uint64_t i = 0; i < n; ++i) {
        size_t rec = w.BeginMessage(2);
        w.Fixed64(1, static_cast<uint64_t>(now_ns));
        bool error = rng_() % 100 < 5;
        w.Varint(2, error ? 17 : 9);
        w.Bytes(3, error ? "ERROR" : "INFO");
        size_t body_msg = w.BeginMessage(5);
        w.Bytes(1, error ? "request failed" : "request served");
        w.EndMessage(body_msg);
        Attribute(w, 6, "http.route", routes_[rng_() % routes_.size()]);
        w.Bytes(9, Id(16));
        w.Bytes(10, Id(8));
        w.EndMessage(rec);
      }
    });
    return {Kind::kLogs, std::move(body), n};
  }

  Request Metrics(uint64_t points, int64_t now_ns) {
    std::string body = Envelope([&](wire::ProtoWriter& w) {
      size_t metric = w.BeginMessage(2);
      w.Bytes(1, "http.server.request.count");
      size_t sum = w.BeginMessage(7);
      for (uint64_t i = 0; i < points; ++i) {
        size_t p = w.BeginMessage(1);
        w.Fixed64(3, static_cast<uint64_t>(now_ns));
        w.Double(4, static_cast<double>(++counter_));
        Attribute(w, 7, "http.route", routes_[i % routes_.size()]);
        w.EndMessage(p);
      }
      w.Varint(2, 2);  // cumulative
      w.Varint(3, 1);  // monotonic
      w.EndMessage(sum);
      w.EndMessage(metric);
    });
    return {Kind::kMetrics, std::move(body), points};
  }

 private:
  // An export request: resource_* { resource, scope_* { scope, <fill> } }.
  // The three signals share this layout (field 1 and 2 at both levels).
  template <class Fill>
  std::string Envelope(Fill fill) {
    std::string body;
    wire::ProtoWriter w(&body);
    size_t outer = w.BeginMessage(1);
    Resource(w);
    size_t inner = w.BeginMessage(2);
    Scope(w);
    fill(w);
    w.EndMessage(inner);
    w.EndMessage(outer);
    return body;
  }

  std::string Id(size_t n) { return RandomId(rng_, n); }
  void Resource(wire::ProtoWriter& w) {
    size_t r = w.BeginMessage(1);
    Attribute(w, 1, "service.name", name_);
    Attribute(w, 1, "deployment.environment", "loadgen");
    w.EndMessage(r);
  }
  static void Scope(wire::ProtoWriter& w) {
    size_t s = w.BeginMessage(1);
    w.Bytes(1, "sluice.loadgen");
    w.EndMessage(s);
  }
  void Span(wire::ProtoWriter& w, const std::string& trace_id, const std::string& span_id,
            const std::string& parent, const std::string& name, int kind, int64_t start,
            int64_t end, const std::string& route, bool error) {
    size_t s = w.BeginMessage(2);
    w.Bytes(1, trace_id);
    w.Bytes(2, span_id);
    if (!parent.empty()) w.Bytes(4, parent);
    w.Bytes(5, name);
    w.Varint(6, static_cast<uint64_t>(kind));
    w.Fixed64(7, static_cast<uint64_t>(start));
    w.Fixed64(8, static_cast<uint64_t>(end));
    Attribute(w, 9, "http.route", route);
    Attribute(w, 9, "http.request.method", "GET");
    Attribute(w, 9, "http.response.status_code", error ? "500" : "200");
    if (error) {
      size_t st = w.BeginMessage(15);
      w.Bytes(2, "internal error");
      w.Varint(3, 2);
      w.EndMessage(st);
    }
    w.EndMessage(s);
  }

  std::string name_;
  std::mt19937_64 rng_;
  std::vector<std::string> routes_;
  uint64_t churn_per_million_ = 0;
  uint64_t churned_names_ = 0;
  uint64_t counter_ = 0;
};

// Whole traces through the "shop" topology, one request per batch with a
// resource per service.
class Topology {
 public:
  // `logs`: every span also logs a line (an error line when it fails),
  // with its trace and span ids.
  Topology(uint64_t seed, bool logs) : rng_(seed * 7919 + 17), logs_(logs) {}

  // `traces` whole traces as one request, and their log lines as another.
  void Make(uint64_t traces, int64_t now_ns, std::deque<Request>* out) {
    std::map<std::string, std::string> spans;  // encoded spans per service
    std::map<std::string, std::string> records;
    records_ = logs_ ? &records : nullptr;
    log_items_ = 0;
    Request req{Kind::kTraces, {}, 0};
    for (uint64_t t = 0; t < traces; ++t) Trace(now_ns, &spans, &req);
    Wrap(spans, &req.body);
    out->push_back(std::move(req));
    if (logs_) {
      Request logs{Kind::kLogs, {}, log_items_};
      Wrap(records, &logs.body);
      out->push_back(std::move(logs));
    }
  }

 private:
  static constexpr int kServer = 2, kClient = 3, kProducer = 4, kConsumer = 5;

  // ResourceSpans and ResourceLogs, and their scopes, number their fields
  // alike: a resource per service around the encoded spans or records.
  static void Wrap(const std::map<std::string, std::string>& leaves, std::string* body) {
    wire::ProtoWriter w(body);
    for (const auto& [service, encoded] : leaves) {
      size_t rs = w.BeginMessage(1);
      size_t r = w.BeginMessage(1);
      Attribute(w, 1, "service.name", service);
      w.EndMessage(r);
      size_t ss = w.BeginMessage(2);
      size_t scope = w.BeginMessage(1);
      w.Bytes(1, "sluice.loadgen.topology");
      w.EndMessage(scope);
      *body += encoded;
      w.EndMessage(ss);
      w.EndMessage(rs);
    }
  }

  bool Fails(const char* edge) {
    double rate = 0;
    for (const TopologyEdge& e : TopologyEdges()) {
      if (std::string_view(e.edge) == edge) rate = e.error_rate;
    }
    return static_cast<double>(rng_() % 1'000'000) < rate * 1'000'000;
  }

  std::string Id(size_t n) { return RandomId(rng_, n); }

  struct SpanSpec {
    std::string service, name, id, parent;
    int kind;
    int64_t start, end;
    bool error;
    std::vector<std::pair<std::string, std::string>> attrs;
  };

  void Add(std::map<std::string, std::string>* spans, const std::string& trace, const SpanSpec& s) {
    wire::ProtoWriter w(&(*spans)[s.service]);
    size_t m = w.BeginMessage(2);
    w.Bytes(1, trace);
    w.Bytes(2, s.id);
    if (!s.parent.empty()) w.Bytes(4, s.parent);
    w.Bytes(5, s.name);
    w.Varint(6, static_cast<uint64_t>(s.kind));
    w.Fixed64(7, static_cast<uint64_t>(s.start));
    w.Fixed64(8, static_cast<uint64_t>(s.end));
    for (const auto& [k, v] : s.attrs) Attribute(w, 9, k, v);
    if (s.error) {
      size_t st = w.BeginMessage(15);
      w.Bytes(2, "call failed");
      w.Varint(3, 2);
      w.EndMessage(st);
    }
    w.EndMessage(m);
    if (records_ != nullptr) Log(trace, s);
  }

  // A LogRecord for span `s`: time = 1, severity_number = 2, severity_text =
  // 3, body = 5, attributes = 6, trace_id = 9, span_id = 10.
  void Log(const std::string& trace, const SpanSpec& s) {
    wire::ProtoWriter w(&(*records_)[s.service]);
    size_t m = w.BeginMessage(2);
    w.Fixed64(1, static_cast<uint64_t>(s.end));
    w.Varint(2, s.error ? 17 : 9);
    w.Bytes(3, s.error ? "ERROR" : "INFO");
    const int64_t ms = (s.end - s.start) / 1'000'000;
    std::string body = s.error ? s.name + " failed: call failed"
                               : s.name + " done in " + std::to_string(ms) + " ms";
    size_t b = w.BeginMessage(5);
    w.Bytes(1, body);
    w.EndMessage(b);
    Attribute(w, 6, "span.name", s.name);
    w.Bytes(9, trace);
    w.Bytes(10, s.id);
    w.EndMessage(m);
    ++log_items_;
  }

  // One call: a client span in `from`, and a server span in `to` unless the
  // peer is uninstrumented (to_attrs names it on the client span).
  void Call(std::map<std::string, std::string>* spans, Request* req, const std::string& trace,
            const std::string& parent, const std::string& from, const std::string& to,
            const std::string& edge_to, const std::string& name, int64_t start, int64_t len,
            int client_kind, int server_kind,
            std::vector<std::pair<std::string, std::string>> client_attrs, bool instrumented,
            std::string* server_id) {
    std::string edge = from + "->" + edge_to;
    bool error = Fails(edge.c_str());
    std::string client_id = Id(8);
    Add(spans, trace,
        {from, name, client_id, parent, client_kind, start, start + len, error, client_attrs});
    ++req->items;
    if (instrumented) {
      *server_id = Id(8);
      Add(spans, trace,
          {to,
           name,
           *server_id,
           client_id,
           server_kind,
           start + len / 10,
           start + len - len / 10,
           error,
           {}});
      ++req->items;
    }
    auto& c = req->edges[edge];
    ++c.calls;
    c.errors += error ? 1 : 0;
  }

  void Trace(int64_t now_ns, std::map<std::string, std::string>* spans, Request* req) {
    std::string trace = Id(16);
    int64_t start = now_ns - static_cast<int64_t>(rng_() % 1'000'000'000);
    int64_t total = 20'000'000 + static_cast<int64_t>(rng_() % 80'000'000);
    // user -> frontend: the root server span.
    std::string root = Id(8);
    bool root_error = Fails("user->frontend");
    Add(spans, trace,
        {"frontend", "GET /checkout", root, "", kServer, start, start + total, root_error, {}});
    ++req->items;
    auto& u = req->edges["user->frontend"];
    ++u.calls;
    u.errors += root_error ? 1 : 0;
    std::string checkout, payments, unused;
    Call(spans, req, trace, root, "frontend", "checkout", "checkout", "POST /checkout",
         start + total / 10, total / 2, kClient, kServer, {}, true, &checkout);
    Call(spans, req, trace, root, "frontend", "recommendation", "recommendation",
         "GET /recommendations", start + total / 20, total / 5, kClient, kServer,
         {{"peer.service", "recommendation"}}, false, &unused);
    int64_t cs = start + total / 10 + total / 20;
    Call(spans, req, trace, checkout, "checkout", "payments", "payments", "POST /charge", cs,
         total / 4, kClient, kServer, {}, true, &payments);
    Call(spans, req, trace, checkout, "checkout", "postgres", "cart", "SELECT cart", cs + total / 4,
         total / 20, kClient, kServer, {{"db.system", "postgresql"}, {"db.name", "cart"}}, false,
         &unused);
    Call(spans, req, trace, payments, "payments", "notifier", "notifier", "payment.completed",
         cs + total / 8, total / 20, kProducer, kConsumer, {{"messaging.system", "kafka"}}, true,
         &unused);
  }

  std::mt19937_64 rng_;
  const bool logs_;
  std::map<std::string, std::string>* records_ = nullptr;  // while making, with logs
  uint64_t log_items_ = 0;
};

// Items rejected according to an Export*ServiceResponse's partial_success.
uint64_t RejectedIn(std::string_view response) {
  wire::ProtoReader r(response);
  while (r.Next()) {
    if (r.field() != 1 || !r.Is(wire::WireType::kLengthDelimited)) continue;
    wire::ProtoReader p(r.bytes());
    while (p.Next()) {
      if (p.field() == 1 && p.Is(wire::WireType::kVarint)) return p.varint();
    }
  }
  return 0;
}

// When each service is due, and what it sends then: every service is due
// once per flush_interval, starting at its place in the ramp. Requests are
// made only when a connection is free to send them, so the generator never
// runs ahead of the senders.
class Schedule {
 public:
  Schedule(const Options& o, SteadyClock::time_point start, const std::atomic<bool>& stop)
      : o_(o),
        stop_(stop),
        end_(start + std::chrono::duration_cast<SteadyClock::duration>(o.duration)),
        interval_s_(std::chrono::duration<double>(o.flush_interval).count()) {
    if (!o.topology.empty()) {
      topology_ = std::make_unique<Topology>(o.seed, o.logs_per_second > 0);
      due_.push({start, 0});
      carry_.push_back({0, 0, 0});
      return;
    }
    services_.reserve(static_cast<size_t>(o.services));
    for (int i = 0; i < o.services; ++i) {
      services_.emplace_back(i, o.seed, o.operations, o.name_churn);
      due_.push({start + std::chrono::duration_cast<SteadyClock::duration>(o.ramp) * i / o.services,
                 static_cast<size_t>(i)});
      carry_.push_back({0, 0, 0});
    }
  }

  // Past the duration, or stopped: nothing more is made.
  bool Over(SteadyClock::time_point now) const { return stop_.load() || now >= end_; }

  // The next request due by `now`. When there is none, false, and *wake is
  // when the next one is due (the end if that comes first).
  bool Next(SteadyClock::time_point now, Request* out, SteadyClock::time_point* wake) {
    while (ready_.empty()) {
      if (Over(now)) {
        *wake = end_;
        return false;
      }
      Due next = due_.top();
      if (next.at > now) {
        *wake = std::min(next.at, end_);
        return false;
      }
      due_.pop();
      Make(next.service);
      next.at += std::chrono::duration_cast<SteadyClock::duration>(o_.flush_interval);
      due_.push(next);
    }
    *out = std::move(ready_.front());
    ready_.pop_front();
    return true;
  }

 private:
  void Make(size_t i) {
    int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    auto take = [&](double rate, double& carry) {
      carry += rate * interval_s_;
      auto n = static_cast<uint64_t>(carry);
      carry -= static_cast<double>(n);
      return n;
    };
    auto& c = carry_[i];
    if (topology_) {
      if (uint64_t n = take(o_.spans_per_second, c[0]); n > 0) topology_->Make(n, now_ns, &ready_);
      return;
    }
    if (uint64_t n = take(o_.spans_per_second, c[0]); n > 0) {
      ready_.push_back(services_[i].Traces(n, now_ns));
    }
    if (uint64_t n = take(o_.logs_per_second, c[1]); n > 0) {
      ready_.push_back(services_[i].Logs(n, now_ns));
    }
    if (uint64_t n = take(o_.metrics_per_second, c[2]); n > 0) {
      ready_.push_back(services_[i].Metrics(n, now_ns));
    }
  }

  const Options& o_;
  const std::atomic<bool>& stop_;
  const SteadyClock::time_point end_;
  const double interval_s_;
  struct Due {
    SteadyClock::time_point at;
    size_t service;
    bool operator>(const Due& o) const { return at > o.at; }
  };
  std::vector<Service> services_;
  std::unique_ptr<Topology> topology_;  // set with a topology: it makes every request
  std::priority_queue<Due, std::vector<Due>, std::greater<Due>> due_;  // soonest first
  std::vector<std::array<double, 3>> carry_;  // fractional items owed: spans, logs, points
  std::deque<Request> ready_;                 // made, not yet taken (at most three)
};

// Result of one attempt: accepted (with rejected count), retry later, or refused.
struct Attempt {
  enum Outcome { kAccepted, kRetry, kRefused, kTransportError } outcome;
  uint64_t rejected = 0;
  std::chrono::milliseconds retry_after{0};
};

// One request on its way: its attempts so far and the backoff.
struct InFlight {
  Request request;
  int attempt = 0;
  std::chrono::milliseconds backoff{100};
  SteadyClock::time_point sent;
};

// Counts an attempt's outcome. Returns the wait before the next attempt, or
// nullopt when the request is settled.
std::optional<std::chrono::milliseconds> Settle(InFlight& f, const Attempt& a, Stats& stats,
                                                int max_retries) {
  stats.latency.Observe(
      std::chrono::duration<double, std::milli>(SteadyClock::now() - f.sent).count());
  uint64_t items = f.request.items;
  if (a.outcome == Attempt::kAccepted) {
    stats.accepted.fetch_add(items - std::min(items, a.rejected), std::memory_order_relaxed);
    stats.refused.fetch_add(std::min(items, a.rejected), std::memory_order_relaxed);
    if (a.rejected == 0 && !f.request.edges.empty()) {
      std::lock_guard<std::mutex> lock(stats.mu);
      for (const auto& [edge, c] : f.request.edges) {
        stats.edges[edge].calls += c.calls;
        stats.edges[edge].errors += c.errors;
      }
    }
    return std::nullopt;
  }
  if (a.outcome == Attempt::kRefused) {
    stats.refused.fetch_add(items, std::memory_order_relaxed);
    return std::nullopt;
  }
  if (f.attempt >= max_retries) {
    if (a.outcome == Attempt::kRetry) {
      stats.refused.fetch_add(items, std::memory_order_relaxed);
    } else {
      stats.failed.fetch_add(1, std::memory_order_relaxed);
    }
    return std::nullopt;
  }
  ++f.attempt;
  stats.retried.fetch_add(1, std::memory_order_relaxed);
  auto wait = a.retry_after.count() > 0 ? a.retry_after : f.backoff;
  f.backoff = std::min(f.backoff * 2, std::chrono::milliseconds(5000));
  return std::min(wait, std::chrono::milliseconds(5000));
}

void CountNew(const Request& r, Stats& stats) {
  stats.requests.fetch_add(1, std::memory_order_relaxed);
  stats.sent.fetch_add(r.items, std::memory_order_relaxed);
}

// The longest a parked sender sleeps before looking at the stop flag again.
constexpr auto kStopCheck = std::chrono::milliseconds(100);

// Sends over `connections` keep-alive HTTP/1.1 connections from one thread:
// each connection takes the next due request when its previous one is
// settled, so nothing waits in a queue and no thread hands work to another.
class HttpDriver {
 public:
  HttpDriver(const Options& o, Schedule& schedule, Stats& stats, std::string host, std::string port)
      : o_(o),
        schedule_(schedule),
        stats_(stats),
        host_(std::move(host)),
        port_(std::move(port)),
        wake_(io_) {}

  Status Run() {
    asio::ip::tcp::resolver resolver(io_);
    beast::error_code ec;
    targets_ = resolver.resolve(host_, port_, ec);
    if (ec) return Status::Unavailable("cannot resolve " + host_ + ": " + ec.message());
    for (int i = 0; i < o_.connections; ++i) {
      conns_.push_back(std::make_unique<Conn>(io_));
      Pump(*conns_.back());
    }
    io_.run();
    return Status::Ok();
  }

 private:
  struct Conn {
    explicit Conn(asio::io_context& io) : stream(io), timer(io) {}
    beast::tcp_stream stream;
    bool connected = false;
    beast::flat_buffer buffer;
    // The body goes out from the in-flight request, not a copy.
    http::request<http::span_body<const char>> req;
    http::response<http::string_body> res;
    asio::steady_timer timer;  // retry backoff
    std::optional<InFlight> current;
    bool parked = false;  // waiting for a request to fall due
  };

  // Sends the connection's next request, or parks it until one is due.
  void Pump(Conn& c) {
    if (!c.current) {
      Request r;
      SteadyClock::time_point wake;
      if (!schedule_.Next(SteadyClock::now(), &r, &wake)) {
        if (schedule_.Over(SteadyClock::now())) return Close(c);
        c.parked = true;
        Arm(wake);
        return;
      }
      CountNew(r, stats_);
      c.current.emplace();
      c.current->request = std::move(r);
    }
    // An attempt's latency includes connecting for it.
    c.current->sent = SteadyClock::now();
    if (!c.connected) return Connect(c);
    Send(c);
  }

  // Wakes parked connections at `when` (or sooner, to see a stop).
  void Arm(SteadyClock::time_point when) {
    when = std::min(when, SteadyClock::now() + kStopCheck);
    if (armed_ && wake_.expiry() <= when) return;
    armed_ = true;
    wake_.expires_at(when);
    wake_.async_wait([this](beast::error_code ec) {
      if (ec == asio::error::operation_aborted) return;  // re-armed meanwhile
      armed_ = false;
      if (ec) return;
      for (auto& c : conns_) {
        if (c->parked) {
          c->parked = false;
          Pump(*c);
        }
      }
    });
  }

  void Connect(Conn& c) {
    c.stream.expires_after(std::chrono::seconds(10));
    c.stream.async_connect(targets_, [this, &c](beast::error_code ec, const auto&) {
      if (ec) return Failed(c);
      c.connected = true;
      beast::error_code ignored;
      c.stream.socket().set_option(asio::ip::tcp::no_delay(true), ignored);
      Send(c);
    });
  }

  void Send(Conn& c) {
    const Request& r = c.current->request;
    c.req = {};
    c.req.method(http::verb::post);
    c.req.target(HttpPath(r.kind));
    c.req.version(11);
    c.req.set(http::field::host, host_);
    c.req.set(http::field::content_type, "application/x-protobuf");
    c.req.keep_alive(true);
    c.req.body() = beast::span<const char>(r.body.data(), r.body.size());
    c.req.prepare_payload();
    c.stream.expires_after(std::chrono::seconds(30));
    http::async_write(c.stream, c.req, [this, &c](beast::error_code ec, size_t) {
      if (ec) return Failed(c);
      c.res = {};
      http::async_read(c.stream, c.buffer, c.res, [this, &c](beast::error_code ec, size_t) {
        if (ec) return Failed(c);
        if (!c.res.keep_alive()) Disconnect(c);
        Done(c, Classify(c.res));
      });
    });
  }

  static Attempt Classify(const http::response<http::string_body>& res) {
    int status = res.result_int();
    if (status == 200) return {Attempt::kAccepted, RejectedIn(res.body())};
    if (status == 429 || status == 502 || status == 503 || status == 504) {
      int after = 0;
      auto it = res.find(http::field::retry_after);
      if (it != res.end()) after = std::atoi(std::string(it->value()).c_str());
      return {Attempt::kRetry, 0, std::chrono::milliseconds(after * 1000)};
    }
    return {Attempt::kRefused};
  }

  void Failed(Conn& c) {
    Disconnect(c);
    Done(c, {Attempt::kTransportError});
  }

  void Done(Conn& c, const Attempt& a) {
    std::optional<std::chrono::milliseconds> wait = Settle(*c.current, a, stats_, o_.max_retries);
    if (!wait) {
      c.current.reset();
      return Pump(c);
    }
    c.timer.expires_after(*wait);
    c.timer.async_wait([this, &c](beast::error_code) { Pump(c); });
  }

  void Disconnect(Conn& c) {
    beast::error_code ignored;
    c.stream.socket().close(ignored);
    c.connected = false;
    c.buffer.clear();
  }

  void Close(Conn& c) {
    Disconnect(c);
    c.parked = false;
    // The last connection to finish stops the wake-up timer, so run() returns.
    for (auto& other : conns_) {
      if (other->current || other->connected || other->parked) return;
    }
    wake_.cancel();
  }

  const Options& o_;
  Schedule& schedule_;
  Stats& stats_;
  std::string host_, port_;
  asio::io_context io_;
  asio::ip::tcp::resolver::results_type targets_;
  asio::steady_timer wake_;
  bool armed_ = false;
  std::vector<std::unique_ptr<Conn>> conns_;
};

// The same over gRPC: `connections` channels, each a connection of its own,
// driven through one completion queue from one thread.
class GrpcDriver {
 public:
  GrpcDriver(const Options& o, Schedule& schedule, Stats& stats, const std::string& endpoint)
      : o_(o), schedule_(schedule), stats_(stats) {
    for (int i = 0; i < o.connections; ++i) {
      grpc::ChannelArguments args;
      // A channel of its own per connection, not one shared subchannel.
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      args.SetMaxReceiveMessageSize(16 << 20);
      auto conn = std::make_unique<Conn>();
      conn->stub = std::make_unique<grpc::GenericStub>(
          grpc::CreateCustomChannel(endpoint, grpc::InsecureChannelCredentials(), args));
      conns_.push_back(std::move(conn));
    }
  }
  ~GrpcDriver() {
    cq_.Shutdown();
    void* tag;
    bool ok;
    while (cq_.Next(&tag, &ok)) {
    }
  }

  Status Run() {
    for (auto& c : conns_) Pump(*c);
    for (;;) {
      auto now = SteadyClock::now();
      bool active = false;
      SteadyClock::time_point wake = now + kStopCheck;
      for (auto& c : conns_) {
        if (c->state == State::kInFlight) active = true;
        if (c->state == State::kWaiting) {
          if (c->resume <= now) Pump(*c);
          if (c->state == State::kWaiting) wake = std::min(wake, c->resume);
          active = active || c->state != State::kClosed;
        }
      }
      if (!active) break;
      void* tag = nullptr;
      bool ok = false;
      auto got = cq_.AsyncNext(&tag, &ok, std::chrono::system_clock::now() + (wake - now));
      if (got == grpc::CompletionQueue::SHUTDOWN) break;
      if (got == grpc::CompletionQueue::GOT_EVENT) Finished(*static_cast<Conn*>(tag));
    }
    return Status::Ok();
  }

 private:
  enum class State { kWaiting, kInFlight, kClosed };
  struct Conn {
    std::unique_ptr<grpc::GenericStub> stub;
    std::unique_ptr<grpc::ClientContext> ctx;
    std::unique_ptr<grpc::GenericClientAsyncResponseReader> call;
    grpc::ByteBuffer response;
    grpc::Status status;
    std::optional<InFlight> current;
    State state = State::kWaiting;
    SteadyClock::time_point resume;  // when kWaiting: look again then
  };

  void Pump(Conn& c) {
    auto now = SteadyClock::now();
    if (!c.current) {
      Request r;
      SteadyClock::time_point wake;
      if (!schedule_.Next(now, &r, &wake)) {
        c.state = schedule_.Over(now) ? State::kClosed : State::kWaiting;
        // Look again when the next request is due, or sooner to see a stop.
        c.resume = std::min(wake, now + kStopCheck);
        return;
      }
      CountNew(r, stats_);
      c.current.emplace();
      c.current->request = std::move(r);
    }
    const Request& r = c.current->request;
    c.ctx = std::make_unique<grpc::ClientContext>();
    c.ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    grpc::Slice slice(r.body);
    grpc::ByteBuffer request(&slice, 1);
    c.current->sent = now;
    c.call = c.stub->PrepareUnaryCall(c.ctx.get(), GrpcMethod(r.kind), request, &cq_);
    c.call->StartCall();
    c.call->Finish(&c.response, &c.status, &c);
    c.state = State::kInFlight;
  }

  void Finished(Conn& c) {
    Attempt a = Classify(c);
    c.call.reset();
    c.ctx.reset();
    std::optional<std::chrono::milliseconds> wait = Settle(*c.current, a, stats_, o_.max_retries);
    if (!wait) {
      c.current.reset();
      return Pump(c);
    }
    c.state = State::kWaiting;
    c.resume = SteadyClock::now() + *wait;
  }

  static Attempt Classify(Conn& c) {
    if (c.status.ok()) {
      std::vector<grpc::Slice> slices;
      std::string body;
      if (c.response.Dump(&slices).ok()) {
        for (const auto& s : slices) {
          body.append(reinterpret_cast<const char*>(s.begin()), s.size());
        }
      }
      return {Attempt::kAccepted, RejectedIn(body)};
    }
    switch (c.status.error_code()) {
      case grpc::StatusCode::UNAVAILABLE:
      case grpc::StatusCode::RESOURCE_EXHAUSTED:
      case grpc::StatusCode::ABORTED:
      case grpc::StatusCode::DEADLINE_EXCEEDED:
        return {Attempt::kRetry, 0, std::chrono::milliseconds(1000)};
      case grpc::StatusCode::INVALID_ARGUMENT:
      case grpc::StatusCode::UNIMPLEMENTED:
      case grpc::StatusCode::UNAUTHENTICATED:
        return {Attempt::kRefused};
      default:
        return {Attempt::kTransportError};
    }
  }

  const Options& o_;
  Schedule& schedule_;
  Stats& stats_;
  grpc::CompletionQueue cq_;
  std::vector<std::unique_ptr<Conn>> conns_;
};

}  // namespace

Result<Summary> Run(const Options& o, const std::atomic<bool>& stop) {
  std::string endpoint =
      !o.endpoint.empty() ? o.endpoint
                          : (o.protocol == Protocol::kHttp ? "127.0.0.1:4318" : "127.0.0.1:4317");
  SLUICE_ASSIGN_OR_RETURN(net::Endpoint target,
                          net::Endpoint::Parse(endpoint, net::EndpointForm::kHostPort));
  if (o.services < 1 || o.connections < 1) {
    return Status::InvalidArgument("services and connections must be at least 1");
  }
  if (!o.topology.empty() && o.topology != "shop") {
    return Status::InvalidArgument("unknown topology \"" + o.topology + "\"; known: shop");
  }
  Stats stats;
  auto start = SteadyClock::now();
  Schedule schedule(o, start, stop);
  std::thread progress;
  std::atomic<bool> done{false};
  if (o.progress) {
    progress = std::thread([&] {
      while (!done.load()) {
        std::this_thread::sleep_for(std::chrono::seconds(1));
        double t = std::chrono::duration<double>(SteadyClock::now() - start).count();
        std::fprintf(
            stderr,
            "\r%6.1fs  sent %llu  accepted %llu  refused %llu  retried %llu  "
            "%.0f items/s   ",
            t, (unsigned long long)stats.sent.load(), (unsigned long long)stats.accepted.load(),
            (unsigned long long)stats.refused.load(), (unsigned long long)stats.retried.load(),
            t > 0 ? static_cast<double>(stats.accepted.load()) / t : 0.0);
      }
    });
  }
  // Once generation stops, what was made is still sent (with its retries).
  Status st;
  if (o.protocol == Protocol::kHttp) {
    HttpDriver driver(o, schedule, stats, target.host, std::to_string(target.port));
    st = driver.Run();
  } else {
    GrpcDriver driver(o, schedule, stats, endpoint);
    st = driver.Run();
  }
  done = true;
  if (progress.joinable()) {
    progress.join();
    std::fprintf(stderr, "\n");
  }
  SLUICE_RETURN_IF_ERROR(st);
  Summary s;
  s.requests = stats.requests;
  s.sent_items = stats.sent;
  s.accepted_items = stats.accepted;
  s.refused_items = stats.refused;
  s.retried_requests = stats.retried;
  s.failed_requests = stats.failed;
  s.p50_ms = stats.latency.Quantile(0.50);
  s.p99_ms = stats.latency.Quantile(0.99);
  s.seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
  {
    std::lock_guard<std::mutex> lock(stats.mu);
    s.edges = stats.edges;
  }
  return s;
}

const std::vector<TopologyEdge>& TopologyEdges() {
  static const auto* edges = new std::vector<TopologyEdge>{
      {"user->frontend", 0.01},           {"frontend->checkout", 0.02},
      {"frontend->recommendation", 0.03}, {"checkout->payments", 0.05},
      {"checkout->cart", 0.01},           {"payments->notifier", 0.005},
  };
  return *edges;
}

std::string FormatSummary(const Summary& s) {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "requests=%llu sent=%llu accepted=%llu refused=%llu retried=%llu failed=%llu "
                "p50_ms=%.2f p99_ms=%.2f seconds=%.1f accepted_per_second=%.0f\n",
                (unsigned long long)s.requests, (unsigned long long)s.sent_items,
                (unsigned long long)s.accepted_items, (unsigned long long)s.refused_items,
                (unsigned long long)s.retried_requests, (unsigned long long)s.failed_requests,
                s.p50_ms, s.p99_ms, s.seconds,
                s.seconds > 0 ? static_cast<double>(s.accepted_items) / s.seconds : 0.0);
  std::string out = buf;
  for (const auto& [edge, c] : s.edges) {
    out += "edge " + edge + " calls=" + std::to_string(c.calls) +
           " errors=" + std::to_string(c.errors) + "\n";
  }
  return out;
}

}  // namespace sluice::loadgen
