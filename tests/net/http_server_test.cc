#include "net/http_server.h"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <thread>

#include "support/http_client.h"

namespace sluice::net {
namespace {

// Answers from a separate thread after an optional delay, as the log's
// completion callback does.
class EchoHandler final : public HttpHandler {
 public:
  void Handle(HttpRequest&& req, Responder respond) override {
    std::thread([req = std::move(req), respond = std::move(respond), this]() mutable {
      if (delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
      HttpResponse r = HttpResponse::Text(200, req.method + " " + req.path + " " +
                                                   std::string(req.Header("x-tenant")) + " " +
                                                   std::to_string(req.body.size()));
      respond(std::move(r));
    }).detach();
  }
  int delay_ms = 0;
};

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    work_.emplace(io_.get_executor());
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    server_.reset();
    work_.reset();
    io_.stop();
    thread_.join();
  }
  std::string StartServer(uint64_t max_body = 1024) {
    HttpServerOptions o;
    o.name = "test";
    o.endpoint = "127.0.0.1:0";
    o.max_body_bytes = max_body;
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

TEST(SplitEndpointTest, AcceptsHostPortAndBracketedV6) {
  std::string host;
  uint16_t port;
  ASSERT_TRUE(SplitEndpoint("127.0.0.1:4318", &host, &port).ok());
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 4318);
  ASSERT_TRUE(SplitEndpoint("[::1]:0", &host, &port).ok());
  EXPECT_EQ(host, "::1");
  EXPECT_FALSE(SplitEndpoint("localhost", &host, &port).ok());
  EXPECT_FALSE(SplitEndpoint("h:99999", &host, &port).ok());
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

}  // namespace
}  // namespace sluice::net
