#include "support/fault_backend.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "wire/compression.h"

namespace sluice::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

std::string BackendRequest::Header(const std::string& lower_name) const {
  for (const auto& [k, v] : headers) {
    if (k == lower_name) return v;
  }
  return "";
}

struct FaultBackend::State {
  asio::io_context io;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::thread accept_thread;
  std::mutex mu;
  std::vector<std::shared_ptr<tcp::socket>> sockets;
  std::vector<std::thread> connections;
  std::atomic<bool> stopping{false};
};

FaultBackend::FaultBackend(Decide decide, Sink sink)
    : decide_(decide ? std::move(decide) : [](const BackendRequest&) { return Fault{}; }),
      sink_(std::move(sink)) {}

FaultBackend::~FaultBackend() {
  Stop();
}

bool FaultBackend::Start(int port) {
  Stop();
  auto st = std::make_shared<State>();
  beast::error_code ec;
  st->acceptor = std::make_unique<tcp::acceptor>(st->io);
  tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port));
  st->acceptor->open(ep.protocol(), ec);
  st->acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  st->acceptor->bind(ep, ec);
  if (ec) return false;
  st->acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return false;
  port_ = st->acceptor->local_endpoint().port();
  state_ = st;
  st->accept_thread = std::thread([this, st] {
    for (;;) {
      auto socket = std::make_shared<tcp::socket>(st->io);
      beast::error_code aec;
      st->acceptor->accept(*socket, aec);
      if (aec || st->stopping.load()) return;
      std::lock_guard<std::mutex> lock(st->mu);
      st->sockets.push_back(socket);
      st->connections.emplace_back([this, st, socket] {
        beast::flat_buffer buffer;
        for (;;) {
          http::request_parser<http::string_body> parser;
          parser.body_limit(256u << 20);
          beast::error_code rec;
          http::read(*socket, buffer, parser, rec);
          if (rec || st->stopping.load()) break;
          auto& req = parser.get();
          BackendRequest r;
          r.path = std::string(req.target());
          for (const auto& f : req) {
            std::string name(f.name_string());
            for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            r.headers.emplace_back(std::move(name), std::string(f.value()));
          }
          wire::Compression c = wire::Compression::kNone;
          std::string enc = r.Header("content-encoding");
          if (enc == "snappy") {
            c = wire::Compression::kSnappyBlock;
          } else {
            wire::ParseContentEncoding(enc, &c);
          }
          if (c == wire::Compression::kNone) {
            r.body = std::move(req.body());
          } else if (!wire::Decompress(c, req.body(), 1ull << 30, &r.body).ok()) {
            r.body.clear();
          }
          requests_.fetch_add(1);
          Fault f = decide_(r);
          auto wait = [&](std::chrono::milliseconds d) {
            auto until = std::chrono::steady_clock::now() + d;
            while (!st->stopping.load() && std::chrono::steady_clock::now() < until) {
              std::this_thread::sleep_for(std::chrono::milliseconds(5));
            }
          };
          bool ok_answer = f.kind == Fault::Kind::kOk || f.kind == Fault::Kind::kSlowAnswer ||
                           (f.kind == Fault::Kind::kStatus && f.status / 100 == 2);
          if ((ok_answer || f.deliver) && sink_) sink_(r);
          if (f.kind == Fault::Kind::kDrop) break;
          if (f.kind == Fault::Kind::kHang) {
            wait(f.delay);
            break;
          }
          if (f.kind == Fault::Kind::kSlowAnswer) wait(f.delay);
          http::response<http::string_body> res;
          res.version(11);
          res.result(f.kind == Fault::Kind::kStatus ? f.status : 200);
          res.set(http::field::content_type, f.content_type);
          if (!f.retry_after.empty()) res.set(http::field::retry_after, f.retry_after);
          res.body() = f.reply;
          res.keep_alive(req.keep_alive());
          res.prepare_payload();
          beast::error_code wec;
          http::write(*socket, res, wec);
          if (wec || !req.keep_alive()) break;
        }
        beast::error_code ignored;
        socket->shutdown(tcp::socket::shutdown_both, ignored);
        socket->close(ignored);
      });
    }
  });
  return true;
}

void FaultBackend::Stop() {
  std::shared_ptr<State> st = std::move(state_);
  if (!st) return;
  st->stopping.store(true);
  beast::error_code ec;
  // Unblock accept() by connecting once; the acceptor closes after.
  {
    asio::io_context io;
    tcp::socket s(io);
    s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port_)), ec);
  }
  st->accept_thread.join();
  st->acceptor->close(ec);
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(st->mu);
    for (auto& s : st->sockets) {
      beast::error_code ignored;
      s->shutdown(tcp::socket::shutdown_both, ignored);
    }
    threads = std::move(st->connections);
  }
  for (auto& t : threads) t.join();
}

}  // namespace sluice::testing
