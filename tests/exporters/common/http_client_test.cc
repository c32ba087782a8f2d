#include "exporters/common/http_client.h"

#include <gtest/gtest.h>

#include "support/fault_backend.h"

namespace sluice::exporters {
namespace {

TEST(EndpointTest, ParsesHostPortAndPath) {
  auto e = Endpoint::Parse("http://127.0.0.1:9090/api/v1/write/");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->host, "127.0.0.1");
  EXPECT_EQ(e->port, "9090");
  EXPECT_EQ(e->path, "/api/v1/write");
  auto v6 = Endpoint::Parse("http://[::1]:4318");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, "4318");
  auto bare = Endpoint::Parse("http://loki");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->port, "80");
  EXPECT_EQ(bare->path, "");
}

TEST(EndpointTest, RejectsWhatItCannotConnectTo) {
  EXPECT_FALSE(Endpoint::Parse("localhost:4318").ok());
  EXPECT_FALSE(Endpoint::Parse("https://x:443").ok());
  EXPECT_FALSE(Endpoint::Parse("http://:80").ok());
  EXPECT_FALSE(Endpoint::Parse("http://x:8o").ok());
}

TEST(RetryAfterTest, SecondsAndHttpDatesBecomeWaits) {
  auto now = std::chrono::system_clock::from_time_t(784111777);  // Sun, 06 Nov 1994 08:49:37 GMT
  EXPECT_EQ(ParseRetryAfter("120", now), std::chrono::seconds(120));
  EXPECT_EQ(ParseRetryAfter(" 0 ", now), std::chrono::seconds(0));
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:50:37 GMT", now), std::chrono::seconds(60));
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:40:00 GMT", now), std::chrono::seconds(0));
  EXPECT_LT(ParseRetryAfter("", now).count(), 0);
  EXPECT_LT(ParseRetryAfter("soon", now).count(), 0);
}

TEST(ClassifyHttpTest, RetryableAndPermanentFollowTheStatus) {
  auto reply = [](int status, std::string retry_after = "") {
    HttpReply r;
    r.status = status;
    r.retry_after = std::move(retry_after);
    return Result<HttpReply>(r);
  };
  using Kind = pipeline::SendResult::Kind;
  EXPECT_EQ(ClassifyHttp(reply(200), "x").kind, Kind::kOk);
  EXPECT_EQ(ClassifyHttp(reply(204), "x").kind, Kind::kOk);
  EXPECT_EQ(ClassifyHttp(reply(400), "x").kind, Kind::kPermanent);
  EXPECT_EQ(ClassifyHttp(reply(401), "x").kind, Kind::kPermanent);
  EXPECT_EQ(ClassifyHttp(reply(404), "x").kind, Kind::kPermanent);
  EXPECT_EQ(ClassifyHttp(reply(413), "x").kind, Kind::kPermanent);
  auto limited = ClassifyHttp(reply(429, "7"), "x");
  EXPECT_EQ(limited.kind, Kind::kRetryable);
  EXPECT_EQ(limited.retry_after, std::chrono::seconds(7));
  EXPECT_EQ(ClassifyHttp(reply(500), "x").kind, Kind::kRetryable);
  EXPECT_EQ(ClassifyHttp(reply(503), "x").kind, Kind::kRetryable);
  EXPECT_EQ(ClassifyHttp(Result<HttpReply>(Status::Unavailable("refused")), "x").kind,
            Kind::kRetryable);
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
  auto ep = Endpoint::Parse(backend.url());
  ASSERT_TRUE(ep.ok());
  HttpClient client(*ep, std::chrono::seconds(5), {});
  auto first = client.Post("/a", "one", {});
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->status, 200);
  // The dropped exchange happened on a reused connection: retried once.
  auto second = client.Post("/a", "two", {});
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(second->status, 200);
  EXPECT_EQ(backend.requests(), 3u);
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
  HttpClient client(*Endpoint::Parse(backend.url()), std::chrono::milliseconds(100), {});
  auto start = std::chrono::steady_clock::now();
  auto r = client.Post("/a", "x", {});
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  // Far sooner than the backend would have answered.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
  backend.Stop();
}

}  // namespace
}  // namespace sluice::exporters
