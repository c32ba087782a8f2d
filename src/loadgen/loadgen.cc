#include "loadgen/loadgen.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "net/http_server.h"
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
};

// One simulated service: its own random stream, span names and attributes.
class Service {
 public:
  Service(int index, uint64_t seed)
      : name_("service-" + std::to_string(index)),
        rng_(seed * 1000003 + static_cast<uint64_t>(index)) {
    static const char* kRoutes[] = {"/api/orders", "/api/users/{id}", "/api/cart",
                                    "/health",     "/api/search",     "/api/payments"};
    for (int i = 0; i < 3; ++i) routes_.push_back(kRoutes[rng_() % 6]);
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
        const std::string& route = routes_[rng_() % routes_.size()];
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

  std::string Id(size_t n) {
    std::string id(n, '\0');
    for (auto& c : id) c = static_cast<char>(rng_());
    id[0] |= 1;  // never all zero
    return id;
  }
  static void Attribute(wire::ProtoWriter& w, uint32_t field, std::string_view key,
                        std::string_view value) {
    size_t kv = w.BeginMessage(field);
    w.Bytes(1, key);
    size_t v = w.BeginMessage(2);
    w.Bytes(1, value);
    w.EndMessage(v);
    w.EndMessage(kv);
  }
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
  uint64_t counter_ = 0;
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

// A bounded queue: the scheduler waits when senders fall behind, so the
// generator itself never accumulates.
class Queue {
 public:
  explicit Queue(size_t cap) : cap_(cap) {}
  void Push(Request r) {
    std::unique_lock<std::mutex> lock(mu_);
    not_full_.wait(lock, [&] { return q_.size() < cap_; });
    q_.push_back(std::move(r));
    not_empty_.notify_one();
  }
  bool Pop(Request* r) {
    std::unique_lock<std::mutex> lock(mu_);
    not_empty_.wait(lock, [&] { return !q_.empty() || closed_; });
    if (q_.empty()) return false;
    *r = std::move(q_.front());
    q_.pop_front();
    not_full_.notify_one();
    return true;
  }
  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    not_empty_.notify_all();
  }

 private:
  const size_t cap_;
  std::mutex mu_;
  std::condition_variable not_full_, not_empty_;
  std::deque<Request> q_;
  bool closed_ = false;
};

// Result of one attempt: accepted (with rejected count), retry later, or refused.
struct Attempt {
  enum Outcome { kAccepted, kRetry, kRefused, kTransportError } outcome;
  uint64_t rejected = 0;
  std::chrono::milliseconds retry_after{0};
};

class HttpSender {
 public:
  HttpSender(std::string host, std::string port) : host_(std::move(host)), port_(std::move(port)) {}
  Attempt Send(const Request& r) {
    try {
      if (!stream_) Connect();
      http::request<http::string_body> req(http::verb::post, HttpPath(r.kind), 11);
      req.set(http::field::host, host_);
      req.set(http::field::content_type, "application/x-protobuf");
      req.keep_alive(true);
      req.body() = r.body;
      req.prepare_payload();
      stream_->expires_after(std::chrono::seconds(30));
      http::write(*stream_, req);
      http::response<http::string_body> res;
      http::read(*stream_, buffer_, res);
      if (!res.keep_alive()) stream_.reset();
      int status = res.result_int();
      if (status == 200) return {Attempt::kAccepted, RejectedIn(res.body())};
      if (status == 429 || status == 502 || status == 503 || status == 504) {
        int after = 0;
        auto it = res.find(http::field::retry_after);
        if (it != res.end()) after = std::atoi(std::string(it->value()).c_str());
        return {Attempt::kRetry, 0, std::chrono::milliseconds(after * 1000)};
      }
      return {Attempt::kRefused};
    } catch (const std::exception&) {
      stream_.reset();
      return {Attempt::kTransportError};
    }
  }

 private:
  void Connect() {
    asio::ip::tcp::resolver resolver(io_);
    stream_ = std::make_unique<beast::tcp_stream>(io_);
    stream_->expires_after(std::chrono::seconds(10));
    stream_->connect(resolver.resolve(host_, port_));
  }
  std::string host_, port_;
  asio::io_context io_;
  std::unique_ptr<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
};

class GrpcSender {
 public:
  explicit GrpcSender(std::shared_ptr<grpc::Channel> channel) : stub_(std::move(channel)) {}
  Attempt Send(const Request& r) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    grpc::Slice slice(r.body);
    grpc::ByteBuffer request(&slice, 1);
    grpc::ByteBuffer response;
    grpc::Status status;
    auto call = stub_.PrepareUnaryCall(&ctx, GrpcMethod(r.kind), request, &cq_);
    call->StartCall();
    call->Finish(&response, &status, this);
    void* tag;
    bool ok;
    cq_.Next(&tag, &ok);
    if (status.ok()) {
      std::vector<grpc::Slice> slices;
      std::string body;
      if (response.Dump(&slices).ok()) {
        for (const auto& s : slices)
          body.append(reinterpret_cast<const char*>(s.begin()), s.size());
      }
      return {Attempt::kAccepted, RejectedIn(body)};
    }
    switch (status.error_code()) {
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
  ~GrpcSender() {
    cq_.Shutdown();
    void* tag;
    bool ok;
    while (cq_.Next(&tag, &ok)) {
    }
  }

 private:
  grpc::GenericStub stub_;
  grpc::CompletionQueue cq_;
};

template <class Sender>
void SendAll(Sender& sender, Queue& queue, Stats& stats, int max_retries) {
  Request r;
  while (queue.Pop(&r)) {
    stats.requests.fetch_add(1, std::memory_order_relaxed);
    stats.sent.fetch_add(r.items, std::memory_order_relaxed);
    auto backoff = std::chrono::milliseconds(100);
    for (int attempt = 0;; ++attempt) {
      auto t0 = SteadyClock::now();
      Attempt a = sender.Send(r);
      stats.latency.Observe(
          std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count());
      if (a.outcome == Attempt::kAccepted) {
        stats.accepted.fetch_add(r.items - std::min(r.items, a.rejected));
        stats.refused.fetch_add(std::min(r.items, a.rejected));
        break;
      }
      if (a.outcome == Attempt::kRefused) {
        stats.refused.fetch_add(r.items);
        break;
      }
      if (attempt >= max_retries) {
        if (a.outcome == Attempt::kRetry)
          stats.refused.fetch_add(r.items);
        else
          stats.failed.fetch_add(1);
        break;
      }
      stats.retried.fetch_add(1);
      auto wait = a.retry_after.count() > 0 ? a.retry_after : backoff;
      std::this_thread::sleep_for(std::min(wait, std::chrono::milliseconds(5000)));
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
    }
  }
}

}  // namespace

Result<Summary> Run(const Options& o, const std::atomic<bool>& stop) {
  std::string endpoint =
      !o.endpoint.empty() ? o.endpoint
                          : (o.protocol == Protocol::kHttp ? "127.0.0.1:4318" : "127.0.0.1:4317");
  std::string host;
  uint16_t port;
  SLUICE_RETURN_IF_ERROR(net::SplitEndpoint(endpoint, &host, &port));
  if (o.services < 1 || o.connections < 1) {
    return Status::InvalidArgument("services and connections must be at least 1");
  }
  Stats stats;
  Queue queue(static_cast<size_t>(o.connections) * 2);
  std::shared_ptr<grpc::Channel> channel;
  if (o.protocol == Protocol::kGrpc) {
    channel = grpc::CreateChannel(endpoint, grpc::InsecureChannelCredentials());
  }
  std::vector<std::thread> senders;
  for (int i = 0; i < o.connections; ++i) {
    senders.emplace_back([&] {
      if (o.protocol == Protocol::kHttp) {
        HttpSender s(host, std::to_string(port));
        SendAll(s, queue, stats, o.max_retries);
      } else {
        GrpcSender s(channel);
        SendAll(s, queue, stats, o.max_retries);
      }
    });
  }

  // One scheduling loop for every service: each is due once per
  // flush_interval, starting at its place in the ramp.
  std::vector<Service> services;
  services.reserve(static_cast<size_t>(o.services));
  std::vector<SteadyClock::time_point> due;
  std::vector<double> carry_spans(static_cast<size_t>(o.services)),
      carry_logs(static_cast<size_t>(o.services)), carry_points(static_cast<size_t>(o.services));
  auto start = SteadyClock::now();
  for (int i = 0; i < o.services; ++i) {
    services.emplace_back(i, o.seed);
    due.push_back(start +
                  std::chrono::duration_cast<SteadyClock::duration>(o.ramp) * i / o.services);
  }
  const double interval_s = std::chrono::duration<double>(o.flush_interval).count();
  auto end = start + std::chrono::duration_cast<SteadyClock::duration>(o.duration);
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
  while (!stop.load() && SteadyClock::now() < end) {
    auto next = std::min_element(due.begin(), due.end());
    size_t i = static_cast<size_t>(next - due.begin());
    if (*next > SteadyClock::now()) {
      std::this_thread::sleep_until(std::min(*next, end));
      continue;
    }
    int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    auto take = [&](double rate, double& carry) {
      carry += rate * interval_s;
      auto n = static_cast<uint64_t>(carry);
      carry -= static_cast<double>(n);
      return n;
    };
    if (uint64_t n = take(o.spans_per_second, carry_spans[i]); n > 0) {
      queue.Push(services[i].Traces(n, now_ns));
    }
    if (uint64_t n = take(o.logs_per_second, carry_logs[i]); n > 0) {
      queue.Push(services[i].Logs(n, now_ns));
    }
    if (uint64_t n = take(o.metrics_per_second, carry_points[i]); n > 0) {
      queue.Push(services[i].Metrics(n, now_ns));
    }
    *next += std::chrono::duration_cast<SteadyClock::duration>(o.flush_interval);
  }
  // Stop generating; what is queued is still sent.
  queue.Close();
  for (auto& t : senders) t.join();
  done = true;
  if (progress.joinable()) {
    progress.join();
    std::fprintf(stderr, "\n");
  }
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
  return s;
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
  return buf;
}

}  // namespace sluice::loadgen
