#include "net/endpoint.h"

#include <gtest/gtest.h>

namespace sluice::net {
namespace {

Endpoint Parsed(std::string_view text, EndpointForm form) {
  Result<Endpoint> e = Endpoint::Parse(text, form);
  EXPECT_TRUE(e.ok()) << text << ": " << e.status().ToString();
  return e.ok() ? *e : Endpoint{};
}

bool Refused(std::string_view text, EndpointForm form) {
  return !Endpoint::Parse(text, form).ok();
}

TEST(EndpointTest, UrlGivesHostPortPathAndScheme) {
  Endpoint e = Parsed("http://127.0.0.1:9090/api/v1/write/", EndpointForm::kUrl);
  EXPECT_EQ(e.host, "127.0.0.1");
  EXPECT_EQ(e.port, 9090);
  EXPECT_EQ(e.path, "/api/v1/write");
  EXPECT_FALSE(e.tls);
  Endpoint v6 = Parsed("http://[::1]:4318", EndpointForm::kUrl);
  EXPECT_EQ(v6.host, "::1");
  EXPECT_EQ(v6.port, 4318);
  Endpoint bare = Parsed("http://loki", EndpointForm::kUrl);
  EXPECT_EQ(bare.port, 80);
  EXPECT_EQ(bare.path, "");
  Endpoint secure = Parsed("https://mimir.example/api/v1/push", EndpointForm::kUrl);
  EXPECT_TRUE(secure.tls);
  EXPECT_EQ(secure.port, 443);
  EXPECT_EQ(secure.path, "/api/v1/push");
}

TEST(EndpointTest, UrlWithoutSchemeHostOrDigitPortIsRefused) {
  EXPECT_TRUE(Refused("localhost:4318", EndpointForm::kUrl));
  EXPECT_TRUE(Refused("ftp://x:21", EndpointForm::kUrl));
  EXPECT_TRUE(Refused("http://:80", EndpointForm::kUrl));
  EXPECT_TRUE(Refused("http://x:8o", EndpointForm::kUrl));
  EXPECT_TRUE(Refused("http://x:", EndpointForm::kUrl));
  EXPECT_TRUE(Refused("http://x:65536", EndpointForm::kUrl));
  EXPECT_TRUE(Refused("http://[::1:80", EndpointForm::kUrl));
}

TEST(EndpointTest, HostPortTakesBracketedV6AndAnEmptyHostAsEveryInterface) {
  Endpoint e = Parsed("127.0.0.1:4318", EndpointForm::kHostPort);
  EXPECT_EQ(e.host, "127.0.0.1");
  EXPECT_EQ(e.port, 4318);
  Endpoint v6 = Parsed("[::1]:0", EndpointForm::kHostPort);
  EXPECT_EQ(v6.host, "::1");
  EXPECT_EQ(v6.port, 0);
  EXPECT_EQ(Parsed(":4317", EndpointForm::kHostPort).host, "0.0.0.0");
}

TEST(EndpointTest, HostPortWithoutAValidPortOrWithASchemeIsRefused) {
  EXPECT_TRUE(Refused("localhost", EndpointForm::kHostPort));
  EXPECT_TRUE(Refused("h:99999", EndpointForm::kHostPort));
  EXPECT_TRUE(Refused("h:-1", EndpointForm::kHostPort));
  EXPECT_TRUE(Refused("http://h:80", EndpointForm::kHostPort));
  Result<Endpoint> e = Endpoint::Parse("localhost", EndpointForm::kHostPort);
  EXPECT_EQ(e.status().message(), "endpoint \"localhost\" must be host:port");
}

TEST(EndpointTest, GrpcTargetIsHostPortOrAUrlWithAPortAndNoPath) {
  Endpoint plain = Parsed("collector:4317", EndpointForm::kHostPortOrUrl);
  EXPECT_EQ(plain.HostPort(), "collector:4317");
  EXPECT_FALSE(plain.tls);
  Endpoint http = Parsed("http://collector:4317/", EndpointForm::kHostPortOrUrl);
  EXPECT_EQ(http.HostPort(), "collector:4317");
  EXPECT_FALSE(http.tls);
  Endpoint secure = Parsed("https://[::1]:4317", EndpointForm::kHostPortOrUrl);
  EXPECT_TRUE(secure.tls);
  EXPECT_EQ(secure.HostPort(), "[::1]:4317");
  EXPECT_TRUE(Refused("collector", EndpointForm::kHostPortOrUrl));
  EXPECT_TRUE(Refused("http://collector", EndpointForm::kHostPortOrUrl));
  EXPECT_TRUE(Refused("http://collector:4317/v1", EndpointForm::kHostPortOrUrl));
  EXPECT_TRUE(Refused("dns:///collector:4317", EndpointForm::kHostPortOrUrl));
  EXPECT_TRUE(Refused(":4317", EndpointForm::kHostPortOrUrl));
}

TEST(EndpointTest, HostPortBracketsAnIpv6HostOnly) {
  Endpoint e;
  e.host = "::1";
  e.port = 80;
  EXPECT_EQ(e.HostPort(), "[::1]:80");
  e.host = "example.com";
  EXPECT_EQ(e.HostPort(), "example.com:80");
}

}  // namespace
}  // namespace sluice::net
