#include "net/http_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <mutex>
#include <thread>

#include "support/fault_backend.h"
#include "support/temp_dir.h"
#include "support/tls_certificate.h"

namespace sluice::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;

TEST(RetryAfterTest, SecondsAndHttpDatesBecomeWaits) {
  auto now = std::chrono::system_clock::from_time_t(784111777);  // Sun, 06 Nov 1994 08:49:37 GMT
  EXPECT_EQ(ParseRetryAfter("120", now), std::chrono::seconds(120));
  EXPECT_EQ(ParseRetryAfter(" 0 ", now), std::chrono::seconds(0));
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:50:37 GMT", now), std::chrono::seconds(60));
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:40:00 GMT", now), std::chrono::seconds(0));
  EXPECT_LT(ParseRetryAfter("", now).count(), 0);
  EXPECT_LT(ParseRetryAfter("soon", now).count(), 0);
}

TEST(HttpClientTest, ReconnectsAfterTheServerClosedAKeptAliveConnection) {
  int n = 0;
  testing::FaultBackend backend(
      [&](const testing::BackendRequest&) {
        testing::Fault f;
        // Every second request: answered, then the connection is dropped on
        // the next one before any answer.
        if (++n == 2) f.kind = testing::Fault::Kind::kDrop;
        return f;
      },
      nullptr);
  ASSERT_TRUE(backend.Start());
  auto ep = Endpoint::Parse(backend.url(), EndpointForm::kUrl);
  ASSERT_TRUE(ep.ok());
  auto client = HttpClient::Create(*ep, std::chrono::seconds(5), {});
  ASSERT_TRUE(client.ok());
  auto first = (*client)->Post("/a", "one", {});
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->status, 200);
  // The dropped exchange happened on a reused connection: retried once.
  auto second = (*client)->Post("/a", "two", {});
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(second->status, 200);
  EXPECT_EQ(backend.requests(), 3u);
}

TEST(HttpClientTest, HeadersReplaceByNameAndCannotBreakTheRequestHead) {
  std::mutex mu;
  std::vector<testing::BackendRequest> seen;
  testing::FaultBackend backend(
      [&](const testing::BackendRequest& r) {
        std::lock_guard<std::mutex> lock(mu);
        seen.push_back(r);
        testing::Fault f;
        f.reply = "answer";
        return f;
      },
      nullptr);
  ASSERT_TRUE(backend.Start());
  std::string path;
  auto client = HttpClient::ForUrl(
      backend.url() + "/base", std::chrono::seconds(5),
      {{"X-A", "configured"}, {"User-Agent", "custom"}, {"content-length", "999"}}, &path);
  ASSERT_TRUE(client.ok());
  std::string body(100000, 'b');
  auto r = (*client)->Post(path + "/v1/x", body, {{"x-a", "extra"}, {"X-B", "v\r\nInjected: yes"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "answer");
  // A second exchange over the same connection reads its own answer.
  auto again = (*client)->Post(path + "/v1/y", "two", {});
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(seen.size(), 2u);
  const auto& got = seen[0];
  EXPECT_EQ(got.path, "/base/v1/x");
  EXPECT_EQ(got.body, body);
  EXPECT_EQ(got.Header("x-a"), "extra");
  EXPECT_EQ(got.Header("user-agent"), "custom");
  EXPECT_EQ(got.Header("x-b"), "vInjected: yes");
  EXPECT_EQ(got.Header("injected"), "");
  EXPECT_EQ(got.Header("host"), backend.url().substr(std::string("http://").size()));
  size_t x_a = 0;
  for (const auto& [k, v] : got.headers) x_a += k == "x-a";
  EXPECT_EQ(x_a, 1u);
  EXPECT_EQ(seen[1].path, "/base/v1/y");
  EXPECT_EQ(seen[1].body, "two");
  EXPECT_EQ(backend.requests(), 2u);
}

TEST(HttpClientTest, UnansweredRequestTimesOut) {
  testing::FaultBackend backend(
      [](const testing::BackendRequest&) {
        testing::Fault f;
        f.kind = testing::Fault::Kind::kHang;
        f.delay = std::chrono::seconds(60);
        return f;
      },
      nullptr);
  ASSERT_TRUE(backend.Start());
  auto client = HttpClient::Create(*Endpoint::Parse(backend.url(), EndpointForm::kUrl),
                                   std::chrono::milliseconds(100), {});
  ASSERT_TRUE(client.ok());
  auto start = std::chrono::steady_clock::now();
  auto r = (*client)->Post("/a", "x", {});
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  // Far sooner than the backend would have answered.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
  backend.Stop();
}

// An HTTPS server on 127.0.0.1 that echoes request bodies, one connection
// at a time. With `client_ca` it demands a client certificate signed by it.
class TlsEchoServer {
 public:
  TlsEchoServer(const testing::CertificateFiles& server, const std::string& client_ca = "")
      : ctx_(ssl::context::tls_server), acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}) {
    ctx_.use_certificate_chain_file(server.cert_file);
    ctx_.use_private_key_file(server.key_file, ssl::context::pem);
    if (!client_ca.empty()) {
      ctx_.load_verify_file(client_ca);
      ctx_.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
    }
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { Serve(); });
  }
  ~TlsEchoServer() {
    stop_ = true;
    // Wakes the blocked accept.
    asio::ip::tcp::socket poke(io_);
    boost::system::error_code ec;
    poke.connect({asio::ip::make_address("127.0.0.1"), port_}, ec);
    thread_.join();
  }
  std::string Url(const std::string& host = "127.0.0.1") const {
    return "https://" + host + ":" + std::to_string(port_) + "/echo";
  }
  int handshakes() const { return handshakes_.load(); }

 private:
  void Serve() {
    while (!stop_) {
      asio::ip::tcp::socket socket(io_);
      boost::system::error_code ec;
      acceptor_.accept(socket, ec);
      if (ec || stop_) return;
      beast::ssl_stream<asio::ip::tcp::socket> stream(std::move(socket), ctx_);
      stream.handshake(ssl::stream_base::server, ec);
      if (ec) continue;
      ++handshakes_;
      beast::flat_buffer buffer;
      for (;;) {
        http::request<http::string_body> req;
        http::read(stream, buffer, req, ec);
        if (ec) break;
        http::response<http::string_body> res{http::status::ok, 11};
        res.body() = req.target().to_string() + " " + req.body();
        res.prepare_payload();
        http::write(stream, res, ec);
        if (ec) break;
      }
    }
  }

  asio::io_context io_;
  ssl::context ctx_;
  asio::ip::tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> handshakes_{0};
  std::thread thread_;
};

Result<HttpReply> PostOnce(const std::string& url, const TlsClientOptions& tls,
                           std::string_view body) {
  std::string path;
  auto client = HttpClient::ForUrl(url, std::chrono::seconds(10), {}, &path, tls);
  if (!client.ok()) return client.status();
  return (*client)->Post(path, body, {});
}

class HttpsClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(testing::MakeSelfSignedCertificate(dir_, "server", "localhost", &server_));
    ASSERT_TRUE(testing::MakeSelfSignedCertificate(dir_, "client", "sluice", &client_));
  }
  testing::TempDir dir_;
  testing::CertificateFiles server_;
  testing::CertificateFiles client_;
};

TEST_F(HttpsClientTest, ServerVerifiedAgainstCaFileAnswersOverOneConnection) {
  TlsEchoServer server(server_);
  TlsClientOptions tls;
  tls.ca_file = server_.cert_file;
  for (const std::string host : {"127.0.0.1", "localhost"}) {
    std::string path;
    auto client = HttpClient::ForUrl(server.Url(host), std::chrono::seconds(10), {}, &path, tls);
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    for (std::string body : {"one", "two"}) {
      auto r = (*client)->Post(path, body, {});
      ASSERT_TRUE(r.ok()) << host << ": " << r.status().ToString();
      EXPECT_EQ(r->status, 200);
      EXPECT_EQ(r->body, "/echo " + body);
    }
  }
  EXPECT_EQ(server.handshakes(), 2);  // one per client: the connection is kept
}

TEST_F(HttpsClientTest, ServerThatCannotBeVerifiedIsRefusedUnlessVerificationIsOff) {
  TlsEchoServer server(server_);
  // Self-signed, so the system's CAs do not vouch for it.
  auto untrusted = PostOnce(server.Url(), {}, "x");
  ASSERT_FALSE(untrusted.ok());
  EXPECT_EQ(untrusted.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(untrusted.status().message().find("TLS handshake"), std::string::npos)
      << untrusted.status().ToString();
  // Trusted, but under another name than the one expected.
  TlsClientOptions wrong_name;
  wrong_name.ca_file = server_.cert_file;
  wrong_name.server_name_override = "mimir.example";
  EXPECT_FALSE(PostOnce(server.Url(), wrong_name, "x").ok());
  // ... and under the name it has.
  TlsClientOptions right_name = wrong_name;
  right_name.server_name_override = "localhost";
  auto named = PostOnce(server.Url(), right_name, "x");
  ASSERT_TRUE(named.ok()) << named.status().ToString();
  TlsClientOptions skip;
  skip.insecure_skip_verify = true;
  auto skipped = PostOnce(server.Url(), skip, "y");
  ASSERT_TRUE(skipped.ok()) << skipped.status().ToString();
  EXPECT_EQ(skipped->body, "/echo y");
}

TEST_F(HttpsClientTest, ServerDemandingAClientCertificateGetsTheConfiguredOne) {
  TlsEchoServer server(server_, client_.cert_file);
  TlsClientOptions tls;
  tls.ca_file = server_.cert_file;
  EXPECT_FALSE(PostOnce(server.Url(), tls, "anonymous").ok());
  tls.cert_file = client_.cert_file;
  tls.key_file = client_.key_file;
  auto r = PostOnce(server.Url(), tls, "known");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->body, "/echo known");
}

TEST_F(HttpsClientTest, UnreadableTlsFileIsAConfigErrorNamingIt) {
  TlsClientOptions tls;
  tls.ca_file = dir_.Sub("absent-ca.pem");
  EXPECT_NE(CheckClientConfig("https://127.0.0.1:1/x", tls).find("absent-ca.pem"),
            std::string::npos);
  // Plain http never reads them.
  EXPECT_EQ(CheckClientConfig("http://127.0.0.1:1/x", tls), "");
  TlsClientOptions key;
  key.cert_file = client_.cert_file;
  key.key_file = dir_.Sub("absent.key");
  EXPECT_NE(CheckClientConfig("https://127.0.0.1:1/x", key).find("absent.key"), std::string::npos);
  EXPECT_EQ(CheckClientConfig("https://127.0.0.1:1/x", {}), "");
}

}  // namespace
}  // namespace sluice::net
