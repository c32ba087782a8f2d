#pragma once

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "net/http_server.h"
#include "telemetry/metrics.h"
#include "wire/compression.h"

namespace sluice::testing {

// Scrape targets for tests: one HTTP server on 127.0.0.1 (its own I/O
// thread) answering any number of paths, each with the exposition body,
// content type, status, encoding and delay a test sets. A path no one set
// answers `farm_sample{path="<path>"} 1`, so thousands of distinct targets
// cost nothing to declare.
class TargetFarm final : public net::HttpHandler {
 public:
  struct Page {
    std::string body;
    std::string content_type = "text/plain; version=0.0.4";
    int status = 200;
    bool gzip = false;
    std::chrono::milliseconds delay{0};
  };

  // Over https with `tls` when given.
  explicit TargetFarm(std::optional<net::TlsFiles> tls = std::nullopt)
      : guard_(boost::asio::make_work_guard(io_)) {
    net::HttpServerOptions o;
    o.name = "farm";
    o.endpoint = "127.0.0.1:0";
    o.max_connections = 100000;
    o.tls = std::move(tls);
    server_ = std::move(*net::HttpServer::Create(io_, o, *this, registry_));
    server_->Start();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~TargetFarm() override {
    server_->StopAccepting();
    server_->CloseAll();
    guard_.reset();
    io_.stop();
    thread_.join();
  }

  std::string address() const { return server_->BoundAddress(); }
  void Set(const std::string& path, Page page) {
    std::lock_guard<std::mutex> lock(mu_);
    pages_[path] = std::move(page);
  }
  // Requests answered for `path` so far.
  int Hits(const std::string& path) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = hits_.find(path);
    return it == hits_.end() ? 0 : it->second;
  }
  uint64_t requests() const { return requests_.load(); }
  // A header of the last request for `path` ("" if none came); ":query" is
  // its query string.
  std::string LastHeader(const std::string& path, const std::string& lower_name) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = last_headers_.find(path);
    if (it == last_headers_.end()) return "";
    for (const auto& [n, v] : it->second) {
      if (n == lower_name) return v;
    }
    return "";
  }

  void Handle(net::HttpRequest&& request, net::Responder respond) override {
    Page page;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++hits_[request.path];
      last_headers_[request.path] = request.headers;
      last_headers_[request.path].emplace_back(":query", request.query);
      auto it = pages_.find(request.path);
      if (it != pages_.end()) {
        page = it->second;
      } else {
        page.body = "farm_sample{path=\"" + request.path + "\"} 1\n";
      }
    }
    requests_.fetch_add(1);
    net::HttpResponse r;
    r.status = page.status;
    r.content_type = page.content_type;
    r.body = page.gzip ? wire::Compress(wire::Compression::kGzip, page.body) : page.body;
    if (page.gzip) r.headers.emplace_back("Content-Encoding", "gzip");
    if (page.delay.count() == 0) return respond(std::move(r));
    auto timer = std::make_shared<boost::asio::steady_timer>(io_, page.delay);
    timer->async_wait([timer, r = std::move(r), respond = std::move(respond)](
                          const boost::system::error_code&) mutable { respond(std::move(r)); });
  }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  telemetry::Registry registry_;
  std::unique_ptr<net::HttpServer> server_;
  std::thread thread_;
  mutable std::mutex mu_;
  std::map<std::string, Page> pages_;
  std::map<std::string, int> hits_;
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> last_headers_;
  std::atomic<uint64_t> requests_{0};
};

}  // namespace sluice::testing
