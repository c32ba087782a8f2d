#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace sluice::testing {

struct HttpResult {
  int status = 0;  // 0 when the request could not be made
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string error;
  std::string Header(const std::string& name) const;
};

// One synchronous HTTP/1.1 request over a fresh connection.
HttpResult HttpRequest(const std::string& method, const std::string& host_port,
                       const std::string& target, const std::string& body = "",
                       std::vector<std::pair<std::string, std::string>> headers = {});

inline HttpResult HttpGet(const std::string& host_port, const std::string& target) {
  return HttpRequest("GET", host_port, target);
}

// A GET whose response body streams (server-sent events): the raw bytes as
// they arrive, head included.
class HttpStream {
 public:
  HttpStream(const std::string& host_port, const std::string& target,
             std::vector<std::pair<std::string, std::string>> headers = {});
  ~HttpStream();
  HttpStream(const HttpStream&) = delete;
  HttpStream& operator=(const HttpStream&) = delete;

  // Reads until `done(everything read so far)` or `timeout`; what was read.
  std::string ReadUntil(const std::function<bool(const std::string&)>& done,
                        std::chrono::milliseconds timeout);
  // Whether the server has closed the connection.
  bool closed() const { return closed_; }

 private:
  int fd_ = -1;
  std::string read_;
  bool closed_ = false;
};

// `path` with `?query=` and the query URL-encoded (letters, digits and _
// as they are), for the HTTP APIs of Prometheus-compatible servers.
std::string QueryTarget(const std::string& path, const std::string& query);

// The value of the first result of a Prometheus instant query
// (/api/v1/query) at `host_port`, "" when there is none.
std::string PromQueryValue(const std::string& host_port, const std::string& query);

// A TCP port on 127.0.0.1 that was free a moment ago, for a server a test
// starts (Prometheus, VictoriaMetrics).
int FreeLocalPort();

}  // namespace sluice::testing
