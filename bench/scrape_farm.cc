// Scrape targets for the scraping benchmark (bench/scrape.sh):
//
//   scrape_farm [--samples 1000] [--gzip]
//
// Serves any path on 127.0.0.1 (a free port, printed as "farm=host:port")
// with a text 0.0.4 body of `samples` samples in node_exporter's shape
// (counters and gauges with two or three labels), the same body on every
// path: the benchmark tells its targets apart by path. Counts requests and
// bytes served; GET /count answers "requests bytes".

#include <signal.h>

// clang-format off
// Before Boost.Asio, whose awaitable.hpp uses std::exchange without including it.
#include <utility>
// clang-format on

#include <atomic>
#include <boost/asio.hpp>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include "net/http_server.h"
#include "telemetry/metrics.h"
#include "wire/compression.h"

namespace {

using namespace sluice;

std::atomic<uint64_t> g_requests{0}, g_bytes{0};

std::string Body(int samples) {
  std::string b;
  int n = 0;
  for (int family = 0; n < samples; ++family) {
    const std::string name = "farm_metric_" + std::to_string(family);
    b += "# HELP " + name + " A metric of the farm.\n";
    b += "# TYPE " + name + (family % 2 ? " gauge\n" : " counter\n");
    for (int cpu = 0; cpu < 10 && n < samples; ++cpu) {
      for (const char* mode : {"idle", "user", "system", "iowait", "irq"}) {
        if (n >= samples) break;
        b += name + "{cpu=\"" + std::to_string(cpu) + "\",mode=\"" + mode + "\"} " +
             std::to_string(n * 1234.5 + family) + "\n";
        ++n;
      }
    }
  }
  return b;
}

class Farm final : public net::HttpHandler {
 public:
  Farm(std::string body, bool gzip)
      : body_(gzip ? wire::Compress(wire::Compression::kGzip, body) : std::move(body)),
        gzip_(gzip) {}
  void Handle(net::HttpRequest&& request, net::Responder respond) override {
    if (request.path == "/count") {
      return respond(net::HttpResponse::Text(
          200, std::to_string(g_requests.load()) + " " + std::to_string(g_bytes.load()) + "\n"));
    }
    g_requests.fetch_add(1, std::memory_order_relaxed);
    g_bytes.fetch_add(body_.size(), std::memory_order_relaxed);
    net::HttpResponse r;
    r.content_type = "text/plain; version=0.0.4";
    r.body = body_;
    if (gzip_) r.headers.emplace_back("Content-Encoding", "gzip");
    respond(std::move(r));
  }

 private:
  const std::string body_;
  const bool gzip_;
};

}  // namespace

int main(int argc, char** argv) {
  int samples = 1000;
  bool gzip = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--samples") && i + 1 < argc) samples = std::atoi(argv[++i]);
    if (!std::strcmp(argv[i], "--gzip")) gzip = true;
  }
  signal(SIGPIPE, SIG_IGN);
  boost::asio::io_context io;
  telemetry::Registry registry;
  Farm farm(Body(samples), gzip);
  net::HttpServerOptions o;
  o.name = "farm";
  o.endpoint = "127.0.0.1:0";
  o.max_connections = 1'000'000;
  auto server = net::HttpServer::Create(io, o, farm, registry);
  if (!server.ok()) {
    std::fprintf(stderr, "%s\n", server.status().ToString().c_str());
    return 1;
  }
  (*server)->Start();
  std::printf("farm=%s\n", (*server)->BoundAddress().c_str());
  std::fflush(stdout);
  io.run();
  return 0;
}
