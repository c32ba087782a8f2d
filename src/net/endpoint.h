#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"

namespace sluice::net {

// How an endpoint may be written, by what it names.
enum class EndpointForm {
  // "host:port", where a server listens: the port is required (0 picks a
  // free one) and an empty host means every interface ("0.0.0.0").
  kHostPort,
  // "http://host[:port][/path]" or "https://...": the port defaults to 80
  // or 443.
  kUrl,
  // "host:port", "http://host:port" or "https://host:port", with no path (a
  // gRPC target): the port is required.
  kHostPortOrUrl,
};

// Where to listen or connect. Every endpoint in the configuration, whether
// a server's host:port or an exporter's URL, goes through the one Parse, so
// they all follow the same rules: an IPv6 host in brackets ("[::1]:4317"),
// a port of digits within 0-65535.
struct Endpoint {
  std::string host;  // without brackets
  uint16_t port = 0;
  std::string path;  // of a URL, without a trailing slash ("" for the root)
  bool tls = false;  // https://

  // The error names the endpoint and what is wrong with it.
  static Result<Endpoint> Parse(std::string_view text, EndpointForm form);

  // "host:port", with an IPv6 host in brackets: an HTTP Host value and a
  // gRPC target.
  std::string HostPort() const;
};

// True when `host` (as Endpoint::host, without brackets) can only be reached
// from this machine: "localhost", an IPv4 address in 127.0.0.0/8, "::1" or an
// IPv4-mapped 127.x address. False for every other name (it may resolve
// anywhere) and for "" (every interface).
bool IsLoopbackHost(std::string_view host);

}  // namespace sluice::net
