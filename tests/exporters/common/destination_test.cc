#include "exporters/common/destination.h"

#include <gtest/gtest.h>

namespace sluice::exporters {
namespace {

TEST(ClassifyHttpTest, RetryableAndPermanentFollowTheStatus) {
  auto reply = [](int status, std::string retry_after = "") {
    net::HttpReply r;
    r.status = status;
    r.retry_after = std::move(retry_after);
    return Result<net::HttpReply>(r);
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
  EXPECT_EQ(ClassifyHttp(Result<net::HttpReply>(Status::Unavailable("refused")), "x").kind,
            Kind::kRetryable);
}

TEST(TenantHeaderTest, SentOnlyWhenThereIsATenantAndNoConfiguredValue) {
  net::Headers extra;
  AddTenantHeader("X-Scope-OrgID", {}, "acme", &extra);
  EXPECT_EQ(extra, (net::Headers{{"X-Scope-OrgID", "acme"}}));
  extra.clear();
  AddTenantHeader("X-Scope-OrgID", {}, "", &extra);  // no tenant
  AddTenantHeader("", {}, "acme", &extra);           // forwarding off
  // The exporter's own value wins, whatever its case.
  AddTenantHeader("X-Scope-OrgID", {{"x-scope-orgid", "fixed"}}, "acme", &extra);
  EXPECT_TRUE(extra.empty());
}

}  // namespace
}  // namespace sluice::exporters
