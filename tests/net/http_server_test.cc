#include "net/http_server.h"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include "support/http_client.h"
#include "support/temp_dir.h"
#include "support/tls_certificate.h"

namespace sluice::net {
namespace {

// Answers from a separate thread after an optional delay, as the log's
// completion callback does. The threads are joined before the server goes:
// one that outlived it would drop the last reference to a session whose
// server and io_context were already destroyed.
class EchoHandler final : public HttpHandler {
 public:
  ~EchoHandler() override { JoinAll(); }
  void JoinAll() {
    std::vector<std::thread> threads;
    {
      std::lock_guard<std::mutex> lock(mu);
      threads.swap(threads_);
    }
    for (auto& t : threads) t.join();
  }
  void Handle(HttpRequest&& req, Responder respond) override {
    std::lock_guard<std::mutex> lock(mu);
    bodies.push_back(req.body);
    threads_.emplace_back([req = std::move(req), respond = std::move(respond), this]() mutable {
      if (delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
      HttpResponse r = HttpResponse::Text(200, req.method + " " + req.path + " " +
                                                   std::string(req.Header("x-tenant")) + " " +
                                                   std::to_string(req.body.size()));
      // A header value as a careless handler might pass one on.
      if (req.path == "/inject") r.headers.emplace_back("X-Echo", "a\r\nInjected: yes");
      respond(std::move(r));
    });
  }
  int delay_ms = 0;
  std::mutex mu;
  std::vector<std::string> bodies;  // every request's, in arrival order

 private:
  std::vector<std::thread> threads_;
};

// A raw connection to "host:port", for requests written byte by byte.
boost::asio::ip::tcp::socket Connect(boost::asio::io_context& io, const std::string& addr) {
  namespace asio = boost::asio;
  asio::ip::tcp::socket s(io);
  size_t colon = addr.rfind(':');
  s.connect({asio::ip::make_address(addr.substr(0, colon)),
             static_cast<uint16_t>(std::stoi(addr.substr(colon + 1)))});
  return s;
}

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    work_.emplace(io_.get_executor());
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    handler_.JoinAll();
    server_.reset();
    work_.reset();
    io_.stop();
    thread_.join();
  }
  std::string StartServer(uint64_t max_body = 1024, std::optional<TlsFiles> tls = {}) {
    HttpServerOptions o;
    o.name = "test";
    o.endpoint = "127.0.0.1:0";
    o.max_body_bytes = max_body;
    o.tls = tls;
    auto s = HttpServer::Create(io_, o, handler_, registry_);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(s).value();
    server_->Start();
    return server_->BoundAddress();
  }

  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::thread thread_;
  telemetry::Registry registry_;
  EchoHandler handler_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerTest, HandlerMayAnswerFromAnotherThread) {
  std::string addr = StartServer();
  auto r = testing::HttpRequest("POST", addr, "/v1/x?q=1", "hello", {{"X-Tenant", "acme"}});
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.body, "POST /v1/x acme 5\n");
}

TEST_F(HttpServerTest, BodyOverTheLimitGets413) {
  std::string addr = StartServer(1024);
  auto r = testing::HttpRequest("POST", addr, "/", std::string(4096, 'x'));
  EXPECT_EQ(r.status, 413);
  EXPECT_NE(r.body.find("1024"), std::string::npos);
  // The server still serves others.
  EXPECT_EQ(testing::HttpRequest("POST", addr, "/", "ok").status, 200);
}

TEST_F(HttpServerTest, PortInUseIsAnErrorAtCreate) {
  std::string addr = StartServer();
  HttpServerOptions o;
  o.name = "second";
  o.endpoint = addr;
  auto s = HttpServer::Create(io_, o, handler_, registry_);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("cannot listen on " + addr), std::string::npos);
  EXPECT_NE(s.status().message().find("in use"), std::string::npos);
}

TEST_F(HttpServerTest, InFlightRequestFinishesAfterStopAccepting) {
  std::string addr = StartServer();
  handler_.delay_ms = 300;
  testing::HttpResult slow;
  std::thread client([&] { slow = testing::HttpRequest("POST", addr, "/slow", "x"); });
  while (server_->in_flight() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  server_->StopAccepting();
  EXPECT_TRUE(server_->WaitIdle(std::chrono::steady_clock::now() + std::chrono::seconds(10)));
  client.join();
  EXPECT_EQ(slow.status, 200);
  // New connections are refused once the listener is closed.
  EXPECT_EQ(testing::HttpRequest("GET", addr, "/").status, 0);
}

// Bodies of known length are read past the parser, the string growing with
// what arrives: one arriving in pieces, one pipelined behind it in the same
// write, and a chunked one must each reach the handler exactly, and each be
// answered.
TEST_F(HttpServerTest, PiecemealPipelinedAndChunkedBodiesArriveExactly) {
  std::string addr = StartServer(1 << 20);
  std::string first(200000, '\0');
  std::string second(30000, '\0');
  for (size_t i = 0; i < first.size(); ++i) first[i] = static_cast<char>('a' + i * 7 % 26);
  for (size_t i = 0; i < second.size(); ++i) second[i] = static_cast<char>('A' + i * 11 % 26);
  auto head = [](const std::string& body) {
    return "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\n\r\n";
  };
  namespace asio = boost::asio;
  asio::io_context io;
  asio::ip::tcp::socket s = Connect(io, addr);
  asio::write(s, asio::buffer(head(first) + first.substr(0, 7000)));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  asio::write(s, asio::buffer(first.substr(7000) + head(second) + second +
                              "POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"));
  std::string answers;
  char buf[4096];
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  size_t seen = 0;
  while (seen < 3 && std::chrono::steady_clock::now() < until) {
    boost::system::error_code ec;
    size_t n = s.read_some(asio::buffer(buf), ec);
    if (ec) break;
    answers.append(buf, n);
    seen = 0;
    for (size_t at = answers.find("HTTP/1.1 200"); at != std::string::npos;
         at = answers.find("HTTP/1.1 200", at + 1)) {
      ++seen;
    }
  }
  EXPECT_EQ(seen, 3u) << answers;
  std::lock_guard<std::mutex> lock(handler_.mu);
  ASSERT_EQ(handler_.bodies.size(), 3u);
  EXPECT_TRUE(handler_.bodies[0] == first);
  EXPECT_TRUE(handler_.bodies[1] == second);
  EXPECT_EQ(handler_.bodies[2], "hello world");
}

// The response head is written by the server itself: an answer to HEAD
// announces the body's length without sending it, HTTP/1.0 keep-alive is
// confirmed, and a header value holding CR LF cannot add a header.
TEST_F(HttpServerTest, ResponseHeadsStayWellFormed) {
  std::string addr = StartServer();
  namespace asio = boost::asio;
  asio::io_context io;
  asio::ip::tcp::socket s = Connect(io, addr);
  boost::beast::flat_buffer buffer;
  namespace http = boost::beast::http;

  asio::write(s, asio::buffer(std::string("HEAD /h HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")));
  http::response_parser<http::string_body> head;
  head.skip(true);  // a response to HEAD has no body, whatever its Content-Length
  http::read(s, buffer, head);
  const auto& h = head.get();
  EXPECT_EQ(h.result_int(), 200);
  EXPECT_EQ(h.version(), 10);
  EXPECT_EQ(h[http::field::connection], "keep-alive");
  EXPECT_EQ(h[http::field::content_length], "11");  // "HEAD /h  0\n"
  EXPECT_EQ(h[http::field::server], "sluice");

  // The same connection serves the next request: nothing of a body was left
  // in the stream.
  asio::write(s, asio::buffer(std::string("GET /inject HTTP/1.1\r\nHost: x\r\n\r\n")));
  http::response_parser<http::string_body> next;
  http::read(s, buffer, next);
  const auto& r = next.get();
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(r.body(), "GET /inject  0\n");
  EXPECT_EQ(r["X-Echo"], "aInjected: yes");
  EXPECT_EQ(r.count("Injected"), 0u);
  EXPECT_EQ(r.count(http::field::connection), 0u);  // HTTP/1.1 keeps alive by default
}

}  // namespace
}  // namespace sluice::net

namespace sluice::net {
namespace {

TEST_F(HttpServerTest, ConnectionsBeyondTheLimitAreClosedAndCounted) {
  HttpServerOptions o;
  o.name = "capped";
  o.endpoint = "127.0.0.1:0";
  o.max_connections = 1;
  auto s = HttpServer::Create(io_, o, handler_, registry_);
  ASSERT_TRUE(s.ok());
  server_ = std::move(s).value();
  server_->Start();
  std::string addr = server_->BoundAddress();
  handler_.delay_ms = 500;  // keeps the first connection open
  testing::HttpResult first;
  std::thread holder([&] { first = testing::HttpRequest("POST", addr, "/", "x"); });
  while (server_->in_flight() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  testing::HttpResult second = testing::HttpRequest("POST", addr, "/", "y");
  holder.join();
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(second.status, 0);  // closed without an answer
  EXPECT_EQ(registry_.AddCounter("sluice_http_server_refused_connections_total", "", {"server"})
                .With({"capped"})
                .Value(),
            1u);
}

TlsFiles MakeCertificate(const testing::TempDir& dir) {
  testing::CertificateFiles f;
  EXPECT_TRUE(testing::MakeSelfSignedCertificate(dir, "server", "localhost", &f));
  return TlsFiles{f.cert_file, f.key_file};
}

// One HTTPS request that verifies the server against `ca_file`; the status,
// or -1 when the handshake or exchange failed.
int HttpsPost(const std::string& addr, const std::string& ca_file, const std::string& body,
              std::string* answer) {
  namespace asio = boost::asio;
  namespace beast = boost::beast;
  namespace http = beast::http;
  try {
    asio::io_context io;
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    ctx.load_verify_file(ca_file);
    ctx.set_verify_mode(asio::ssl::verify_peer);
    beast::ssl_stream<beast::tcp_stream> stream(io, ctx);
    size_t colon = addr.rfind(':');
    asio::ip::tcp::resolver resolver(io);
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(10));
    beast::get_lowest_layer(stream).connect(
        resolver.resolve(addr.substr(0, colon), addr.substr(colon + 1)));
    stream.handshake(asio::ssl::stream_base::client);
    http::request<http::string_body> req(http::verb::post, "/v1/x", 11);
    req.set(http::field::host, "localhost");
    req.body() = body;
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(stream, buffer, res);
    *answer = res.body();
    return static_cast<int>(res.result_int());
  } catch (const std::exception& e) {
    *answer = e.what();
    return -1;
  }
}

TEST_F(HttpServerTest, HttpsServesVerifiedClientsAndCountsPlaintextHandshakeFailures) {
  testing::TempDir dir;
  TlsFiles files = MakeCertificate(dir);
  std::string addr = StartServer(1024, files);
  std::string answer;
  EXPECT_EQ(HttpsPost(addr, files.cert_file, "hello", &answer), 200) << answer;
  EXPECT_EQ(answer, "POST /v1/x  5\n");
  // A plaintext client gets no HTTP answer, and the failure is counted.
  auto plain = testing::HttpRequest("POST", addr, "/v1/x", "hello");
  EXPECT_NE(plain.status, 200);
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (registry_.Render().find(
             "sluice_http_server_tls_handshake_failures_total{server=\"test\"} 1") ==
             std::string::npos &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_NE(
      registry_.Render().find("sluice_http_server_tls_handshake_failures_total{server=\"test\"} 1"),
      std::string::npos);
  // Still serving after the failed handshake.
  EXPECT_EQ(HttpsPost(addr, files.cert_file, "again", &answer), 200) << answer;
}

TEST_F(HttpServerTest, UnreadableCertificateFailsCreateNamingTheFile) {
  testing::TempDir dir;
  HttpServerOptions o;
  o.name = "test";
  o.endpoint = "127.0.0.1:0";
  o.tls = TlsFiles{dir.Sub("absent.pem"), dir.Sub("absent.key")};
  auto s = HttpServer::Create(io_, o, handler_, registry_);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("absent.pem"), std::string::npos) << s.status().ToString();
}

}  // namespace
}  // namespace sluice::net

namespace sluice::net {
namespace {

// Answers every request with a streamed body the test then produces.
class StreamHandler final : public HttpHandler {
 public:
  void Handle(HttpRequest&&, Responder respond) override {
    HttpResponse r;
    r.content_type = "text/event-stream";
    r.body = "start\n";
    r.stream = std::make_shared<ResponseStream>();
    {
      std::lock_guard<std::mutex> lock(mu);
      streams.push_back(r.stream);
    }
    respond(std::move(r));
  }
  std::shared_ptr<ResponseStream> Latest() {
    std::lock_guard<std::mutex> lock(mu);
    return streams.empty() ? nullptr : streams.back();
  }
  std::mutex mu;
  std::vector<std::shared_ptr<ResponseStream>> streams;
};

class HttpStreamingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    work_.emplace(io_.get_executor());
    thread_ = std::thread([this] { io_.run(); });
    HttpServerOptions o;
    o.name = "stream";
    o.endpoint = "127.0.0.1:0";
    auto s = HttpServer::Create(io_, o, handler_, registry_);
    ASSERT_TRUE(s.ok());
    server_ = std::move(s).value();
    server_->Start();
    addr_ = server_->BoundAddress();
  }
  void TearDown() override {
    server_.reset();
    work_.reset();
    io_.stop();
    thread_.join();
  }
  std::shared_ptr<ResponseStream> AwaitStream() {
    for (int i = 0; i < 500 && !handler_.Latest(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return handler_.Latest();
  }

  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::thread thread_;
  telemetry::Registry registry_;
  StreamHandler handler_;
  std::unique_ptr<HttpServer> server_;
  std::string addr_;
};

TEST_F(HttpStreamingTest, StreamedChunksArriveInOrderAndTheBodyEndsWhenClosed) {
  testing::HttpStream client(addr_, "/events");
  auto stream = AwaitStream();
  ASSERT_NE(stream, nullptr);
  std::string got =
      client.ReadUntil([](const std::string& s) { return s.find("start\n") != std::string::npos; },
                       std::chrono::seconds(10));
  EXPECT_EQ(got.find("Content-Length"), std::string::npos) << got;
  EXPECT_NE(got.find("Connection: close"), std::string::npos);
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(stream->Push("event " + std::to_string(i) + "\n"),
              ResponseStream::PushResult::kQueued);
  }
  stream->Close();
  got = client.ReadUntil([](const std::string&) { return false; }, std::chrono::seconds(10));
  EXPECT_TRUE(client.closed());
  std::string want = "start\n";
  for (int i = 0; i < 100; ++i) want += "event " + std::to_string(i) + "\n";
  ASSERT_GE(got.size(), want.size());
  EXPECT_EQ(got.substr(got.size() - want.size()), want);
}

TEST_F(HttpStreamingTest, AProducerLearnsTheClientLeftAndAFullStreamDropsInsteadOfGrowing) {
  {
    testing::HttpStream client(addr_, "/events");
    ASSERT_NE(AwaitStream(), nullptr);
    client.ReadUntil([](const std::string& s) { return s.find("start\n") != std::string::npos; },
                     std::chrono::seconds(10));
  }  // the client closes its connection
  auto stream = handler_.Latest();
  ResponseStream::PushResult r = ResponseStream::PushResult::kQueued;
  for (int i = 0; i < 500 && r != ResponseStream::PushResult::kGone; ++i) {
    r = stream->Push(std::string(1024, 'x'));
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(r, ResponseStream::PushResult::kGone);
  EXPECT_TRUE(stream->gone());

  ResponseStream unread(10);
  EXPECT_EQ(unread.Push("12345"), ResponseStream::PushResult::kQueued);
  EXPECT_EQ(unread.Push("123456"), ResponseStream::PushResult::kFull);
  EXPECT_EQ(unread.Push("12345"), ResponseStream::PushResult::kQueued);
}

}  // namespace
}  // namespace sluice::net
