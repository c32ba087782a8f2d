#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
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

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

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
