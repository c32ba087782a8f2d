#include "net/endpoint.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace sluice::net {
namespace {

bool ConsumePrefix(std::string_view* s, std::string_view prefix) {
  if (!s->starts_with(prefix)) return false;
  s->remove_prefix(prefix.size());
  return true;
}

}  // namespace

Result<Endpoint> Endpoint::Parse(std::string_view text, EndpointForm form) {
  auto invalid = [text](std::string_view why) {
    return Status::InvalidArgument("endpoint \"" + std::string(text) + "\" " + std::string(why));
  };
  Endpoint e;
  std::string_view rest = text;
  bool url = false;
  if (form != EndpointForm::kHostPort) {
    if (ConsumePrefix(&rest, "https://")) {
      e.tls = true;
      url = true;
    } else if (ConsumePrefix(&rest, "http://")) {
      url = true;
    } else if (form == EndpointForm::kUrl) {
      return invalid("must start with http:// or https://");
    }
  }
  std::string_view authority = rest;
  if (url) {
    size_t slash = rest.find('/');
    authority = rest.substr(0, slash);
    if (slash != std::string_view::npos) {
      e.path = std::string(rest.substr(slash));
      while (!e.path.empty() && e.path.back() == '/') e.path.pop_back();
    }
    if (form == EndpointForm::kHostPortOrUrl && !e.path.empty()) {
      return invalid("must be host:port, http://host:port or https://host:port, with no path");
    }
  }

  std::string_view host;
  std::string_view port;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {  // [v6] or [v6]:port
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return invalid("has an unclosed '['");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':') return invalid("has text after ']' but no port");
    has_port = !after.empty();
    if (has_port) port = after.substr(1);
  } else {
    // The last colon, so that an unbracketed IPv6 address keeps its own.
    size_t colon = authority.rfind(':');
    has_port = colon != std::string_view::npos;
    host = authority.substr(0, colon);
    if (has_port) port = authority.substr(colon + 1);
  }
  if (host.find('/') != std::string_view::npos) {
    return invalid(form == EndpointForm::kHostPort
                       ? "must be host:port"
                       : "must be host:port, http://host:port or https://host:port");
  }

  if (has_port) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535) {
      return invalid("has an invalid port");
    }
    e.port = static_cast<uint16_t>(value);
  } else if (url && form == EndpointForm::kUrl) {
    e.port = e.tls ? 443 : 80;
  } else {
    return invalid(form == EndpointForm::kHostPort ? "must be host:port" : "needs a port");
  }

  if (host.empty()) {
    if (form != EndpointForm::kHostPort) return invalid("has no host");
    host = "0.0.0.0";
  }
  e.host = std::string(host);
  return e;
}

std::string Endpoint::HostPort() const {
  std::string port_text = std::to_string(port);
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + port_text;
  return host + ":" + port_text;
}

bool IsLoopbackHost(std::string_view host) {
  std::string h(host);
  std::transform(h.begin(), h.end(), h.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (h == "localhost" || h == "localhost.") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, h.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, h.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
  }
  return false;
}

}  // namespace sluice::net
