#include "pipeline/admin.h"

#include <gtest/gtest.h>
#include <strings.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <optional>
#include <thread>

#include "components/builtin.h"
#include "io/file_system.h"
#include "pipeline/service.h"
#include "support/http_client.h"
#include "support/temp_dir.h"

namespace sluice::pipeline {
namespace {

using Auth = TelemetryOptions::Auth;

constexpr char kToken[] = "s3cret-token-0123456789";
// base64("ops:pa:ss:word"): a password with colons of its own.
constexpr char kOpsCredentials[] = "b3BzOnBhOnNzOndvcmQ=";
// base64("ops:pa:ss:wore"): the same length, one byte off.
constexpr char kOpsWrongPassword[] = "b3BzOnBhOnNzOndvcmU=";

Auth Bearer() {
  Auth a;
  a.bearer_token = kToken;
  return a;
}

Auth Basic() {
  Auth a;
  a.basic = Auth::Basic{"ops", "pa:ss:word"};
  return a;
}

// A module as the query API and the UI are: answers its own paths, with
// the headers a handler might set.
class FakeModule final : public Module {
 public:
  std::vector<std::string> Cursors() const override { return {}; }
  Status Start() override { return Status::Ok(); }
  void Stop(Deadline) override {}
  bool Handle(net::HttpRequest& request, net::Responder& respond) override {
    if (request.path.rfind("/api/", 0) != 0) return false;
    ++handled;
    net::HttpResponse r = net::HttpResponse::Json(200, "{\"ok\":true}");
    if (request.path == "/api/cached") r.headers.emplace_back("Cache-Control", "max-age=60");
    if (request.path == "/api/cors") r.headers.emplace_back("Access-Control-Allow-Origin", "*");
    respond(std::move(r));
    return true;
  }
  std::atomic<int> handled{0};
};

// The admin handler behind a real HTTP server on 127.0.0.1:0.
class AdminAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    work_.emplace(io_.get_executor());
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    if (server_) server_->CloseAll();
    server_.reset();
    work_.reset();
    io_.stop();
    thread_.join();
  }
  void Start(const Auth& auth, double burst = 1000) {
    limiter_ = std::make_unique<PerClientRateLimiter>(/*rate=*/0.001, burst,
                                                      /*max_clients=*/100, clock_);
    handler_ = std::make_unique<AdminHandler>(registry_, health_, *limiter_, auth,
                                              std::vector<Module*>{&module_});
    net::HttpServerOptions o;
    o.name = "admin";
    o.endpoint = "127.0.0.1:0";
    auto s = net::HttpServer::Create(io_, o, *handler_, registry_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(s).value();
    server_->Start();
    addr_ = server_->BoundAddress();
    health_.Set("log", true);
  }
  testing::HttpResult Get(const std::string& target, const std::string& authorization = "") {
    std::vector<std::pair<std::string, std::string>> headers;
    if (!authorization.empty()) headers.emplace_back("Authorization", authorization);
    return testing::HttpRequest("GET", addr_, target, "", headers);
  }
  uint64_t Counter(const std::string& name) { return registry_.AddCounter(name, "").Get().Value(); }
  static std::vector<std::string> Challenges(const testing::HttpResult& r) {
    std::vector<std::string> out;
    for (const auto& [k, v] : r.headers) {
      if (strcasecmp(k.c_str(), "www-authenticate") == 0) out.push_back(v);
    }
    return out;
  }

  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::thread thread_;
  ManualClock clock_;
  telemetry::Registry registry_;
  telemetry::Health health_;
  FakeModule module_;
  std::unique_ptr<PerClientRateLimiter> limiter_;
  std::unique_ptr<AdminHandler> handler_;
  std::unique_ptr<net::HttpServer> server_;
  std::string addr_;
};

TEST_F(AdminAuthTest, MissingAuthorizationIs401WithChallenge) {
  Start(Bearer());
  auto r = Get("/metrics");
  EXPECT_EQ(r.status, 401) << r.error;
  EXPECT_EQ(Challenges(r), std::vector<std::string>{"Bearer realm=\"sluice\""});
  EXPECT_EQ(r.Header("Content-Type"), "application/json");
  EXPECT_EQ(r.body, "{\"error\":\"authentication required: send Authorization: Bearer\"}");
  EXPECT_EQ(r.body.find("sluice_"), std::string::npos) << "no metrics leak into a refusal";
  auto api = Get("/api/v1/traces");
  EXPECT_EQ(api.status, 401);
  EXPECT_EQ(module_.handled, 0) << "the query API is not reached without credentials";
  EXPECT_EQ(Counter("sluice_admin_unauthorized_total"), 2u);
}

TEST_F(AdminAuthTest, WrongTokenOfSameLengthIsRefused) {
  Start(Bearer());
  std::string wrong = kToken;
  wrong.back() = wrong.back() == '9' ? '8' : '9';
  ASSERT_EQ(wrong.size(), std::string(kToken).size());
  auto r = Get("/metrics", "Bearer " + wrong);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.body, "{\"error\":\"invalid Bearer token\"}");
  EXPECT_EQ(Challenges(r), std::vector<std::string>{"Bearer realm=\"sluice\""});
  // A prefix of the token, and the token with a byte more, are wrong too.
  EXPECT_EQ(Get("/metrics", "Bearer " + std::string(kToken).substr(0, 10)).status, 401);
  EXPECT_EQ(Get("/metrics", "Bearer " + std::string(kToken) + "x").status, 401);
  EXPECT_EQ(Counter("sluice_admin_unauthorized_total"), 3u);

  auto ok = Get("/metrics", std::string("Bearer ") + kToken);
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_NE(ok.body.find("sluice_admin_unauthorized_total 3"), std::string::npos) << ok.body;
  EXPECT_EQ(Get("/api/v1/traces", std::string("bearer  ") + kToken).status, 200)
      << "the scheme is case-insensitive (RFC 7235)";
  EXPECT_EQ(Counter("sluice_admin_unauthorized_total"), 3u);
}

TEST_F(AdminAuthTest, ProbesStayOpenWithAuth) {
  Start(Bearer());
  auto health = Get("/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "ok\n");
  auto ready = Get("/readyz");
  EXPECT_EQ(ready.status, 200) << ready.body;
  health_.Set("receiver/otlp", false, "starting");
  EXPECT_EQ(Get("/readyz").status, 503) << "readiness is answered, not refused";
  health_.Set("receiver/otlp", true);
  EXPECT_EQ(Counter("sluice_admin_unauthorized_total"), 0u);
  // Only those two paths, and only to read them.
  EXPECT_EQ(Get("/healthz/").status, 401);
  EXPECT_EQ(Get("/readyz?x=1").status, 200);
  EXPECT_EQ(testing::HttpRequest("POST", addr_, "/healthz", "x").status, 401);
  EXPECT_EQ(Counter("sluice_admin_unauthorized_total"), 2u);
}

TEST_F(AdminAuthTest, BasicAuthWithColonInPasswordWorks) {
  Start(Basic());
  auto ok = Get("/metrics", std::string("Basic ") + kOpsCredentials);
  EXPECT_EQ(ok.status, 200) << ok.body;
  auto wrong = Get("/metrics", std::string("Basic ") + kOpsWrongPassword);
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(wrong.body, "{\"error\":\"invalid username or password\"}");
  EXPECT_EQ(Challenges(wrong), std::vector<std::string>{"Basic realm=\"sluice\""});
  auto garbage = Get("/metrics", "Basic not*base64");
  EXPECT_EQ(garbage.status, 401);
  EXPECT_NE(garbage.body.find("malformed Basic credentials"), std::string::npos) << garbage.body;
  EXPECT_EQ(Get("/metrics", "Basic b3Bz").status, 401) << "base64 of \"ops\", no colon";
  EXPECT_EQ(Get("/metrics", std::string("Bearer ") + kOpsCredentials).status, 401)
      << "Bearer is not configured";
  EXPECT_EQ(Counter("sluice_admin_unauthorized_total"), 4u);
}

TEST_F(AdminAuthTest, EitherSchemeWorksWhenBothAreConfiguredAndBothAreChallenged) {
  Auth both = Bearer();
  both.basic = Basic().basic;
  Start(both);
  EXPECT_EQ(Get("/metrics", std::string("Bearer ") + kToken).status, 200);
  EXPECT_EQ(Get("/metrics", std::string("Basic ") + kOpsCredentials).status, 200);
  auto r = Get("/metrics", "Digest username=\"ops\"");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.body,
            "{\"error\":\"unsupported authorization scheme; send Authorization: Bearer or "
            "Basic\"}");
  EXPECT_EQ(Challenges(r),
            (std::vector<std::string>{"Bearer realm=\"sluice\"", "Basic realm=\"sluice\""}));
}

TEST_F(AdminAuthTest, NoAuthConfiguredLeavesEveryRouteOpen) {
  Start(Auth{});
  EXPECT_EQ(Get("/metrics").status, 200);
  EXPECT_EQ(Get("/api/v1/traces").status, 200);
  EXPECT_EQ(Counter("sluice_admin_unauthorized_total"), 0u);
}

TEST_F(AdminAuthTest, RateLimitIsCheckedBeforeCredentialsSoGuessingIsThrottled) {
  Start(Bearer(), /*burst=*/3);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Get("/metrics", "Bearer guess").status, 401);
  auto limited = Get("/metrics", std::string("Bearer ") + kToken);
  EXPECT_EQ(limited.status, 429) << "even the right token waits for the bucket";
  EXPECT_FALSE(limited.Header("Retry-After").empty());
  EXPECT_EQ(Counter("sluice_admin_unauthorized_total"), 3u);
  EXPECT_EQ(Counter("sluice_admin_rate_limited_total"), 1u);
}

TEST_F(AdminAuthTest, EveryResponseIsNosniffNoStoreAndNeverCrossOrigin) {
  Start(Bearer());
  const std::string auth = std::string("Bearer ") + kToken;
  for (const auto& r : {Get("/metrics", auth), Get("/api/v1/x", auth), Get("/api/cors", auth),
                        Get("/nothing", auth), Get("/metrics"), Get("/healthz")}) {
    EXPECT_EQ(r.Header("X-Content-Type-Options"), "nosniff") << r.status << " " << r.body;
    EXPECT_EQ(r.Header("Cache-Control"), "no-store") << r.status << " " << r.body;
    EXPECT_EQ(r.Header("Access-Control-Allow-Origin"), "") << r.status << " " << r.body;
  }
  auto cached = Get("/api/cached", auth);
  EXPECT_EQ(cached.status, 200);
  EXPECT_EQ(cached.Header("Cache-Control"), "max-age=60") << "a handler's own is kept";
  EXPECT_EQ(cached.Header("X-Content-Type-Options"), "nosniff");
}

// From a configuration file to the running service.

struct Loaded {
  std::optional<ServiceConfig> config;
  std::vector<std::string> errors;
};

Loaded Parse(const std::string& yaml, config::EnvLookup env = config::ProcessEnv()) {
  config::Context ctx("sluice.yaml", std::move(env));
  Loaded out;
  std::optional<YAML::Node> root = config::LoadString(yaml, ctx);
  if (root) out.config = ParseServiceConfig(*root, ctx, components::BuiltinCatalog());
  for (auto e : ctx.errors()) {
    e.where.file = "sluice.yaml";
    out.errors.push_back(e.ToString());
  }
  return out;
}

// A whole configuration with `metrics` as service.telemetry.metrics (indented
// by six spaces).
std::string Config(const std::string& data_dir, const std::string& metrics) {
  return R"(receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
storage:
  directory: )" +
         data_dir + R"(
service:
  telemetry:
    metrics:
)" + metrics +
         R"(
  pipelines:
    traces:
      receivers: [otlp]
)";
}

class AdminConfigTest : public ::testing::Test {
 protected:
  std::string Yaml(const std::string& metrics) { return Config(dir_.Sub("data"), metrics); }
  // Starts the service; the admin port bound to every interface is reached
  // at 127.0.0.1.
  void Start(const std::string& metrics, config::EnvLookup env = config::ProcessEnv()) {
    Loaded l = Parse(Yaml(metrics), std::move(env));
    ASSERT_TRUE(l.config.has_value()) << l.errors[0];
    service_ = std::make_unique<Service>(std::move(*l.config), registry_, io::FileSystem::Posix(),
                                         Clock::Real());
    Status st = service_->Start();
    ASSERT_TRUE(st.ok()) << st.ToString();
    for (const auto& a : service_->Addresses()) {
      if (a.rfind("admin ", 0) == 0) admin_ = "127.0.0.1" + a.substr(a.rfind(':'));
    }
    ASSERT_FALSE(admin_.empty());
  }

  testing::TempDir dir_;
  telemetry::Registry registry_;
  std::unique_ptr<Service> service_;
  std::string admin_;
};

TEST_F(AdminConfigTest, NonLoopbackBindWithoutAuthIsRefusedAtStartup) {
  Loaded l = Parse(Yaml("      address: 0.0.0.0:8888"));
  EXPECT_FALSE(l.config.has_value());
  ASSERT_EQ(l.errors.size(), 1u);
  // Line 11, column 16: the address's value.
  EXPECT_EQ(l.errors[0],
            "sluice.yaml:11:16: service.telemetry.metrics.address: 0.0.0.0:8888 is not a "
            "loopback address and the admin port has no auth, so anyone who can reach it would "
            "read /metrics and, through the query API, every stored span and log record; "
            "configure service.telemetry.metrics.auth (bearer_token: ${env:SLUICE_ADMIN_TOKEN}, "
            "or basic: {username: ..., password: ...}), or set "
            "service.telemetry.metrics.allow_unauthenticated: true to serve it without");
  for (const char* address : {"10.1.2.3:8888", "\"[::]:8888\"", "\":8888\"", "example.com:8888",
                              "128.0.0.1:8888", "\"[::ffff:10.0.0.1]:8888\""}) {
    Loaded other = Parse(Yaml(std::string("      address: ") + address));
    EXPECT_FALSE(other.config.has_value()) << address;
    ASSERT_EQ(other.errors.size(), 1u) << address;
    EXPECT_NE(other.errors[0].find("is not a loopback address"), std::string::npos)
        << other.errors[0];
  }
}

TEST_F(AdminConfigTest, LoopbackAddressesNeedNoAuth) {
  for (const char* address : {"127.0.0.1:8888", "127.0.0.2:8888", "\"[::1]:8888\"",
                              "localhost:8888", "LOCALHOST:8888", "\"[::ffff:127.0.0.1]:8888\""}) {
    Loaded l = Parse(Yaml(std::string("      address: ") + address));
    EXPECT_TRUE(l.errors.empty()) << address << ": " << l.errors[0];
  }
}

TEST_F(AdminConfigTest, MalformedAddressIsAConfigErrorNotAStartupSurprise) {
  Loaded l = Parse(Yaml("      address: nowhere"));
  EXPECT_FALSE(l.config.has_value());
  ASSERT_EQ(l.errors.size(), 1u);
  EXPECT_EQ(l.errors[0],
            "sluice.yaml:11:16: service.telemetry.metrics.address: endpoint \"nowhere\" must be "
            "host:port");
}

TEST_F(AdminConfigTest, NonLoopbackBindWithAuthIsAccepted) {
  Loaded bearer =
      Parse(Yaml("      address: 0.0.0.0:8888\n"
                 "      auth:\n"
                 "        bearer_token: abc"));
  EXPECT_TRUE(bearer.errors.empty()) << bearer.errors[0];
  Loaded basic =
      Parse(Yaml("      address: 0.0.0.0:8888\n"
                 "      auth:\n"
                 "        basic: {username: ops, password: pw}"));
  EXPECT_TRUE(basic.errors.empty()) << basic.errors[0];
}

TEST_F(AdminConfigTest, AllowUnauthenticatedPermitsNonLoopback) {
  Start(
      "      address: 0.0.0.0:0\n"
      "      allow_unauthenticated: true");
  auto r = testing::HttpGet(admin_, "/metrics");
  EXPECT_EQ(r.status, 200) << r.error << r.body;
  EXPECT_NE(r.body.find("sluice_admin_unauthorized_total 0"), std::string::npos);
}

TEST_F(AdminConfigTest, BearerTokenFromTheEnvironmentGuardsTheRunningService) {
  config::EnvLookup env = [](const std::string& name) -> std::optional<std::string> {
    if (name == "SLUICE_ADMIN_TOKEN") return kToken;
    return std::nullopt;
  };
  Start(
      "      address: 0.0.0.0:0\n"
      "      auth:\n"
      "        bearer_token: ${env:SLUICE_ADMIN_TOKEN}",
      env);
  auto refused = testing::HttpGet(admin_, "/metrics");
  EXPECT_EQ(refused.status, 401);
  EXPECT_EQ(refused.Header("WWW-Authenticate"), "Bearer realm=\"sluice\"");
  auto literal = testing::HttpRequest("GET", admin_, "/metrics", "",
                                      {{"Authorization", "Bearer ${env:SLUICE_ADMIN_TOKEN}"}});
  EXPECT_EQ(literal.status, 401) << "the reference is expanded, not taken literally";
  auto ok = testing::HttpRequest("GET", admin_, "/metrics", "",
                                 {{"Authorization", std::string("Bearer ") + kToken}});
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(testing::HttpGet(admin_, "/healthz").status, 200);
  EXPECT_EQ(registry_.AddCounter("sluice_admin_unauthorized_total", "").Get().Value(), 2u);
}

TEST_F(AdminConfigTest, EmptyOrUnsetTokenIsAConfigErrorNotOpenAccess) {
  config::EnvLookup empty = [](const std::string&) -> std::optional<std::string> { return ""; };
  Loaded l = Parse(Yaml("      address: 0.0.0.0:8888\n"
                        "      auth:\n"
                        "        bearer_token: ${env:SLUICE_ADMIN_TOKEN}"),
                   empty);
  EXPECT_FALSE(l.config.has_value());
  ASSERT_FALSE(l.errors.empty());
  EXPECT_EQ(l.errors[0],
            "sluice.yaml:13:23: service.telemetry.metrics.auth.bearer_token is empty (is the "
            "environment variable it names set?); remove the key to turn bearer "
            "authentication off");
  config::EnvLookup unset = [](const std::string&) -> std::optional<std::string> {
    return std::nullopt;
  };
  Loaded u = Parse(Yaml("      auth:\n"
                        "        bearer_token: ${env:SLUICE_ADMIN_TOKEN}"),
                   unset);
  EXPECT_FALSE(u.config.has_value());
  ASSERT_FALSE(u.errors.empty());
  EXPECT_NE(u.errors[0].find("SLUICE_ADMIN_TOKEN"), std::string::npos) << u.errors[0];
}

TEST_F(AdminConfigTest, BadBasicCredentialsAreConfigErrors) {
  Loaded colon =
      Parse(Yaml("      auth:\n"
                 "        basic: {username: \"a:b\", password: pw}"));
  ASSERT_FALSE(colon.errors.empty());
  EXPECT_NE(colon.errors[0].find("username must not contain ':'"), std::string::npos)
      << colon.errors[0];
  Loaded missing =
      Parse(Yaml("      auth:\n"
                 "        basic: {username: ops}"));
  ASSERT_FALSE(missing.errors.empty());
  EXPECT_NE(missing.errors[0].find("missing required key \"password\""), std::string::npos)
      << missing.errors[0];
  Loaded empty =
      Parse(Yaml("      auth:\n"
                 "        basic: {username: ops, password: \"\"}"));
  ASSERT_FALSE(empty.errors.empty());
  EXPECT_NE(empty.errors[0].find("password must not be empty"), std::string::npos)
      << empty.errors[0];
}

}  // namespace
}  // namespace sluice::pipeline
