#include "pipeline/admin.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cctype>
#include <string_view>

#include "base/check.h"
#include "base/strings.h"

namespace sluice::pipeline {
namespace {

using Digest = std::array<unsigned char, 32>;  // SHA-256

Digest Sha256(std::string_view bytes) {
  Digest d{};
  unsigned int len = 0;
  // Invariant: a digest is computed. A failure left unchecked would compare
  // two all-zero digests equal and let any credentials in.
  int ok = EVP_Digest(bytes.data(), bytes.size(), d.data(), &len, EVP_sha256(), nullptr);
  SLUICE_CHECK(ok == 1 && len == d.size());
  return d;
}

// Constant time: both digests are always 32 bytes, and CRYPTO_memcmp reads
// all of them whatever differs, so neither the position of the first wrong
// byte nor the secret's length shows in the time taken.
bool SameDigest(const Digest& a, const Digest& b) {
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::optional<Digest> BearerDigest(const TelemetryOptions::Auth& auth) {
  if (!auth.bearer_token) return std::nullopt;
  return Sha256(*auth.bearer_token);
}

std::optional<Digest> BasicDigest(const TelemetryOptions::Auth& auth) {
  if (!auth.basic) return std::nullopt;
  return Sha256(auth.basic->username + ":" + auth.basic->password);
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Standard base64 with padding (RFC 4648 §4), as Basic credentials are
// written; false for anything else.
bool DecodeBase64(std::string_view in, std::string* out) {
  if (in.empty() || in.size() % 4 != 0) return false;
  size_t padding = 0;
  if (in.back() == '=') padding = in[in.size() - 2] == '=' ? 2 : 1;
  out->resize(in.size() / 4 * 3);
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out->data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  if (n < 0 || static_cast<size_t>(n) < padding) return false;
  out->resize(static_cast<size_t>(n) - padding);
  return true;
}

// Nothing an admin response says may be read by another origin's script, or
// be sniffed into something executable, or be kept by a cache on the way.
void AddSecurityHeaders(net::HttpResponse& r) {
  bool has_nosniff = false;
  bool has_cache_control = false;
  std::erase_if(r.headers, [](const auto& h) {
    return h.first.size() >= 15 && EqualsIgnoreCase(h.first.substr(0, 15), "access-control-");
  });
  for (const auto& [name, value] : r.headers) {
    has_nosniff = has_nosniff || EqualsIgnoreCase(name, "x-content-type-options");
    has_cache_control = has_cache_control || EqualsIgnoreCase(name, "cache-control");
  }
  if (!has_nosniff) r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  if (!has_cache_control) r.headers.emplace_back("Cache-Control", "no-store");
}

bool IsProbe(const net::HttpRequest& r) {
  return (r.method == "GET" || r.method == "HEAD") && (r.path == "/healthz" || r.path == "/readyz");
}

}  // namespace

AdminHandler::AdminHandler(telemetry::Registry& registry, telemetry::Health& health,
                           PerClientRateLimiter& limiter, const TelemetryOptions::Auth& auth,
                           std::vector<Module*> modules)
    : registry_(registry),
      health_(health),
      limiter_(limiter),
      modules_(std::move(modules)),
      bearer_(BearerDigest(auth)),
      basic_(BasicDigest(auth)),
      limited_(registry
                   .AddCounter("sluice_admin_rate_limited_total",
                               "Admin requests refused by the per-client rate limiter.")
                   .Get()),
      unauthorized_(registry
                        .AddCounter("sluice_admin_unauthorized_total",
                                    "Admin requests refused 401 for missing or wrong credentials "
                                    "(service.telemetry.metrics.auth).")
                        .Get()) {}

std::string AdminHandler::Refusal(const net::HttpRequest& request) const {
  if (!bearer_ && !basic_) return "";
  const std::string_view header = TrimSpaces(request.Header("authorization"));
  const char* expected = bearer_ && basic_ ? "Bearer or Basic" : bearer_ ? "Bearer" : "Basic";
  if (header.empty()) {
    return std::string("authentication required: send Authorization: ") + expected;
  }
  const size_t space = header.find_first_of(" \t");
  const std::string_view scheme = header.substr(0, space);
  const std::string_view credentials =
      space == std::string_view::npos ? std::string_view() : TrimSpaces(header.substr(space));
  if (EqualsIgnoreCase(scheme, "bearer")) {
    if (!bearer_) return "Bearer authentication is not configured; send Authorization: Basic";
    if (credentials.empty()) return "empty Bearer token";
    return SameDigest(Sha256(credentials), *bearer_) ? "" : "invalid Bearer token";
  }
  if (EqualsIgnoreCase(scheme, "basic")) {
    if (!basic_) return "Basic authentication is not configured; send Authorization: Bearer";
    std::string user_pass;
    if (!DecodeBase64(credentials, &user_pass) || user_pass.find(':') == std::string::npos) {
      return "malformed Basic credentials: expected base64 of username:password";
    }
    // The username never contains ':' (the schema refuses it), so the first
    // colon separates it and the password may hold any others.
    return SameDigest(Sha256(user_pass), *basic_) ? "" : "invalid username or password";
  }
  return std::string("unsupported authorization scheme; send Authorization: ") + expected;
}

net::HttpResponse AdminHandler::Unauthorized(const std::string& reason) const {
  std::string body = "{\"error\":";
  AppendJsonString(body, reason);
  body += "}";
  net::HttpResponse r = net::HttpResponse::Json(401, std::move(body));
  if (bearer_) r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"sluice\"");
  if (basic_) r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"sluice\"");
  return r;
}

void AdminHandler::Handle(net::HttpRequest&& request, net::Responder respond) {
  net::Responder secured = [respond = std::move(respond)](net::HttpResponse r) {
    AddSecurityHeaders(r);
    respond(std::move(r));
  };
  // The rate limit comes before authentication: every guess at the
  // credentials spends the guessing client's tokens, so brute force runs at
  // rate_limit.requests_per_second at most, and a flood of bad credentials
  // costs no hashing. (A client's bucket is its own; others are unaffected.)
  int retry_after = 1;
  if (!limiter_.Allow(request.remote_ip, &retry_after)) {
    limited_.Inc();
    net::HttpResponse r = net::HttpResponse::Text(429, "too many requests from this client");
    r.headers.emplace_back("Retry-After", std::to_string(retry_after));
    return secured(std::move(r));
  }
  // Probes stay open so that orchestrators need no credentials; they are
  // answered here, before the modules, so no module route can be reached
  // through them.
  if (IsProbe(request)) {
    if (request.path == "/healthz") return secured(net::HttpResponse::Text(200, "ok"));
    telemetry::Health::Readiness r = health_.Check();
    return secured(net::HttpResponse::Json(r.ready ? 200 : 503, std::move(r.json)));
  }
  if (std::string refusal = Refusal(request); !refusal.empty()) {
    unauthorized_.Inc();
    return secured(Unauthorized(refusal));
  }
  for (Module* m : modules_) {
    if (m->Handle(request, secured)) return;
  }
  if (request.method != "GET" && request.method != "HEAD") {
    net::HttpResponse r = net::HttpResponse::Text(405, "method not allowed");
    r.headers.emplace_back("Allow", "GET, HEAD");
    return secured(std::move(r));
  }
  if (request.path == "/metrics") {
    net::HttpResponse r = net::HttpResponse::Text(200, registry_.Render());
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    return secured(std::move(r));
  }
  secured(net::HttpResponse::Text(
      404, "not found: " + request.path + " (routes: /metrics, /healthz, /readyz)"));
}

}  // namespace sluice::pipeline
