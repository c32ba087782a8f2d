#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "net/http_client.h"

namespace sluice::receivers::prometheus {

// What a fetch hands over as the response arrives.
class FetchHandler {
 public:
  virtual ~FetchHandler() = default;
  // The status line and headers; an error ends the fetch with it.
  virtual Status OnHeaders(int status, std::string_view content_type,
                           std::string_view content_encoding) = 0;
  // The next piece of the body as it arrived (still compressed, if it was);
  // an error ends the fetch with it.
  virtual Status OnBody(std::string_view chunk) = 0;
  // Exactly once: Ok after the whole body, else why not (Unavailable for
  // connection failures and the deadline, or the handler's own error).
  virtual void OnDone(Status status) = 0;
};

// For an https target: the client context (net::MakeClientTlsContext), the
// name its certificate must carry and that is sent as SNI ("": the host),
// and whether the name is checked (not with insecure_skip_verify).
struct FetchTls {
  std::shared_ptr<boost::asio::ssl::context> context;  // null: plain http
  std::string server_name;
  bool verify = true;
};

// An asynchronous HTTP/1.1 GET client for one scrape target, on the I/O
// threads: resolves once, keeps its connection alive between scrapes, and
// streams the body to the handler as it arrives, so a scrape never holds a
// whole body. Every operation of a fetch is bounded by its deadline.
//
// Thread-safety: one fetch at a time (the scheduler never overlaps a
// target's runs); its callbacks run on an I/O thread. Create with
// std::make_shared: a fetch keeps the fetcher alive until it is done.
class Fetcher : public std::enable_shared_from_this<Fetcher> {
 public:
  Fetcher(boost::asio::io_context& io, std::string host, std::string port, FetchTls tls = {});
  ~Fetcher();

  // GETs `target` (path and query) with `headers`; `handler` must live
  // until its OnDone.
  void Get(std::string target, const net::Headers& headers,
           std::chrono::steady_clock::time_point deadline, FetchHandler* handler);

  // Closes the connection (the next Get reconnects).
  void Close();

 private:
  struct Op;
  boost::asio::io_context& io_;
  const std::string host_, port_;
  const FetchTls tls_;
  struct Conn;
  std::unique_ptr<Conn> conn_;
};

}  // namespace sluice::receivers::prometheus
