// The other end of the forwarding benchmark (bench/forward.sh):
//
//   forward_peer sink [--port P]
//     A counting HTTP backend. Accepts OTLP/HTTP traces and logs and remote
//     write, decompresses them, counts their items (without validating
//     them), and answers 200/204. GET /count returns the totals as
//     "spans logs samples requests bytes".
//
//   forward_peer remote-write --endpoint host:port [--series 500] [--seconds 20]
//                             [--connections 16] [--rate 0]
//     Sends snappy remote write requests of `series` series with one sample
//     each and prints samples/s accepted. With --rate (samples/s over all
//     connections) requests leave on a fixed schedule, each connection
//     sending its share; without, as fast as the endpoint accepts them.

#include <signal.h>

// clang-format off
// Before Boost.Asio, whose awaitable.hpp uses std::exchange without including it.
#include <utility>
// clang-format on

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "net/http_server.h"
#include "wire/compression.h"
#include "wire/prom/remote_write.h"
#include "wire/proto_reader.h"
#include "wire/proto_writer.h"

namespace {

using namespace sluice;

std::atomic<uint64_t> g_spans{0}, g_logs{0}, g_samples{0}, g_requests{0}, g_bytes{0};

// Counts leaves without validating them, so that the sink costs little
// beside sluice: OTLP traces and logs nest the same way (request.1 →
// resource.2 → scope.2 → leaf); a WriteRequest holds series (1) of samples
// (2) and histograms (4). -1 when the bytes do not parse.
int64_t CountOtlpLeaves(std::string_view request) {
  int64_t n = 0;
  wire::ProtoReader r(request);
  while (r.Next()) {
    if (r.field() != 1) continue;
    wire::ProtoReader res(r.bytes());
    while (res.Next()) {
      if (res.field() != 2) continue;
      wire::ProtoReader scope(res.bytes());
      while (scope.Next()) n += scope.field() == 2 ? 1 : 0;
      if (!scope.ok()) return -1;
    }
    if (!res.ok()) return -1;
  }
  return r.ok() ? n : -1;
}

int64_t CountSamples(std::string_view request) {
  int64_t n = 0;
  wire::ProtoReader r(request);
  while (r.Next()) {
    if (r.field() != 1) continue;
    wire::ProtoReader ts(r.bytes());
    while (ts.Next()) n += (ts.field() == 2 || ts.field() == 4) ? 1 : 0;
    if (!ts.ok()) return -1;
  }
  return r.ok() ? n : -1;
}

class Sink final : public net::HttpHandler {
 public:
  void Handle(net::HttpRequest&& req, net::Responder respond) override {
    if (req.method == "GET" && req.path == "/count") {
      respond(net::HttpResponse::Text(
          200, std::to_string(g_spans.load()) + " " + std::to_string(g_logs.load()) + " " +
                   std::to_string(g_samples.load()) + " " + std::to_string(g_requests.load()) +
                   " " + std::to_string(g_bytes.load()) + "\n"));
      return;
    }
    std::string body;
    std::string_view enc = req.Header("content-encoding");
    wire::Compression c = wire::Compression::kNone;
    if (enc == "snappy") {
      c = wire::Compression::kSnappyBlock;
    } else if (!wire::ParseContentEncoding(enc, &c)) {
      respond(net::HttpResponse::Text(415, "encoding"));
      return;
    }
    if (c != wire::Compression::kNone) {
      if (!wire::Decompress(c, req.body, 1ull << 30, &body).ok()) {
        respond(net::HttpResponse::Text(400, "decompress"));
        return;
      }
    } else {
      body = std::move(req.body);
    }
    g_requests.fetch_add(1);
    g_bytes.fetch_add(body.size());
    if (req.path == "/api/v1/write") {
      int64_t n = CountSamples(body);
      if (n < 0) {
        respond(net::HttpResponse::Text(400, "bad write request"));
        return;
      }
      g_samples.fetch_add(static_cast<uint64_t>(n));
      respond(net::HttpResponse::Text(204, ""));
      return;
    }
    int64_t n = CountOtlpLeaves(body);
    if (n < 0) {
      respond(net::HttpResponse::Text(400, "bad export request"));
      return;
    }
    (req.path == "/v1/logs" ? g_logs : g_spans).fetch_add(static_cast<uint64_t>(n));
    net::HttpResponse res;
    res.content_type = "application/x-protobuf";
    respond(std::move(res));
  }
};

int RunSink(int port) {
  boost::asio::io_context io;
  telemetry::Registry registry;
  Sink sink;
  net::HttpServerOptions o;
  o.name = "sink";
  o.endpoint = "127.0.0.1:" + std::to_string(port);
  o.max_body_bytes = 256u << 20;
  auto server = net::HttpServer::Create(io, o, sink, registry);
  if (!server.ok()) {
    std::fprintf(stderr, "sink: %s\n", server.status().ToString().c_str());
    return 1;
  }
  (*server)->Start();
  std::printf("sink=%s\n", (*server)->BoundAddress().c_str());
  std::fflush(stdout);
  io.run();
  return 0;
}

// Encoded as Prometheus encodes it: minimal varint lengths.
std::string WriteRequest(int series, int64_t ts) {
  auto bytes = [](std::string* out, uint32_t field, std::string_view b) {
    wire::ProtoWriter(out).Bytes(field, b);
  };
  std::string out;
  for (int i = 0; i < series; ++i) {
    std::string s;
    auto label = [&](std::string_view n, std::string_view v) {
      std::string l;
      bytes(&l, wire::prom::field::kLabelName, n);
      bytes(&l, wire::prom::field::kLabelValue, v);
      bytes(&s, wire::prom::field::kSeriesLabels, l);
    };
    label("__name__", "bench_requests_total");
    label("instance", "host-" + std::to_string(i % 50));
    label("job", "bench");
    label("path", "/api/" + std::to_string(i));
    std::string sample;
    wire::ProtoWriter w(&sample);
    w.Double(wire::prom::field::kSampleValue, 1.0 * i);
    w.Varint(wire::prom::field::kSampleTimestamp, static_cast<uint64_t>(ts));
    bytes(&s, wire::prom::field::kSeriesSamples, sample);
    bytes(&out, wire::prom::field::kWriteTimeseries, s);
  }
  return out;
}

int RunRemoteWrite(const std::string& endpoint, int series, int seconds, int connections,
                   double rate) {
  namespace beast = boost::beast;
  namespace http = beast::http;
  size_t colon = endpoint.rfind(':');
  std::string host = endpoint.substr(0, colon);
  std::string port = endpoint.substr(colon + 1);
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> refused{0};
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  std::vector<std::thread> threads;
  for (int c = 0; c < connections; ++c) {
    threads.emplace_back([&, c] {
      boost::asio::io_context io;
      boost::asio::ip::tcp::resolver resolver(io);
      beast::tcp_stream stream(io);
      stream.connect(resolver.resolve(host, port));
      // A few distinct bodies, timestamps one millisecond apart.
      std::vector<std::string> bodies;
      int64_t base = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
      for (int b = 0; b < 8; ++b) {
        bodies.push_back(wire::Compress(wire::Compression::kSnappyBlock,
                                        WriteRequest(series, base + c * 8 + b)));
      }
      beast::flat_buffer buffer;
      // The schedule, when paced: one request every `interval` per connection,
      // the connections staggered across it. Requests late for their slot
      // (an answer slower than the interval) leave at once until the
      // schedule is kept again; more than a second behind, the missed part
      // is given up rather than sent in a burst.
      const auto interval = std::chrono::nanoseconds(
          rate > 0 ? static_cast<int64_t>(1e9 * series * connections / rate) : 0);
      auto next = std::chrono::steady_clock::now() + interval * c / connections;
      for (size_t n = 0; std::chrono::steady_clock::now() < until; ++n) {
        if (rate > 0) {
          std::this_thread::sleep_until(next);
          next += interval;
          auto now = std::chrono::steady_clock::now();
          if (now - next > std::chrono::seconds(1)) next = now;
        }
        http::request<http::string_body> req(http::verb::post, "/api/v1/write", 11);
        req.set(http::field::host, host);
        req.set(http::field::content_type, "application/x-protobuf");
        req.set(http::field::content_encoding, "snappy");
        req.set("X-Prometheus-Remote-Write-Version", "0.1.0");
        req.body() = bodies[n % bodies.size()];
        req.prepare_payload();
        http::write(stream, req);
        http::response<http::string_body> res;
        http::read(stream, buffer, res);
        if (res.result_int() / 100 == 2) {
          accepted.fetch_add(static_cast<uint64_t>(series));
        } else {
          refused.fetch_add(static_cast<uint64_t>(series));
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  std::printf("remote_write sent_samples_per_s=%.0f refused=%llu\n",
              static_cast<double>(accepted.load()) / seconds,
              static_cast<unsigned long long>(refused.load()));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: forward_peer sink|remote-write [options]\n");
    return 2;
  }
  std::string mode = argv[1];
  int port = 0;
  std::string endpoint;
  int series = 500;
  int seconds = 20;
  int connections = 16;
  double rate = 0;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    std::string v = argv[i + 1];
    if (k == "--port") port = std::stoi(v);
    if (k == "--endpoint") endpoint = v;
    if (k == "--series") series = std::stoi(v);
    if (k == "--seconds") seconds = std::stoi(v);
    if (k == "--connections") connections = std::stoi(v);
    if (k == "--rate") rate = std::stod(v);
  }
  if (mode == "sink") return RunSink(port);
  if (mode == "remote-write") return RunRemoteWrite(endpoint, series, seconds, connections, rate);
  std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
  return 2;
}
