#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "telemetry/metrics.h"

namespace boost::asio {
class io_context;
}

namespace sluice::net {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // target without the query string
  std::string query;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::string remote_ip;

  // The first header with this lower-case name, or "" if absent.
  std::string_view Header(std::string_view lower_name) const;
};

// A response body written as it is produced (server-sent events). The
// handler answers with a response whose `stream` is set; the server writes
// the head (no Content-Length; the connection closes when the body ends),
// then each chunk pushed, in order, until the producer closes the stream or
// the client goes away.
//
// Thread-safety: Push and Close from any thread (the producer); the rest is
// the server's.
class ResponseStream {
 public:
  explicit ResponseStream(size_t max_pending_bytes = 1 << 20)
      : max_pending_bytes_(max_pending_bytes) {}

  enum class PushResult { kQueued, kFull, kGone };
  // Queues a chunk. kFull: the client has not read max_pending_bytes yet and
  // the chunk was dropped; kGone: the client left or the server closed the
  // stream, stop producing.
  PushResult Push(std::string chunk);
  // The body ends after what is queued.
  void Close();
  bool gone() const;

  // The server's side: what is queued (and whether the body has ended),
  // and the wake-up it wants when more comes.
  bool Take(std::string* out, bool* ended);
  void SetWake(std::function<void()> wake);
  void MarkGone();

 private:
  const size_t max_pending_bytes_;
  mutable std::mutex mu_;
  std::string pending_;
  bool closed_ = false;
  bool gone_ = false;
  std::function<void()> wake_;  // set while the server waits for more
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Set for a streamed body (`body` is then written first).
  std::shared_ptr<ResponseStream> stream;

  static HttpResponse Text(int status, std::string body);
  static HttpResponse Json(int status, std::string body);
};

// Completes a request. Must be called exactly once, from any thread.
using Responder = std::function<void(HttpResponse)>;

// Serves requests. Handle may answer at once or later from another thread.
// Thread-safety: Handle is called concurrently from the server's I/O threads.
class HttpHandler {
 public:
  virtual ~HttpHandler() = default;
  virtual void Handle(HttpRequest&& request, Responder respond) = 0;
};

// A certificate and its key, PEM files.
struct TlsFiles {
  std::string cert_file;  // certificate chain, leaf first
  std::string key_file;
};

struct HttpServerOptions {
  std::string name;      // used in logs and the `server` metric label
  std::string endpoint;  // EndpointForm::kHostPort; port 0 picks a free port
  uint64_t max_body_bytes = 16ull << 20;
  std::chrono::nanoseconds header_read_timeout = std::chrono::seconds(10);
  std::chrono::nanoseconds body_read_timeout = std::chrono::seconds(30);
  std::chrono::nanoseconds idle_timeout = std::chrono::minutes(10);
  // Connections beyond this are closed as soon as they are accepted.
  int64_t max_connections = 10000;
  // HTTPS with this certificate when set (TLS 1.2 or later); plaintext when
  // not. The handshake must finish within header_read_timeout.
  std::optional<TlsFiles> tls;
};

struct HttpServerMetrics {
  explicit HttpServerMetrics(telemetry::Registry& r)
      : requests(r.AddCounter("sluice_http_server_requests_total",
                              "HTTP requests answered, by server and status code.",
                              {"server", "code"})),
        duration(r.AddHistogram("sluice_http_server_request_duration_seconds",
                                "Time from a request's last byte to its response being written.",
                                {"server"}, telemetry::LatencyBuckets())),
        connections(r.AddGauge("sluice_http_server_connections", "Open connections.", {"server"})),
        requests_in_flight(r.AddGauge("sluice_http_server_requests_in_flight",
                                      "Requests whose headers have arrived and that are not yet "
                                      "answered.",
                                      {"server"})),
        refused_connections(r.AddCounter("sluice_http_server_refused_connections_total",
                                         "Connections closed on accept because max_connections "
                                         "were open.",
                                         {"server"})),
        tls_handshake_failures(r.AddCounter("sluice_http_server_tls_handshake_failures_total",
                                            "TLS handshakes that failed or timed out.",
                                            {"server"})) {}
  telemetry::CounterFamily& requests;
  telemetry::HistogramFamily& duration;
  telemetry::GaugeFamily& connections;
  telemetry::GaugeFamily& requests_in_flight;
  telemetry::CounterFamily& refused_connections;
  telemetry::CounterFamily& tls_handshake_failures;
};

// An HTTP/1.1 server on Boost.Beast, optionally over TLS. Create() loads the
// certificate, binds and listens, so a bad certificate or a port in use is
// reported before anything starts; Start() begins accepting.
//
// Shutdown: StopAccepting() closes the listener and idle keep-alive
// connections; requests in flight finish and their connections then close.
// WaitIdle() waits for that; CloseAll() cuts whatever is left.
class HttpServer {
 public:
  static Result<std::unique_ptr<HttpServer>> Create(boost::asio::io_context& io,
                                                    HttpServerOptions options, HttpHandler& handler,
                                                    telemetry::Registry& registry);
  ~HttpServer();

  void Start();
  // "host:port" actually bound (resolves port 0).
  std::string BoundAddress() const;
  void StopAccepting();
  // True when no request is in flight before the deadline.
  bool WaitIdle(std::chrono::steady_clock::time_point deadline);
  void CloseAll();
  int64_t in_flight() const;

  class Impl;

 private:
  explicit HttpServer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

}  // namespace sluice::net
