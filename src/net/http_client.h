#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "net/endpoint.h"

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

namespace sluice::net {

// Request headers in the order they are sent.
using Headers = std::vector<std::pair<std::string, std::string>>;

// True if `headers` has one named `name`, in any case (HTTP header names are
// case-insensitive).
bool HasHeader(const Headers& headers, std::string_view name);

// How a client checks the server it connects to over https:// (and, with
// cert_file and key_file, proves who it is). A plain struct: the exporters
// declare its YAML schema (`tls`).
struct TlsClientOptions {
  // PEM file of the certificate authorities to trust; "" trusts the
  // system's (/etc/ssl/certs).
  std::string ca_file;
  // A client certificate chain and its key, PEM, for servers that require
  // one (mutual TLS). Both or neither.
  std::string cert_file;
  std::string key_file;
  // The name the server's certificate must carry, and the SNI sent; "" uses
  // the endpoint's host.
  std::string server_name_override;
  // Accept any certificate. For tests only: it defeats what TLS is for.
  bool insecure_skip_verify = false;
};

// A client TLS context per `o` (TLS 1.2 or later, the peer's certificate
// checked unless insecure_skip_verify); the error names the file it could
// not load. The caller checks the host name (ssl::host_name_verification).
Result<std::unique_ptr<boost::asio::ssl::context>> MakeClientTlsContext(const TlsClientOptions& o);

struct HttpReply {
  int status = 0;
  std::string body;
  std::string content_type;
  std::string retry_after;  // the raw header value, "" if absent
};

// A keep-alive HTTP/1.1 client for one host, used from a single thread,
// over TLS for https:// endpoints (TLS 1.2 or later, the server's
// certificate checked against `tls` and the host name). Every call is
// bounded by `timeout` (connect, handshake, write and read together; name
// resolution aside); a failed or timed-out exchange closes the connection
// and the next call reconnects.
class HttpClient {
 public:
  // Loads the TLS files (for https:// endpoints); the error names the file.
  // `endpoint` is a URL's (EndpointForm::kUrl).
  static Result<std::unique_ptr<HttpClient>> Create(Endpoint endpoint,
                                                    std::chrono::nanoseconds timeout,
                                                    Headers headers,
                                                    const TlsClientOptions& tls = {});
  // A client for the host of `url`; *path receives its path ("/" for none),
  // to pass as the route of Post.
  static Result<std::unique_ptr<HttpClient>> ForUrl(std::string_view url,
                                                    std::chrono::nanoseconds timeout,
                                                    Headers headers, std::string* path,
                                                    const TlsClientOptions& tls = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // POSTs body to endpoint.path + route with the client's headers plus
  // `extra`. Unavailable for connection failures and timeouts.
  Result<HttpReply> Post(std::string_view route, std::string_view body, const Headers& extra);
  // The longest reply body taken (16 MiB unless set); a longer one fails
  // the exchange.
  void SetMaxReplyBytes(uint64_t bytes);

 private:
  struct Impl;
  explicit HttpClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// For config checks: "" if a client for `url` can be made with `tls` (the
// URL parses; for https://, the TLS files load), else the reason.
std::string CheckClientConfig(std::string_view url, const TlsClientOptions& tls);

// Parses Retry-After (delay-seconds or an HTTP-date) into a wait from now;
// negative when absent or unparseable.
std::chrono::milliseconds ParseRetryAfter(std::string_view value,
                                          std::chrono::system_clock::time_point now);

}  // namespace sluice::net
