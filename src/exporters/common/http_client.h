#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "config/schema.h"
#include "pipeline/sender.h"

namespace sluice::exporters {

using Headers = std::vector<std::pair<std::string, std::string>>;

// An http:// or https:// URL split into what a connection needs. The path
// keeps no trailing slash ("" for the root).
struct Endpoint {
  std::string host;
  std::string port;
  std::string path;
  bool tls = false;  // https://

  // Accepts "http[s]://host[:port][/path]"; the port defaults to 80 for
  // http and 443 for https.
  static Result<Endpoint> Parse(std::string_view url);
  std::string HostPort() const { return host + ":" + port; }
};

// `tls`: how an exporter checks the server it connects to over https://
// (and, with cert_file and key_file, proves who it is).
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
const config::Schema<TlsClientOptions>& TlsClientOptionsSchema();

// The header that carries a request's tenant: `tenant_header` (default
// X-Scope-OrgID, "" for none) as each HTTP and gRPC exporter configures it.
constexpr const char* kDefaultTenantHeader = "X-Scope-OrgID";
constexpr const char* kTenantHeaderHelp =
    "Header that carries each request's tenant, as received (\"\" sends none). A value for it "
    "in headers wins.";

// Appends `header: tenant` to *extra unless tenant or header is empty or
// `configured` (the exporter's own headers) already names the header (any
// case).
void AddTenantHeader(const std::string& header, const Headers& configured,
                     const std::string& tenant, Headers* extra);

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

// The HTTP status classes shared by every HTTP exporter: 2xx ok; 429 and 5xx
// retryable (honouring Retry-After); everything else permanent. `what` names
// the destination in the reason.
pipeline::SendResult ClassifyHttp(const Result<HttpReply>& reply, std::string_view what);

}  // namespace sluice::exporters
