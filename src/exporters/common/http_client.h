#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "pipeline/sender.h"

namespace sluice::exporters {

// An http:// URL split into what a connection needs. The path keeps no
// trailing slash ("" for the root).
struct Endpoint {
  std::string host;
  std::string port;
  std::string path;

  // Accepts "http://host[:port][/path]"; the port defaults to 80.
  // https:// is refused with a reason.
  static Result<Endpoint> Parse(std::string_view url);
  std::string HostPort() const { return host + ":" + port; }
};

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpReply {
  int status = 0;
  std::string body;
  std::string content_type;
  std::string retry_after;  // the raw header value, "" if absent
};

// A keep-alive HTTP/1.1 client for one host, used from a single thread.
// Every call is bounded by `timeout` (connect, write and read together); a
// failed or timed-out exchange closes the connection and the next call
// reconnects.
class HttpClient {
 public:
  HttpClient(Endpoint endpoint, std::chrono::nanoseconds timeout, Headers headers);
  // A client for the host of `url`; *path receives its path ("/" for none),
  // to pass as the route of Post.
  static Result<std::unique_ptr<HttpClient>> ForUrl(std::string_view url,
                                                    std::chrono::nanoseconds timeout,
                                                    Headers headers, std::string* path);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // POSTs body to endpoint.path + route with the client's headers plus
  // `extra`. Unavailable for connection failures and timeouts.
  Result<HttpReply> Post(std::string_view route, std::string_view body, const Headers& extra);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Parses Retry-After (delay-seconds or an HTTP-date) into a wait from now;
// negative when absent or unparseable.
std::chrono::milliseconds ParseRetryAfter(std::string_view value,
                                          std::chrono::system_clock::time_point now);

// The HTTP status classes shared by every HTTP exporter: 2xx ok; 429 and 5xx
// retryable (honouring Retry-After); everything else permanent. `what` names
// the destination in the reason.
pipeline::SendResult ClassifyHttp(const Result<HttpReply>& reply, std::string_view what);

}  // namespace sluice::exporters
