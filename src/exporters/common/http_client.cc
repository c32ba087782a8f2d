#include "exporters/common/http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <ctime>
#include <optional>

namespace sluice::exporters {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

Result<Endpoint> Endpoint::Parse(std::string_view url) {
  constexpr std::string_view kHttp = "http://";
  if (url.rfind("https://", 0) == 0) {
    return Status::InvalidArgument("https endpoints are not supported: \"" + std::string(url) +
                                   "\"");
  }
  if (url.rfind(kHttp, 0) != 0) {
    return Status::InvalidArgument("endpoint must start with http://: \"" + std::string(url) +
                                   "\"");
  }
  std::string_view rest = url.substr(kHttp.size());
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  Endpoint e;
  if (slash != std::string_view::npos) {
    e.path = std::string(rest.substr(slash));
    while (!e.path.empty() && e.path.back() == '/') e.path.pop_back();
  }
  if (!authority.empty() && authority.front() == '[') {  // [v6]:port
    size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return Status::InvalidArgument("endpoint has an unclosed '[': \"" + std::string(url) + "\"");
    }
    e.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    e.port = after.size() > 1 && after[0] == ':' ? std::string(after.substr(1)) : "80";
  } else {
    size_t colon = authority.rfind(':');
    e.host = std::string(authority.substr(0, colon));
    e.port = colon == std::string_view::npos ? "80" : std::string(authority.substr(colon + 1));
  }
  if (e.host.empty()) {
    return Status::InvalidArgument("endpoint has no host: \"" + std::string(url) + "\"");
  }
  for (char c : e.port) {
    if (c < '0' || c > '9') {
      return Status::InvalidArgument("endpoint has a bad port: \"" + std::string(url) + "\"");
    }
  }
  return e;
}

struct HttpClient::Impl {
  Impl(Endpoint ep, std::chrono::nanoseconds t, Headers h)
      : endpoint(std::move(ep)), timeout(t), headers(std::move(h)) {}

  Endpoint endpoint;
  std::chrono::nanoseconds timeout;
  Headers headers;
  asio::io_context io;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
  // The body is sent from the caller's buffer, not copied.
  http::request<http::span_body<const char>> request;

  void Close() {
    if (stream) {
      beast::error_code ignored;
      stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
      stream->close();
      stream.reset();
    }
    buffer.clear();
  }

  // Runs the io_context until the started operation completes.
  void RunOnce() {
    io.restart();
    io.run();
  }

  Status Connect() {
    tcp::resolver resolver(io);
    beast::error_code ec;
    auto results = resolver.resolve(endpoint.host, endpoint.port, ec);
    if (ec) return Status::Unavailable("cannot resolve " + endpoint.host + ": " + ec.message());
    stream.emplace(io);
    stream->expires_after(timeout);
    stream->async_connect(results, [&ec](beast::error_code e, const tcp::endpoint&) { ec = e; });
    RunOnce();
    if (ec) {
      stream.reset();
      return Status::Unavailable("cannot connect to " + endpoint.HostPort() + ": " + ec.message());
    }
    stream->socket().set_option(tcp::no_delay(true), ec);
    return Status::Ok();
  }

  Result<HttpReply> Exchange(std::string_view route, std::string_view body, const Headers& extra) {
    request = {};
    request.method(http::verb::post);
    request.target(endpoint.path + std::string(route));
    request.version(11);
    request.set(http::field::host, endpoint.HostPort());
    request.set(http::field::user_agent, "sluice");
    for (const auto& [k, v] : headers) request.set(k, v);
    for (const auto& [k, v] : extra) request.set(k, v);
    request.body() = beast::span<const char>(body.data(), body.size());
    request.prepare_payload();

    beast::error_code ec;
    stream->expires_after(timeout);
    http::async_write(*stream, request, [&ec](beast::error_code e, size_t) { ec = e; });
    RunOnce();
    if (ec) return Status::Unavailable("sending to " + endpoint.HostPort() + ": " + ec.message());

    http::response_parser<http::string_body> parser;
    parser.body_limit(16u << 20);
    http::async_read(*stream, buffer, parser, [&ec](beast::error_code e, size_t) { ec = e; });
    RunOnce();
    if (ec) {
      return Status::Unavailable("reading the reply from " + endpoint.HostPort() + ": " +
                                 ec.message());
    }
    auto& res = parser.get();
    HttpReply reply;
    reply.status = static_cast<int>(res.result_int());
    reply.body = std::move(res.body());
    reply.content_type = std::string(res[http::field::content_type]);
    reply.retry_after = std::string(res[http::field::retry_after]);
    if (!res.keep_alive()) Close();
    return reply;
  }
};

HttpClient::HttpClient(Endpoint endpoint, std::chrono::nanoseconds timeout, Headers headers)
    : impl_(std::make_unique<Impl>(std::move(endpoint), timeout, std::move(headers))) {}

Result<std::unique_ptr<HttpClient>> HttpClient::ForUrl(std::string_view url,
                                                       std::chrono::nanoseconds timeout,
                                                       Headers headers, std::string* path) {
  SLUICE_ASSIGN_OR_RETURN(Endpoint ep, Endpoint::Parse(url));
  *path = ep.path.empty() ? "/" : ep.path;
  ep.path.clear();
  return std::make_unique<HttpClient>(std::move(ep), timeout, std::move(headers));
}

HttpClient::~HttpClient() {
  impl_->Close();
}

Result<HttpReply> HttpClient::Post(std::string_view route, std::string_view body,
                                   const Headers& extra) {
  // A kept-alive connection the server has since closed fails on first use;
  // that one attempt is repeated on a fresh connection.
  bool fresh = !impl_->stream;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!impl_->stream) {
      SLUICE_RETURN_IF_ERROR(impl_->Connect());
      fresh = true;
    }
    Result<HttpReply> reply = impl_->Exchange(route, body, extra);
    if (reply.ok()) return reply;
    impl_->Close();
    if (fresh) return reply;
  }
  return Status::Unavailable("unreachable");
}

std::chrono::milliseconds ParseRetryAfter(std::string_view value,
                                          std::chrono::system_clock::time_point now) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.empty()) return std::chrono::milliseconds(-1);
  bool digits = true;
  for (char c : value) digits = digits && c >= '0' && c <= '9';
  if (digits) {
    if (value.size() > 9) return std::chrono::hours(24);
    return std::chrono::seconds(std::stoll(std::string(value)));
  }
  // IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT".
  std::tm tm{};
  std::string text(value);
  if (strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm) == nullptr) {
    return std::chrono::milliseconds(-1);
  }
  auto at = std::chrono::system_clock::from_time_t(timegm(&tm));
  auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(at - now);
  return wait.count() < 0 ? std::chrono::milliseconds(0) : wait;
}

pipeline::SendResult ClassifyHttp(const Result<HttpReply>& reply, std::string_view what) {
  if (!reply.ok()) return pipeline::SendResult::Retryable(reply.status().message());
  int code = reply->status;
  if (code >= 200 && code < 300) return pipeline::SendResult::Ok();
  std::string body = reply->body.substr(0, 256);
  std::string reason =
      std::string(what) + " answered " + std::to_string(code) + (body.empty() ? "" : ": " + body);
  if (code == 429 || code >= 500) {
    return pipeline::SendResult::Retryable(
        std::move(reason), ParseRetryAfter(reply->retry_after, std::chrono::system_clock::now()));
  }
  return pipeline::SendResult::Permanent(std::move(reason));
}

}  // namespace sluice::exporters
