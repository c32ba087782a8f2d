#include "net/http_client.h"

#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <optional>

#include "net/http_fields.h"

namespace sluice::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {

// HTTP header names compare without case.
bool SameName(std::string_view a, std::string_view b) {
  return beast::iequals(beast::string_view(a.data(), a.size()),
                        beast::string_view(b.data(), b.size()));
}

using TlsStream = beast::ssl_stream<beast::tcp_stream>;

}  // namespace

Result<std::unique_ptr<ssl::context>> MakeClientTlsContext(const TlsClientOptions& o) {
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  beast::error_code ec;
  if (o.insecure_skip_verify) {
    ctx->set_verify_mode(ssl::verify_none);
  } else {
    ctx->set_verify_mode(ssl::verify_peer);
    if (o.ca_file.empty()) {
      ctx->set_default_verify_paths(ec);
      if (ec) return Status::InvalidArgument("tls: cannot load the system's CAs: " + ec.message());
    } else {
      ctx->load_verify_file(o.ca_file, ec);
      if (ec) {
        return Status::InvalidArgument("tls: cannot load ca_file \"" + o.ca_file +
                                       "\": " + ec.message());
      }
    }
  }
  if (!o.cert_file.empty()) {
    ctx->use_certificate_chain_file(o.cert_file, ec);
    if (ec) {
      return Status::InvalidArgument("tls: cannot load cert_file \"" + o.cert_file +
                                     "\": " + ec.message());
    }
    ctx->use_private_key_file(o.key_file, ssl::context::pem, ec);
    if (ec) {
      return Status::InvalidArgument("tls: cannot load key_file \"" + o.key_file +
                                     "\": " + ec.message());
    }
  }
  return ctx;
}

bool HasHeader(const Headers& headers, std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (SameName(k, name)) return true;
  }
  return false;
}

struct HttpClient::Impl {
  Impl(Endpoint ep, std::chrono::nanoseconds t, Headers h)
      : endpoint(std::move(ep)), timeout(t), headers(std::move(h)) {}

  Endpoint endpoint;
  std::chrono::nanoseconds timeout;
  uint64_t max_reply_bytes = 16u << 20;
  // Of the Post under way: its connect, handshake, write and read together.
  std::chrono::steady_clock::time_point deadline;
  Headers headers;
  std::unique_ptr<ssl::context> tls;  // set for https://
  std::string server_name;            // checked in the certificate, sent as SNI
  bool verify = true;
  asio::io_context io;
  // One of the two is set while connected.
  std::optional<beast::tcp_stream> plain;
  std::optional<TlsStream> secure;
  beast::flat_buffer buffer;
  // Over TLS, the body is sent from the caller's buffer, not copied.
  http::request<http::span_body<const char>> request;
  // Of plain requests, kept between them: the head and its header lines.
  std::string head;
  std::vector<std::pair<std::string_view, std::string_view>> fields;
  const std::string host_port = endpoint.HostPort();

  bool connected() const { return plain.has_value() || secure.has_value(); }

  beast::tcp_stream& Lowest() { return secure ? beast::get_lowest_layer(*secure) : *plain; }

  void Close() {
    if (!connected()) return;
    // No TLS close_notify: the connection is dropped either way, and waiting
    // for the peer's answer could block.
    beast::error_code ignored;
    Lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    Lowest().close();
    plain.reset();
    secure.reset();
    buffer.clear();
  }

  // Runs the io_context until the started operation completes.
  void RunOnce() {
    io.restart();
    io.run();
  }

  Status Connect() {
    // Name resolution is synchronous (getaddrinfo) and outside the deadline.
    tcp::resolver resolver(io);
    beast::error_code ec;
    auto results = resolver.resolve(endpoint.host, std::to_string(endpoint.port), ec);
    if (ec) return Status::Unavailable("cannot resolve " + endpoint.host + ": " + ec.message());
    plain.emplace(io);
    plain->expires_at(deadline);
    plain->async_connect(results, [&ec](beast::error_code e, const tcp::endpoint&) { ec = e; });
    RunOnce();
    if (ec) {
      plain.reset();
      return Status::Unavailable("cannot connect to " + host_port + ": " + ec.message());
    }
    plain->socket().set_option(tcp::no_delay(true), ec);
    // Plain exchanges poll the socket themselves (ExchangePlain).
    plain->socket().non_blocking(true, ec);
    if (tls) return Handshake();
    return Status::Ok();
  }

  Status Handshake() {
    secure.emplace(std::move(*plain), *tls);
    plain.reset();
    // SNI carries names only, never addresses.
    beast::error_code ec;
    asio::ip::make_address(server_name, ec);
    if (ec && !SSL_set_tlsext_host_name(secure->native_handle(), server_name.c_str())) {
      Close();
      return Status::Unavailable("cannot set the TLS server name " + server_name);
    }
    if (verify) secure->set_verify_callback(ssl::host_name_verification(server_name));
    beast::get_lowest_layer(*secure).expires_at(deadline);
    ec = {};
    secure->async_handshake(ssl::stream_base::client, [&ec](beast::error_code e) { ec = e; });
    RunOnce();
    if (ec) {
      Close();
      return Status::Unavailable("TLS handshake with " + host_port + " failed: " + ec.message());
    }
    return Status::Ok();
  }

  template <typename Stream>
  Result<HttpReply> ExchangeOn(Stream& stream) {
    beast::error_code ec;
    Lowest().expires_at(deadline);
    http::async_write(stream, request, [&ec](beast::error_code e, size_t) { ec = e; });
    RunOnce();
    if (ec) return Status::Unavailable("sending to " + host_port + ": " + ec.message());

    http::response_parser<http::string_body> parser;
    parser.body_limit(max_reply_bytes);
    http::async_read(stream, buffer, parser, [&ec](beast::error_code e, size_t) { ec = e; });
    RunOnce();
    if (ec) {
      return Status::Unavailable("reading the reply from " + host_port + ": " + ec.message());
    }
    return Reply(parser.get());
  }

  // Waits until the socket is ready for `events` or the deadline passes.
  Status Wait(int fd, short events, const char* doing) {
    for (;;) {
      auto left =
          std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        return Status::Unavailable(std::string(doing) + host_port + ": timed out");
      }
      pollfd p{fd, events, 0};
      int n = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), INT32_MAX)));
      if (n > 0) return Status::Ok();  // errors and hang-ups surface in the call that follows
      if (n < 0 && errno != EINTR) {
        return Status::Unavailable(std::string(doing) + host_port + ": " + std::strerror(errno));
      }
    }
  }

  // The request head, with the same headers Beast's serializer would write:
  // Host and User-Agent, then the configured headers, then `extra`, a later
  // value replacing an earlier one of the same name (any case). CR and LF
  // cannot end up inside a line.
  void FormatHead(std::string_view route, size_t body_size, const Headers& extra) {
    fields.clear();
    auto add = [&](std::string_view k, std::string_view v) {
      if (SameName(k, "content-length") || SameName(k, "transfer-encoding")) return;
      for (auto& f : fields) {
        if (SameName(f.first, k)) {
          f.second = v;
          return;
        }
      }
      fields.emplace_back(k, v);
    };
    add("Host", host_port);
    add("User-Agent", "sluice");
    for (const auto& [k, v] : headers) add(k, v);
    for (const auto& [k, v] : extra) add(k, v);
    head.clear();
    head += "POST ";
    for (std::string_view part : {std::string_view(endpoint.path), route}) {
      for (char c : part) {
        if (c != '\r' && c != '\n') head.push_back(c);
      }
    }
    head += " HTTP/1.1\r\n";
    for (const auto& [k, v] : fields) AppendHeaderField(k, v, &head);
    AppendHeaderField("Content-Length", std::to_string(body_size), &head);
    head += "\r\n";
  }

  // Plain HTTP, on the socket directly: one sendmsg for head and body, then
  // poll and recv until Beast's parser has the whole reply. Three system
  // calls per exchange where Beast's composed operations on an io_context
  // made about ten (epoll waits, timer settings, a recv that found nothing).
  Result<HttpReply> ExchangePlain(std::string_view route, std::string_view body,
                                  const Headers& extra) {
    FormatHead(route, body.size(), extra);
    const int fd = plain->socket().native_handle();
    iovec iov[2] = {{head.data(), head.size()}, {const_cast<char*>(body.data()), body.size()}};
    size_t first = 0;  // iov entries fully sent
    while (first < 2) {
      msghdr msg{};
      msg.msg_iov = iov + first;
      msg.msg_iovlen = 2 - first;
      ssize_t n = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          SLUICE_RETURN_IF_ERROR(Wait(fd, POLLOUT, "sending to "));
          continue;
        }
        return Status::Unavailable("sending to " + host_port + ": " + std::strerror(errno));
      }
      auto sent = static_cast<size_t>(n);
      while (first < 2 && sent >= iov[first].iov_len) {
        sent -= iov[first].iov_len;
        iov[first].iov_len = 0;
        ++first;
      }
      if (first < 2) {
        iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + sent;
        iov[first].iov_len -= sent;
      }
    }
    http::response_parser<http::string_body> parser;
    parser.body_limit(max_reply_bytes);
    auto failed = [this](const std::string& why) {
      return Status::Unavailable("reading the reply from " + host_port + ": " + why);
    };
    for (;;) {
      beast::error_code ec;
      while (buffer.size() > 0 && !parser.is_done()) {
        size_t used = parser.put(buffer.data(), ec);
        buffer.consume(used);
        if (ec == http::error::need_more) break;
        if (ec) return failed(ec.message());
        if (used == 0) break;
      }
      if (parser.is_done()) break;
      SLUICE_RETURN_IF_ERROR(Wait(fd, POLLIN, "reading the reply from "));
      auto space = buffer.prepare(64u << 10);
      ssize_t n = ::recv(fd, space.data(), space.size(), 0);
      if (n > 0) {
        buffer.commit(static_cast<size_t>(n));
      } else if (n == 0) {
        if (!parser.got_some()) return failed("the connection closed before an answer");
        ec = {};
        parser.put_eof(ec);
        if (ec) return failed(ec.message());
        if (!parser.is_done()) return failed("the connection closed");
      } else if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
        return failed(std::strerror(errno));
      }
    }
    return Reply(parser.get());
  }

  HttpReply Reply(http::response<http::string_body>& res) {
    HttpReply reply;
    reply.status = static_cast<int>(res.result_int());
    reply.body = std::move(res.body());
    reply.content_type = std::string(res[http::field::content_type]);
    reply.retry_after = std::string(res[http::field::retry_after]);
    if (!res.keep_alive()) Close();
    return reply;
  }

  Result<HttpReply> Exchange(std::string_view route, std::string_view body, const Headers& extra) {
    if (plain) return ExchangePlain(route, body, extra);
    request = {};
    request.method(http::verb::post);
    request.target(endpoint.path + std::string(route));
    request.version(11);
    request.set(http::field::host, host_port);
    request.set(http::field::user_agent, "sluice");
    for (const auto& [k, v] : headers) request.set(k, v);
    for (const auto& [k, v] : extra) request.set(k, v);
    request.body() = beast::span<const char>(body.data(), body.size());
    request.prepare_payload();
    return ExchangeOn(*secure);
  }
};

HttpClient::HttpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<HttpClient>> HttpClient::Create(Endpoint endpoint,
                                                       std::chrono::nanoseconds timeout,
                                                       Headers headers,
                                                       const TlsClientOptions& tls) {
  bool secure = endpoint.tls;
  auto impl = std::make_unique<Impl>(std::move(endpoint), timeout, std::move(headers));
  if (secure) {
    SLUICE_ASSIGN_OR_RETURN(impl->tls, MakeClientTlsContext(tls));
    impl->server_name =
        tls.server_name_override.empty() ? impl->endpoint.host : tls.server_name_override;
    impl->verify = !tls.insecure_skip_verify;
  }
  return std::unique_ptr<HttpClient>(new HttpClient(std::move(impl)));
}

Result<std::unique_ptr<HttpClient>> HttpClient::ForUrl(std::string_view url,
                                                       std::chrono::nanoseconds timeout,
                                                       Headers headers, std::string* path,
                                                       const TlsClientOptions& tls) {
  SLUICE_ASSIGN_OR_RETURN(Endpoint ep, Endpoint::Parse(url, EndpointForm::kUrl));
  *path = ep.path.empty() ? "/" : ep.path;
  ep.path.clear();
  return Create(std::move(ep), timeout, std::move(headers), tls);
}

std::string CheckClientConfig(std::string_view url, const TlsClientOptions& tls) {
  Result<Endpoint> e = Endpoint::Parse(url, EndpointForm::kUrl);
  if (!e.ok()) return e.status().message();
  if (e->tls) {
    Result<std::unique_ptr<ssl::context>> ctx = MakeClientTlsContext(tls);
    if (!ctx.ok()) return ctx.status().message();
  }
  return "";
}

HttpClient::~HttpClient() {
  impl_->Close();
}

void HttpClient::SetMaxReplyBytes(uint64_t bytes) {
  impl_->max_reply_bytes = bytes;
}

Result<HttpReply> HttpClient::Post(std::string_view route, std::string_view body,
                                   const Headers& extra) {
  // A kept-alive connection the server has since closed fails on first use;
  // that one attempt is repeated on a fresh connection.
  bool fresh = !impl_->connected();
  impl_->deadline = std::chrono::steady_clock::now() +
                    std::chrono::duration_cast<std::chrono::steady_clock::duration>(impl_->timeout);
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!impl_->connected()) {
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

}  // namespace sluice::net
