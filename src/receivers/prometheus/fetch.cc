#include "receivers/prometheus/fetch.h"

#include <openssl/ssl.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <limits>
#include <optional>

namespace sluice::receivers::prometheus {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

struct Fetcher::Conn {
  explicit Conn(asio::io_context& io) : resolver(io) {}
  tcp::resolver resolver;
  std::optional<tcp::resolver::results_type> endpoints;
  // One of the two while connected: https targets get the TLS one, made
  // anew for each connection.
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
  bool open = false;
  beast::flat_buffer buffer;
  http::request<http::empty_body> request;
  std::optional<http::response_parser<http::buffer_body>> parser;
  // The body's landing place, only while a fetch runs: 10,000 idle targets
  // hold none.
  static constexpr size_t kChunk = 64 * 1024;
  std::unique_ptr<char[]> chunk;
  std::chrono::steady_clock::time_point deadline;
  FetchHandler* handler = nullptr;
  bool retried = false;  // a kept-alive connection the target had closed

  // Calls fn with the open stream, plain or TLS.
  template <class F>
  void With(F&& fn) {
    if (secure) {
      fn(*secure);
    } else {
      fn(*plain);
    }
  }
  beast::tcp_stream& lowest() { return secure ? beast::get_lowest_layer(*secure) : *plain; }
};

namespace {

Status ErrorStatus(const char* what, const beast::error_code& ec) {
  if (ec == beast::error::timeout) {
    return Status::Unavailable(std::string(what) + ": scrape_timeout reached");
  }
  return Status::Unavailable(std::string(what) + ": " + ec.message());
}

}  // namespace

Fetcher::Fetcher(asio::io_context& io, std::string host, std::string port, FetchTls tls)
    : io_(io),
      host_(std::move(host)),
      port_(std::move(port)),
      tls_(std::move(tls)),
      conn_(std::make_unique<Conn>(io)) {}

Fetcher::~Fetcher() = default;

void Fetcher::Close() {
  Conn& c = *conn_;
  if (c.plain || c.secure) {
    beast::error_code ec;
    c.lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
    c.lowest().close();
  }
  c.secure.reset();
  c.plain.reset();
  c.open = false;
  c.buffer.clear();
}

struct Fetcher::Op {
  // The steps of one GET, each continuing the next; `self` keeps the
  // fetcher alive.
  static void Resolve(std::shared_ptr<Fetcher> self) {
    Conn& c = *self->conn_;
    if (c.endpoints) return Connect(std::move(self));
    // An address needs no resolver (whose lookups run on a thread asio
    // starts for them).
    beast::error_code ec;
    const asio::ip::address ip = asio::ip::make_address(self->host_, ec);
    if (!ec) {
      c.endpoints = tcp::resolver::results_type::create(
          tcp::endpoint(ip, static_cast<uint16_t>(std::stoi(self->port_))), self->host_,
          self->port_);
      return Connect(std::move(self));
    }
    c.resolver.async_resolve(self->host_, self->port_,
                             [self](const beast::error_code& ec, tcp::resolver::results_type r) {
                               if (ec) return Finish(self, ErrorStatus("resolve", ec));
                               self->conn_->endpoints = std::move(r);
                               Connect(self);
                             });
  }
  static void Connect(std::shared_ptr<Fetcher> self) {
    Conn& c = *self->conn_;
    if (c.open) return Write(std::move(self));
    if (self->tls_.context) {
      c.secure.emplace(self->io_, *self->tls_.context);
    } else {
      c.plain.emplace(self->io_);
    }
    c.lowest().expires_at(c.deadline);
    c.lowest().async_connect(*c.endpoints,
                             [self](const beast::error_code& ec, const tcp::endpoint&) {
                               Conn& c = *self->conn_;
                               if (ec) {
                                 c.endpoints.reset();  // resolve again next time
                                 self->Close();
                                 return Finish(self, ErrorStatus("connect", ec));
                               }
                               c.open = true;
                               c.retried = true;  // a fresh connection is not retried
                               if (!c.secure) return Write(self);
                               Handshake(self);
                             });
  }
  static void Handshake(std::shared_ptr<Fetcher> self) {
    Conn& c = *self->conn_;
    const std::string& name = self->tls_.server_name.empty() ? self->host_ : self->tls_.server_name;
    // SNI, and the name the certificate must carry.
    SSL_set_tlsext_host_name(c.secure->native_handle(), name.c_str());
    if (self->tls_.verify) c.secure->set_verify_callback(ssl::host_name_verification(name));
    c.lowest().expires_at(c.deadline);
    c.secure->async_handshake(ssl::stream_base::client, [self](const beast::error_code& ec) {
      if (ec) {
        self->Close();
        return Finish(self, ErrorStatus("tls handshake", ec));
      }
      Write(self);
    });
  }
  static void Write(std::shared_ptr<Fetcher> self) {
    Conn& c = *self->conn_;
    c.lowest().expires_at(c.deadline);
    c.With([&](auto& stream) {
      http::async_write(stream, c.request, [self](const beast::error_code& ec, size_t) {
        if (ec) return Retry(self, ErrorStatus("write", ec));
        ReadHeader(self);
      });
    });
  }
  // A kept-alive connection may have been closed by the target between
  // scrapes: the first failure on it reconnects once.
  static void Retry(std::shared_ptr<Fetcher> self, Status why) {
    Conn& c = *self->conn_;
    if (c.retried) return Finish(self, std::move(why));
    c.retried = true;
    self->Close();
    Connect(std::move(self));
  }
  static void ReadHeader(std::shared_ptr<Fetcher> self) {
    Conn& c = *self->conn_;
    c.parser.emplace();
    // The handler bounds the (uncompressed) body.
    c.parser->body_limit(std::numeric_limits<std::uint64_t>::max());
    c.lowest().expires_at(c.deadline);
    c.With([&](auto& stream) {
      http::async_read_header(
          stream, c.buffer, *c.parser, [self](const beast::error_code& ec, size_t) {
            Conn& c = *self->conn_;
            if (ec) {
              if (ec == http::error::end_of_stream || ec == asio::error::connection_reset ||
                  ec == asio::error::eof) {
                return Retry(self, ErrorStatus("read", ec));
              }
              return Finish(self, ErrorStatus("read", ec));
            }
            const auto& h = c.parser->get();
            Status st =
                c.handler->OnHeaders(static_cast<int>(h.result_int()),
                                     std::string_view(h[http::field::content_type].data(),
                                                      h[http::field::content_type].size()),
                                     std::string_view(h[http::field::content_encoding].data(),
                                                      h[http::field::content_encoding].size()));
            if (!st.ok()) return Finish(self, std::move(st), /*close=*/true);
            ReadBody(self);
          });
    });
  }
  static void ReadBody(std::shared_ptr<Fetcher> self) {
    Conn& c = *self->conn_;
    if (c.parser->is_done()) return Finish(self, Status::Ok());
    c.parser->get().body().data = c.chunk.get();
    c.parser->get().body().size = Conn::kChunk;
    c.lowest().expires_at(c.deadline);
    c.With([&](auto& stream) {
      http::async_read_some(stream, c.buffer, *c.parser, [self](beast::error_code ec, size_t) {
        Conn& c = *self->conn_;
        if (ec == http::error::need_buffer) ec = {};
        if (ec) return Finish(self, ErrorStatus("read", ec), true);
        const size_t n = Conn::kChunk - c.parser->get().body().size;
        if (n > 0) {
          Status st = c.handler->OnBody(std::string_view(c.chunk.get(), n));
          if (!st.ok()) return Finish(self, std::move(st), true);
        }
        ReadBody(self);
      });
    });
  }
  static void Finish(const std::shared_ptr<Fetcher>& self, Status st, bool close = false) {
    Conn& c = *self->conn_;
    if (!st.ok() || close || !c.parser || !c.parser->is_done() || !c.parser->keep_alive()) {
      self->Close();
    }
    c.parser.reset();
    c.chunk.reset();
    if (c.buffer.size() == 0) c.buffer.shrink_to_fit();
    FetchHandler* h = c.handler;
    c.handler = nullptr;
    h->OnDone(std::move(st));
  }
};

void Fetcher::Get(std::string target, const net::Headers& headers,
                  std::chrono::steady_clock::time_point deadline, FetchHandler* handler) {
  Conn& c = *conn_;
  c.handler = handler;
  c.deadline = deadline;
  c.chunk = std::make_unique_for_overwrite<char[]>(Conn::kChunk);
  // Beast reads at most what the buffer has room for: room for 64 KiB
  // makes a scrape a few reads instead of one per 1.5 KiB.
  c.buffer.reserve(Conn::kChunk);
  c.retried = !c.open;
  c.request = {};
  c.request.method(http::verb::get);
  c.request.target(target);
  c.request.version(11);
  c.request.set(http::field::host, host_ + ":" + port_);
  for (const auto& [name, value] : headers) c.request.set(name, value);
  c.request.keep_alive(true);
  Op::Resolve(shared_from_this());
}

}  // namespace sluice::receivers::prometheus
