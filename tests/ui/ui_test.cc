#include "ui/ui.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <string>
#include <string_view>

namespace sluice::ui {
namespace {

net::HttpRequest Get(std::string path, std::string accept_encoding = "gzip, deflate, br") {
  net::HttpRequest r;
  r.method = "GET";
  r.path = std::move(path);
  if (!accept_encoding.empty()) r.headers.emplace_back("accept-encoding", accept_encoding);
  return r;
}

std::string Header(const net::HttpResponse& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

std::string Gunzip(const std::string& in) {
  std::string out(1 << 20, '\0');
  z_stream z{};
  EXPECT_EQ(inflateInit2(&z, 16 + MAX_WBITS), Z_OK);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(inflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  inflateEnd(&z);
  return out;
}

// The path of the bundle's script, from index.html.
std::string ScriptPath(const std::string& index_html) {
  size_t at = index_html.find("src=\"/assets/");
  if (at == std::string::npos) return "";
  at += 5;
  return index_html.substr(at, index_html.find('"', at) - at);
}

TEST(UiServe, RootIsIndexHtmlGzippedWithItsSecurityHeaders) {
  net::HttpResponse r;
  ASSERT_TRUE(Serve(Get("/"), &r));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  EXPECT_EQ(Header(r, "Content-Encoding"), "gzip");
  EXPECT_EQ(Header(r, "Cache-Control"), "no-cache");
  EXPECT_EQ(Header(r, "X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(Header(r, "Referrer-Policy"), "no-referrer");
  EXPECT_EQ(Header(r, "Content-Security-Policy"), kContentSecurityPolicy);
  EXPECT_EQ(Header(r, "Access-Control-Allow-Origin"), "");
  EXPECT_NE(Gunzip(r.body).find("<div id=\"app\">"), std::string::npos);
}

TEST(UiServe, ClientWithoutGzipGetsTheSameBytesInflated) {
  net::HttpResponse gz;
  net::HttpResponse plain;
  net::HttpResponse refused;
  ASSERT_TRUE(Serve(Get("/index.html"), &gz));
  ASSERT_TRUE(Serve(Get("/index.html", ""), &plain));
  ASSERT_TRUE(Serve(Get("/index.html", "gzip;q=0, identity"), &refused));
  EXPECT_EQ(Header(plain, "Content-Encoding"), "");
  EXPECT_EQ(Header(refused, "Content-Encoding"), "");
  EXPECT_EQ(plain.body, Gunzip(gz.body));
  EXPECT_EQ(refused.body, plain.body);
}

TEST(UiServe, HashedAssetsAreImmutable) {
  net::HttpResponse index;
  ASSERT_TRUE(Serve(Get("/", ""), &index));
  const std::string script = ScriptPath(index.body);
  ASSERT_FALSE(script.empty()) << index.body;
  net::HttpResponse r;
  ASSERT_TRUE(Serve(Get(script), &r));
  EXPECT_EQ(r.content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(Header(r, "Cache-Control"), "public, max-age=31536000, immutable");
  EXPECT_EQ(Header(r, "Content-Security-Policy"), kContentSecurityPolicy);
}

TEST(UiServe, UnknownPathWithoutExtensionFallsBackToIndexHtml) {
  net::HttpResponse index;
  net::HttpResponse deep;
  ASSERT_TRUE(Serve(Get("/"), &index));
  ASSERT_TRUE(Serve(Get("/services/checkout"), &deep));
  EXPECT_EQ(deep.body, index.body);
  EXPECT_EQ(Header(deep, "Cache-Control"), "no-cache");
}

TEST(UiServe, DeclinesApiAdminRoutesMissingFilesAndOtherMethods) {
  net::HttpResponse r;
  EXPECT_FALSE(Serve(Get("/api/v1/traces"), &r));
  EXPECT_FALSE(Serve(Get("/api"), &r));
  EXPECT_FALSE(Serve(Get("/metrics"), &r));
  EXPECT_FALSE(Serve(Get("/healthz"), &r));
  EXPECT_FALSE(Serve(Get("/readyz"), &r));
  EXPECT_FALSE(Serve(Get("/assets/missing.js"), &r));
  EXPECT_FALSE(Serve(Get("/../etc/passwd.txt"), &r));
  net::HttpRequest post = Get("/");
  post.method = "POST";
  EXPECT_FALSE(Serve(post, &r));
  net::HttpRequest head = Get("/");
  head.method = "HEAD";
  EXPECT_TRUE(Serve(head, &r));
}

}  // namespace
}  // namespace sluice::ui
