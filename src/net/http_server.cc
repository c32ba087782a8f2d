#include "net/http_server.h"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <mutex>
#include <set>
#include <thread>

#include "base/clock.h"
#include "base/logging.h"
#include "net/endpoint.h"
#include "net/http_fields.h"

namespace sluice::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
// Each connection's handlers run on a strand of the io_context, named by its
// concrete type: the type-erased any_io_executor of beast::tcp_stream costs
// an allocation and reference counting on every operation.
using Strand = asio::strand<asio::io_context::executor_type>;
using Socket = tcp::socket::rebind_executor<Strand>::other;
using PlainStream = beast::basic_stream<tcp, Strand>;
using TlsStream = beast::ssl_stream<PlainStream>;

std::string_view HttpRequest::Header(std::string_view lower_name) const {
  for (const auto& [k, v] : headers) {
    if (k == lower_name) return v;
  }
  return {};
}

HttpResponse HttpResponse::Text(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  if (!r.body.empty() && r.body.back() != '\n') r.body += '\n';
  return r;
}

std::string PercentEncode(std::string_view in) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(in.size());
  for (unsigned char c : in) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string PercentDecode(std::string_view in, bool plus_is_space) {
  auto hex = [](char c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
  };
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '+' && plus_is_space) {
      out.push_back(' ');
    } else if (in[i] == '%' && i + 2 < in.size() && hex(in[i + 1]) >= 0 && hex(in[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex(in[i + 1]) << 4 | hex(in[i + 2])));
      i += 2;
    } else {
      out.push_back(in[i]);
    }
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> ParseQueryString(std::string_view query) {
  auto decode = [](std::string_view in) { return PercentDecode(in, /*plus_is_space=*/true); };
  std::vector<std::pair<std::string, std::string>> out;
  size_t pos = 0;
  while (pos <= query.size() && !query.empty()) {
    size_t end = query.find('&', pos);
    if (end == std::string_view::npos) end = query.size();
    std::string_view pair = query.substr(pos, end - pos);
    if (!pair.empty()) {
      size_t eq = pair.find('=');
      out.emplace_back(decode(pair.substr(0, eq)),
                       eq == std::string_view::npos ? "" : decode(pair.substr(eq + 1)));
    }
    pos = end + 1;
  }
  return out;
}

ResponseStream::PushResult ResponseStream::Push(std::string chunk) {
  std::function<void()> wake;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (gone_ || closed_) return PushResult::kGone;
    if (pending_.size() + chunk.size() > max_pending_bytes_) return PushResult::kFull;
    pending_ += chunk;
    wake = std::move(wake_);
    wake_ = nullptr;
  }
  if (wake) wake();
  return PushResult::kQueued;
}

void ResponseStream::Close() {
  std::function<void()> wake;
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    wake = std::move(wake_);
    wake_ = nullptr;
  }
  if (wake) wake();
}

bool ResponseStream::gone() const {
  std::lock_guard<std::mutex> lock(mu_);
  return gone_;
}

bool ResponseStream::Take(std::string* out, bool* ended) {
  std::lock_guard<std::mutex> lock(mu_);
  out->clear();
  out->swap(pending_);
  *ended = closed_ && out->empty();
  return !out->empty();
}

void ResponseStream::SetWake(std::function<void()> wake) {
  bool now;
  {
    std::lock_guard<std::mutex> lock(mu_);
    now = !pending_.empty() || closed_;
    if (!now) wake_ = std::move(wake);
  }
  if (now) wake();
}

void ResponseStream::MarkGone() {
  std::lock_guard<std::mutex> lock(mu_);
  gone_ = true;
  wake_ = nullptr;
  pending_.clear();
}

HttpResponse HttpResponse::Json(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = std::move(body);
  return r;
}

// What the server needs of a connection, whatever its stream.
//
// Timeouts are deadlines that the server's sweep (every kSweepInterval)
// enforces by closing the connection, rather than a timer per operation:
// re-arming a timer per read and write costs a timerfd system call each.
class SessionBase {
 public:
  virtual ~SessionBase() = default;
  // Closes the connection if its deadline has passed.
  void CloseIfExpired(int64_t now_mono) {
    int64_t d = deadline_.load(std::memory_order_relaxed);
    if (d != 0 && now_mono >= d) ForceClose();
  }
  virtual void Run() = 0;
  // Closes the connection if it is waiting for a request; a connection with
  // a request in flight closes after answering it.
  virtual void CloseIfIdle() = 0;
  virtual void ForceClose() = 0;

 protected:
  // The operation now under way must finish within `d`; Clear for none.
  void SetDeadline(std::chrono::nanoseconds d) {
    deadline_.store(Clock::Real().MonotonicNanos() + d.count(), std::memory_order_relaxed);
  }
  void ClearDeadline() { deadline_.store(0, std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> deadline_{0};  // steady nanoseconds; 0: none
};

constexpr std::chrono::milliseconds kSweepInterval{100};

class HttpServer::Impl : public std::enable_shared_from_this<HttpServer::Impl> {
 public:
  Impl(asio::io_context& io, HttpServerOptions options, HttpHandler& handler,
       telemetry::Registry& registry)
      : io_(io),
        options_(std::move(options)),
        handler_(handler),
        acceptor_(io),
        metrics_(registry),
        connections_(metrics_.connections.With({options_.name})),
        in_flight_gauge_(metrics_.requests_in_flight.With({options_.name})),
        duration_(metrics_.duration.With({options_.name})),
        sweep_timer_(asio::make_strand(io)) {}

  Status Listen();
  void Accept();
  // Closes connections past their deadline, every kSweepInterval until
  // sweeping_ is cleared.
  void Sweep();
  void StopAccepting();
  void CloseAll();
  // Starts a session for the socket unless max_connections are open.
  bool Register(Socket& socket);
  void Unregister(SessionBase* s);
  // Loads the certificate and key when options_.tls is set.
  Status LoadTls();
  void CountResponse(int status, int64_t started_mono) {
    metrics_.requests.With({options_.name, std::to_string(status)}).Inc();
    duration_.Observe(static_cast<double>(Clock::Real().MonotonicNanos() - started_mono) / 1e9);
  }

  asio::io_context& io_;
  const HttpServerOptions options_;
  HttpHandler& handler_;
  tcp::acceptor acceptor_;
  HttpServerMetrics metrics_;
  telemetry::Gauge& connections_;
  telemetry::Gauge& in_flight_gauge_;
  telemetry::Histogram& duration_;
  std::atomic<int64_t> in_flight_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> sweeping_{true};
  asio::steady_timer sweep_timer_;  // on a strand of its own
  std::string bound_;
  std::unique_ptr<asio::ssl::context> ssl_;  // set for HTTPS
  std::mutex mu_;
  std::set<std::shared_ptr<SessionBase>> sessions_;
};

namespace {

// The status line and header fields of `resp`, ending with the empty line.
// Content-Length is the body's size (also when answering HEAD).
void AppendResponseHead(const HttpResponse& resp, unsigned version, bool keep_alive,
                        std::string* out) {
  out->append(version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
  out->append(std::to_string(resp.status));
  out->push_back(' ');
  auto reason = http::obsolete_reason(static_cast<http::status>(resp.status));
  if (reason.empty()) {
    out->append("Unknown");
  } else {
    out->append(reason.data(), reason.size());
  }
  out->append("\r\n");
  AppendHeaderField("Server", "sluice", out);
  AppendHeaderField("Content-Type", resp.content_type, out);
  for (const auto& [name, value] : resp.headers) AppendHeaderField(name, value, out);
  if (version == 10 && keep_alive) AppendHeaderField("Connection", "keep-alive", out);
  if (version != 10 && !keep_alive) AppendHeaderField("Connection", "close", out);
  // A streamed body ends when the connection closes.
  if (!resp.stream) AppendHeaderField("Content-Length", std::to_string(resp.body.size()), out);
  out->append("\r\n");
}

}  // namespace

// One connection over a plain (PlainStream) or TLS (TlsStream) stream.
// All of its handlers run on its strand.
template <class Stream>
class Session final : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

 public:
  Session(Socket socket, std::shared_ptr<HttpServer::Impl> server) requires(!kTls)
      : stream_(std::move(socket)), server_(std::move(server)) {
    NotePeer();
  }
  Session(Socket socket, std::shared_ptr<HttpServer::Impl> server) requires(kTls)
      : stream_(std::move(socket), *server->ssl_), server_(std::move(server)) {
    NotePeer();
  }

  void Run() override {
    asio::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      if constexpr (kTls) {
        self->SetDeadline(self->server_->options_.header_read_timeout);
        self->stream_.async_handshake(asio::ssl::stream_base::server, [self](beast::error_code ec) {
          if (ec) {
            self->server_->metrics_.tls_handshake_failures.With({self->server_->options_.name})
                .Inc();
            return self->Shutdown();
          }
          self->Read();
        });
      } else {
        self->Read();
      }
    });
  }

  void CloseIfIdle() override {
    asio::post(stream_.get_executor(), [self = this->shared_from_this()] {
      if (!self->busy_ || self->stream_body_) self->Shutdown();
    });
  }
  void ForceClose() override {
    asio::post(stream_.get_executor(), [self = this->shared_from_this()] { self->Shutdown(); });
  }

 private:
  PlainStream& Lowest() { return beast::get_lowest_layer(stream_); }

  // A connection's peer does not change: asked once, not per request.
  void NotePeer() {
    beast::error_code ec;
    auto ep = Lowest().socket().remote_endpoint(ec);
    if (!ec) remote_ip_ = ep.address().to_string();
  }

  void Read() {
    if (server_->stopping_) return Shutdown();
    parser_.emplace();
    parser_->body_limit(server_->options_.max_body_bytes);
    parser_->header_limit(64 * 1024);
    SetDeadline(first_request_ ? server_->options_.header_read_timeout
                               : server_->options_.idle_timeout);
    first_request_ = false;
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) return OnReadError(ec);
    busy_ = true;
    // From here the request is in flight: a graceful shutdown waits for it.
    BeginRequest();
    SetDeadline(server_->options_.body_read_timeout);
    // A body of known length within the limit is read straight into the
    // request's string, each read asking for all that remains. Through the
    // parser it would pass through buffer_, whose capacity stays near the
    // header's size: a 28 KB body took some 40 small reads, plus a copy.
    auto length = parser_->content_length();
    if (length && !parser_->chunked() && *length <= server_->options_.max_body_bytes) {
      body_length_ = static_cast<size_t>(*length);
      size_t have = std::min<size_t>(buffer_.size(), body_length_);
      body_.resize(have);
      asio::buffer_copy(asio::buffer(body_.data(), have), buffer_.data());
      buffer_.consume(have);
      return ReadBody(have);
    }
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, size_t) {
                       self->OnBody(ec, /*direct=*/false);
                     });
  }

  // Reads the rest of a body of body_length_ bytes, `have` of which are in
  // body_. The string grows with what arrives (at most doubling), so an
  // announced length commits no memory before its bytes come.
  void ReadBody(size_t have) {
    if (have == body_length_) return OnBody({}, /*direct=*/true);
    if (have == body_.size()) {
      body_.resize(std::min(body_length_, std::max(2 * have, have + kBodyStep)));
    }
    stream_.async_read_some(
        asio::buffer(body_.data() + have, body_.size() - have),
        [self = this->shared_from_this(), have](beast::error_code ec, size_t n) {
          if (ec) return self->OnBody(ec, /*direct=*/true);
          self->ReadBody(have + n);
        });
  }

  void OnReadError(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      keep_alive_ = false;
      return Write(HttpResponse::Text(413, "request body exceeds the limit of " +
                                               std::to_string(server_->options_.max_body_bytes) +
                                               " bytes"));
    }
    if (ec == http::error::header_limit) {
      keep_alive_ = false;
      return Write(HttpResponse::Text(431, "request headers too large"));
    }
    // A deadline passed by the sweep closes the socket: operation_aborted.
    if (ec == http::error::end_of_stream || ec == asio::error::eof ||
        ec == asio::error::operation_aborted || ec == asio::error::connection_reset || !busy_) {
      return Shutdown();
    }
    keep_alive_ = false;
    return Write(HttpResponse::Text(400, "malformed HTTP request: " + ec.message()));
  }

  // `direct`: the body was read into body_ rather than by the parser.
  void OnBody(beast::error_code ec, bool direct) {
    if (ec) return OnReadError(ec);
    ClearDeadline();
    auto msg = parser_->release();
    keep_alive_ = msg.keep_alive();
    version_ = msg.version();
    head_request_ = msg.method() == http::verb::head;
    HttpRequest req;
    req.method = std::string(msg.method_string());
    std::string_view target(msg.target().data(), msg.target().size());
    size_t q = target.find('?');
    req.path = std::string(target.substr(0, q));
    if (q != std::string_view::npos) req.query = std::string(target.substr(q + 1));
    req.headers.reserve(16);
    for (const auto& f : msg) {
      std::string name(f.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      req.headers.emplace_back(std::move(name), std::string(f.value()));
    }
    req.body = direct ? std::move(body_) : std::move(msg.body());
    body_.clear();
    req.remote_ip = remote_ip_;
    started_mono_ = Clock::Real().MonotonicNanos();
    auto self = this->shared_from_this();
    server_->handler_.Handle(std::move(req), [self](HttpResponse resp) {
      asio::post(self->stream_.get_executor(),
                 [self, resp = std::move(resp)]() mutable { self->Answer(std::move(resp)); });
    });
  }

  void Answer(HttpResponse resp) { Write(std::move(resp)); }

  void BeginRequest() {
    if (counted_) return;
    counted_ = true;
    server_->in_flight_.fetch_add(1);
    server_->in_flight_gauge_.Add(1);
  }
  void EndRequest() {
    if (!counted_) return;
    counted_ = false;
    server_->in_flight_.fetch_sub(1);
    server_->in_flight_gauge_.Add(-1);
  }

  // The response goes out as one buffer the session keeps between
  // requests. Beast's serializer walked its field list per response and
  // cost some 3% of the core at 19k small answers a second; the head is a
  // handful of lines, written here per RFC 9112.
  void Write(HttpResponse resp) {
    busy_ = true;
    server_->CountResponse(resp.status,
                           started_mono_ ? started_mono_ : Clock::Real().MonotonicNanos());
    if (resp.stream && !head_request_) return WriteStreamHead(std::move(resp));
    bool keep = keep_alive_ && !server_->stopping_;
    out_.clear();
    AppendResponseHead(resp, version_ ? version_ : 11, keep, &out_);
    if (!head_request_) out_.append(resp.body);
    SetDeadline(server_->options_.body_read_timeout);
    asio::async_write(stream_, asio::buffer(out_),
                      [self = this->shared_from_this(), keep](beast::error_code ec, size_t) {
                        self->busy_ = false;
                        self->EndRequest();
                        self->started_mono_ = 0;
                        if (ec) return self->Shutdown();
                        if (!keep) return self->LingeringClose();
                        self->Read();
                      });
  }

  // A streamed body: the head and the first bytes, then each chunk as the
  // producer pushes it. The request no longer counts as in flight (a
  // graceful shutdown does not wait for a stream that may never end; it
  // closes it with the idle connections). Each write must finish within
  // body_read_timeout, so a client that stops reading is cut.
  void WriteStreamHead(HttpResponse resp) {
    EndRequest();
    started_mono_ = 0;
    out_.clear();
    AppendResponseHead(resp, version_ ? version_ : 11, /*keep_alive=*/false, &out_);
    out_.append(resp.body);
    stream_body_ = std::move(resp.stream);
    WriteStreamChunk();
  }

  void WriteStreamChunk() {
    SetDeadline(server_->options_.body_read_timeout);
    asio::async_write(stream_, asio::buffer(out_),
                      [self = this->shared_from_this()](beast::error_code ec, size_t) {
                        self->ClearDeadline();
                        if (ec) return self->Shutdown();
                        self->AwaitStream();
                      });
  }

  void AwaitStream() {
    bool ended = false;
    if (stream_body_->Take(&out_, &ended)) return WriteStreamChunk();
    if (ended || closed_) return Shutdown();
    auto self = this->shared_from_this();
    stream_body_->SetWake(
        [self] { asio::post(self->stream_.get_executor(), [self] { self->AwaitStream(); }); });
  }

  // After answering a request whose body was not read (413, 400), the client
  // may still be sending. Closing at once would reset the connection and the
  // client would never see the answer, so stop sending, discard what arrives
  // for a moment, then close.
  void LingeringClose() {
    beast::error_code ec;
    Lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return Shutdown();
    SetDeadline(std::chrono::seconds(2));
    Discard();
  }

  void Discard() {
    discard_.resize(64 * 1024);
    stream_.async_read_some(asio::buffer(discard_),
                            [self = this->shared_from_this()](beast::error_code ec, size_t) {
                              if (ec) return self->Shutdown();
                              self->Discard();
                            });
  }

  void Shutdown() {
    EndRequest();
    if (stream_body_) stream_body_->MarkGone();
    if (closed_) return;
    closed_ = true;
    beast::error_code ec;
    Lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
    Lowest().socket().close(ec);
    server_->Unregister(this);
  }

  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  // A body of known length, read past the parser.
  static constexpr size_t kBodyStep = 64 << 10;
  std::string body_;
  size_t body_length_ = 0;
  std::string out_;                              // the response being written
  std::shared_ptr<ResponseStream> stream_body_;  // set once a streamed body began
  bool head_request_ = false;
  std::string remote_ip_;  // the peer's address, "" when it could not be had
  std::shared_ptr<HttpServer::Impl> server_;
  bool keep_alive_ = true;
  bool busy_ = false;
  bool closed_ = false;
  bool first_request_ = true;
  bool counted_ = false;
  std::vector<char> discard_;
  unsigned version_ = 11;
  int64_t started_mono_ = 0;
};

Status HttpServer::Impl::LoadTls() {
  if (!options_.tls) return Status::Ok();
  auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                   asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                   asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use);
  beast::error_code ec;
  ctx->use_certificate_chain_file(options_.tls->cert_file, ec);
  if (ec) {
    return Status::InvalidArgument("tls: cannot load cert_file \"" + options_.tls->cert_file +
                                   "\": " + ec.message());
  }
  ctx->use_private_key_file(options_.tls->key_file, asio::ssl::context::pem, ec);
  if (ec) {
    return Status::InvalidArgument("tls: cannot load key_file \"" + options_.tls->key_file +
                                   "\": " + ec.message());
  }
  ssl_ = std::move(ctx);
  return Status::Ok();
}

Status HttpServer::Impl::Listen() {
  SLUICE_ASSIGN_OR_RETURN(Endpoint endpoint,
                          Endpoint::Parse(options_.endpoint, EndpointForm::kHostPort));
  beast::error_code ec;
  auto address = asio::ip::make_address(endpoint.host, ec);
  if (ec) {
    tcp::resolver resolver(io_);
    auto results = resolver.resolve(endpoint.host, std::to_string(endpoint.port), ec);
    if (ec || results.empty()) {
      return Status::InvalidArgument("cannot resolve \"" + endpoint.host + "\" in endpoint " +
                                     options_.endpoint);
    }
    address = results.begin()->endpoint().address();
  }
  tcp::endpoint ep(address, endpoint.port);
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::Unavailable("cannot listen on " + options_.endpoint + ": " + ec.message());
  }
  auto local = acceptor_.local_endpoint();
  Endpoint bound;
  bound.host = local.address().to_string();
  bound.port = local.port();
  bound_ = bound.HostPort();
  return Status::Ok();
}

void HttpServer::Impl::Sweep() {
  if (!sweeping_.load()) return;
  {
    int64_t now = Clock::Real().MonotonicNanos();
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& s : sessions_) s->CloseIfExpired(now);
  }
  sweep_timer_.expires_after(kSweepInterval);
  sweep_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (!ec) self->Sweep();
  });
}

void HttpServer::Impl::Accept() {
  acceptor_.async_accept(asio::make_strand(io_.get_executor()),
                         [self = shared_from_this()](beast::error_code ec, Socket socket) {
                           if (ec) {
                             if (ec == asio::error::operation_aborted || self->stopping_) return;
                             logging::Warn(
                                 "http", "accept failed",
                                 {{"server", self->options_.name}, {"error", ec.message()}});
                           } else if (!self->stopping_) {
                             // Answers go out as soon as they are written.
                             beast::error_code ignored;
                             socket.set_option(tcp::no_delay(true), ignored);
                             if (!self->Register(socket)) {
                               self->metrics_.refused_connections.With({self->options_.name}).Inc();
                               beast::error_code ignored;
                               socket.close(ignored);
                             }
                           }
                           if (!self->stopping_) self->Accept();
                         });
}

bool HttpServer::Impl::Register(Socket& socket) {
  std::shared_ptr<SessionBase> session;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (static_cast<int64_t>(sessions_.size()) >= options_.max_connections) return false;
    if (ssl_) {
      session = std::make_shared<Session<TlsStream>>(std::move(socket), shared_from_this());
    } else {
      session = std::make_shared<Session<PlainStream>>(std::move(socket), shared_from_this());
    }
    sessions_.insert(session);
    connections_.Set(static_cast<double>(sessions_.size()));
  }
  session->Run();
  return true;
}

void HttpServer::Impl::Unregister(SessionBase* s) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
    if (it->get() == s) {
      sessions_.erase(it);
      break;
    }
  }
  connections_.Set(static_cast<double>(sessions_.size()));
}

void HttpServer::Impl::StopAccepting() {
  stopping_ = true;
  asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
    beast::error_code ec;
    self->acceptor_.close(ec);
  });
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& s : sessions_) s->CloseIfIdle();
}

void HttpServer::Impl::CloseAll() {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& s : sessions_) s->ForceClose();
}

Result<std::unique_ptr<HttpServer>> HttpServer::Create(asio::io_context& io,
                                                       HttpServerOptions options,
                                                       HttpHandler& handler,
                                                       telemetry::Registry& registry) {
  auto impl = std::make_shared<Impl>(io, std::move(options), handler, registry);
  SLUICE_RETURN_IF_ERROR(impl->LoadTls());
  SLUICE_RETURN_IF_ERROR(impl->Listen());
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::~HttpServer() {
  impl_->sweeping_.store(false);
  asio::post(impl_->sweep_timer_.get_executor(), [impl = impl_] { impl->sweep_timer_.cancel(); });
  impl_->StopAccepting();
  impl_->CloseAll();
  // Sessions hold the Impl and the Impl holds them; if the I/O threads are
  // already stopped the close handlers above never run, so break the cycle
  // here. Pending handlers free the sessions when the io_context goes.
  std::lock_guard<std::mutex> lock(impl_->mu_);
  impl_->sessions_.clear();
}

void HttpServer::Start() {
  asio::post(impl_->acceptor_.get_executor(), [impl = impl_] { impl->Accept(); });
  asio::post(impl_->sweep_timer_.get_executor(), [impl = impl_] { impl->Sweep(); });
}

std::string HttpServer::BoundAddress() const {
  return impl_->bound_;
}

void HttpServer::StopAccepting() {
  impl_->StopAccepting();
}

bool HttpServer::WaitIdle(std::chrono::steady_clock::time_point deadline) {
  while (impl_->in_flight_.load() > 0) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

void HttpServer::CloseAll() {
  impl_->CloseAll();
}

int64_t HttpServer::in_flight() const {
  return impl_->in_flight_.load();
}

}  // namespace sluice::net
