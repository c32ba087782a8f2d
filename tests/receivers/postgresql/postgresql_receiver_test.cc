#include "receivers/postgresql/postgresql_receiver.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "pgmetrics/metrics.h"
#include "receivers/postgresql/options.h"
#include "support/postgres_server.h"
#include "support/service_harness.h"
#include "support/stored_samples.h"
#include "support/tcp_proxy.h"
#include "support/temp_dir.h"
#include "support/wait.h"

namespace sluice::receivers::postgresql {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::PostgresServer;
using testing::StoredPoint;

// Test metrics with answers known beforehand or read back directly.
constexpr const char* kMetrics = R"(metrics:
  answer:
    sqls:
      12: select 42::int8 as answer, 2.5::float8 as ratio, true as on_primary, 'forty two'::text as tag_word, null::int8 as missing, now() as left_out
    gauges: ['*']
  relations:
    sqls:
      12: select count(*)::int8 as tables from pg_class where relkind = 'r' and relnamespace = 'public'::regnamespace
  by_name:
    sqls:
      12: select relname::text as tag_relname, relpages::int8 as pages from pg_class where relkind = 'r' and relnamespace = 'public'::regnamespace
  primary_only:
    sqls:
      12: select (pg_current_wal_lsn() - '0/0'::pg_lsn)::int8 as wal_bytes
    node_status: primary
  standby_only:
    sqls:
      12: select 1::int8 as replaying
    node_status: standby
  instance_primary:
    sqls:
      12: select 1::int8 as seen
    is_instance_level: true
    node_status: primary
  instance_clock:
    sqls:
      12: select /* instance_clock */ (extract(epoch from clock_timestamp()) * 1e9)::int8 as epoch_ns, 1::int8 as fetched
    is_instance_level: true
  slow:
    sqls:
      12: select pg_sleep(30)::text as tag_never, 1::int8 as value
    statement_timeout_seconds: 1
  newer_only:
    sqls:
      99: select 1::int8 as value
)";

// One primary and its streaming standby for the whole suite.
class PostgresqlReceiverTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_TRUE(PostgresServer::Available())
        << "PostgreSQL is not installed: `make deps` installs it";
    servers_dir_ = new testing::TempDir();
    auto p = PostgresServer::Start(servers_dir_->path() + "/primary",
                                   {"log_statement=all", "wal_level=replica"});
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    primary_ = p->release();
    for (const char* sql : {"create table t1 (a int); create table t2 (a int); "
                            "insert into t1 select generate_series(1, 5000); analyze t1",
                            "create database db1", "create database db2"}) {
      auto r = primary_->Query(sql);
      ASSERT_TRUE(r.ok()) << sql << ": " << r.status().ToString();
    }
    auto s = PostgresServer::StartStandby(*primary_, servers_dir_->path() + "/standby");
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    standby_ = s->release();
  }
  static void TearDownTestSuite() {
    delete standby_;
    delete primary_;
    delete servers_dir_;
    standby_ = nullptr;
    primary_ = nullptr;
    servers_dir_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(primary_, nullptr);
    std::ofstream(dir_.path() + "/metrics.yaml") << kMetrics;
  }

  // A service whose postgresql receiver has `sources` (YAML list items,
  // indented under `sources:`).
  void Start(const std::string& sources, const std::string& extra = "") {
    const std::string yaml = R"(
receivers:
  postgresql:
    metrics_file: )" + dir_.path() +
                             R"(/metrics.yaml
    reconnect: {initial_interval: 200ms, max_interval: 1s}
    connect_timeout: 1s
)" + extra + R"(    sources:
)" + sources + R"(
storage:
  directory: )" + dir_.path() +
                             R"(/log
service:
  telemetry:
    metrics:
      address: 127.0.0.1:0
  pipelines:
    metrics:
      receivers: [postgresql]
)";
    service_ = testing::StartService(yaml, registry_);
    ASSERT_NE(service_, nullptr);
  }

  static std::string Source(const std::string& name, const PostgresServer& s,
                            const std::string& metrics, const std::string& db = "postgres") {
    return "      - name: " + name + "\n        conn_str: '" + s.ConnStr(db) +
           "'\n        custom_metrics: {" + metrics + "}\n";
  }

  uint64_t Counter(const std::string& name, std::vector<std::string> labels = {}) {
    std::vector<std::string> names = {"receiver"};
    std::vector<std::string> values = {"postgresql"};
    for (size_t i = 0; i + 1 < labels.size(); i += 2) {
      names.push_back(labels[i]);
      values.push_back(labels[i + 1]);
    }
    return registry_.AddCounter(name, "", names).With(values).Value();
  }
  uint64_t RoundTrips() { return Counter("sluice_receiver_postgresql_round_trips_total"); }
  uint64_t MetricErrors(const std::string& metric) {
    return Counter("sluice_receiver_postgresql_metric_errors_total", {"metric", metric});
  }

  std::map<std::string, std::vector<StoredPoint>> Stored() {
    service_->Shutdown();
    return testing::ReadStoredSamples(dir_.path() + "/log");
  }

  // The stored series whose key starts with `prefix`.
  static std::map<std::string, std::vector<StoredPoint>> With(
      const std::map<std::string, std::vector<StoredPoint>>& all, const std::string& prefix) {
    std::map<std::string, std::vector<StoredPoint>> out;
    for (const auto& [k, v] : all) {
      if (k.rfind(prefix, 0) == 0) out[k] = v;
    }
    return out;
  }

  static int64_t NowMs() {
    return std::chrono::duration_cast<milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  static inline testing::TempDir* servers_dir_ = nullptr;
  static inline PostgresServer* primary_ = nullptr;
  static inline PostgresServer* standby_ = nullptr;
  testing::TempDir dir_;
  telemetry::Registry registry_;
  std::unique_ptr<pipeline::Service> service_;
};

TEST_F(PostgresqlReceiverTest, StoredValuesAndLabelsAreWhatTheServerAnswers) {
  Start(Source("main", *primary_, "answer: 1, relations: 1, by_name: 1, newer_only: 1") +
        "        custom_tags: {env: test}\n");
  ASSERT_TRUE(testing::WaitUntil([&] { return RoundTrips() >= 2; }, seconds(20)));
  auto stored = Stored();
  const std::string labels = "dbname=\"main\",env=\"test\"";
  const std::string row = labels + ",word=\"forty two\"}";
  ASSERT_FALSE(stored["pgwatch_answer_answer{" + row].empty());
  EXPECT_EQ(stored["pgwatch_answer_answer{" + row].back().value, 42);
  EXPECT_EQ(stored["pgwatch_answer_ratio{" + row].back().value, 2.5);
  EXPECT_EQ(stored["pgwatch_answer_on_primary{" + row].back().value, 1) << "booleans as 0/1";
  EXPECT_TRUE(With(stored, "pgwatch_answer_missing").empty()) << "NULL values are no samples";
  EXPECT_TRUE(With(stored, "pgwatch_answer_left_out").empty()) << "timestamps are not values";
  EXPECT_TRUE(With(stored, "pgwatch_newer_only").empty()) << "no SQL for this server version";

  ASSERT_FALSE(stored["pgwatch_relations_tables{" + labels + "}"].empty());
  EXPECT_EQ(stored["pgwatch_relations_tables{" + labels + "}"].back().value,
            std::stod(primary_->Value("select count(*) from pg_class where relkind = 'r' and "
                                      "relnamespace = 'public'::regnamespace")));
  for (const char* table : {"t1", "t2"}) {
    auto& pages = stored["pgwatch_by_name_pages{" + labels + ",relname=\"" + table + "\"}"];
    ASSERT_FALSE(pages.empty()) << table;
    EXPECT_EQ(pages.back().value,
              std::stod(primary_->Value(
                  std::string("select relpages from pg_class where relname = '") + table + "'")));
  }
  auto& up = stored["pg_up{" + labels + "}"];
  ASSERT_GE(up.size(), 2u);
  for (const StoredPoint& p : up) EXPECT_EQ(p.value, 1);
  EXPECT_EQ(MetricErrors("answer") + MetricErrors("relations") + MetricErrors("by_name"), 0u);
}

TEST_F(PostgresqlReceiverTest, RoleExclusionAppliesToEveryKindOfMetricOnARealStandby) {
  const std::string metrics =
      "primary_only: 1, standby_only: 1, answer: 1, instance_primary: 1, instance_clock: 1";
  Start(Source("main", *primary_, metrics) + Source("replica", *standby_, metrics));
  ASSERT_TRUE(testing::WaitUntil([&] { return RoundTrips() >= 8; }, seconds(30)));
  auto stored = Stored();
  auto has = [&](const std::string& metric, const std::string& source) {
    for (const auto& [k, v] : stored) {
      if (k.rfind(metric + "{", 0) == 0 && k.find("dbname=\"" + source + "\"") != std::string::npos)
        return true;
    }
    return false;
  };
  EXPECT_TRUE(has("pgwatch_primary_only_wal_bytes", "main"));
  EXPECT_FALSE(has("pgwatch_primary_only_wal_bytes", "replica"));
  EXPECT_TRUE(has("pgwatch_standby_only_replaying", "replica"));
  EXPECT_FALSE(has("pgwatch_standby_only_replaying", "main"));
  EXPECT_TRUE(has("pgwatch_instance_primary_seen", "main"));
  EXPECT_FALSE(has("pgwatch_instance_primary_seen", "replica"))
      << "instance-level metrics are excluded by role too";
  EXPECT_TRUE(has("pgwatch_answer_answer", "main"));
  EXPECT_TRUE(has("pgwatch_answer_answer", "replica"));
  EXPECT_TRUE(has("pgwatch_instance_clock_fetched", "replica"));
  EXPECT_EQ(MetricErrors("primary_only"), 0u)
      << "a primary-only metric's answer on a standby is dropped, not counted as its error";
}

TEST_F(PostgresqlReceiverTest, InstanceLevelMetricsOfDatabasesOnOneServerAreFetchedOnceAndShared) {
  const size_t logged_before = [&] {
    const std::string log = primary_->Log();
    size_t n = 0;
    for (size_t at = log.find("/* instance_clock */"); at != std::string::npos;
         at = log.find("/* instance_clock */", at + 1)) {
      ++n;
    }
    return n;
  }();
  Start(Source("a", *primary_, "instance_clock: 1") +
        Source("b", *primary_, "instance_clock: 1", "db1") +
        Source("c", *primary_, "instance_clock: 1", "db2"));
  ASSERT_TRUE(testing::WaitUntil([&] { return RoundTrips() >= 15; }, seconds(30)));
  auto stored = Stored();
  std::set<int64_t> fetches;  // each fetch's own time (epoch_ns)
  size_t samples = 0;
  for (const char* source : {"a", "b", "c"}) {
    auto& points = stored["pgwatch_instance_clock_fetched{dbname=\"" + std::string(source) + "\"}"];
    EXPECT_GE(points.size(), 3u) << source << " stores the metric at every interval";
    for (const StoredPoint& p : points) fetches.insert(p.timestamp_ms);
    samples += points.size();
  }
  const std::string log = primary_->Log();
  size_t logged = 0;
  for (size_t at = log.find("/* instance_clock */"); at != std::string::npos;
       at = log.find("/* instance_clock */", at + 1)) {
    ++logged;
  }
  logged -= logged_before;
  EXPECT_EQ(fetches.size(), logged) << "every fetch the server ran is stored, at its own time";
  EXPECT_LT(logged * 2, samples) << "most answers are shared, not fetched by every database";
  EXPECT_GT(Counter("sluice_receiver_postgresql_shared_answers_total"), 0u);
}

TEST_F(PostgresqlReceiverTest, OneTickIsOneNetworkRoundTripPerSource) {
  testing::TcpProxy proxy(primary_->port());
  const std::string conn = "host=127.0.0.1 port=" + std::to_string(proxy.port()) +
                           " user=postgres dbname=postgres sslmode=disable gssencmode=disable";
  Start("      - name: counted\n        conn_str: '" + conn +
        "'\n        custom_metrics: {answer: 1, relations: 1, by_name: 1, instance_clock: 1}\n");
  ASSERT_TRUE(testing::WaitUntil([&] { return RoundTrips() >= 5; }, seconds(20)));
  service_->Shutdown();
  const uint64_t ticks = RoundTrips();
  EXPECT_EQ(proxy.connections(), 1u);
  // The start-up exchange, one turn per tick, and the goodbye when the
  // connection closes (which may not have been sent before the I/O
  // threads stopped).
  EXPECT_GE(proxy.turns(), ticks + 1);
  EXPECT_LE(proxy.turns(), ticks + 2);
  // ... and every tick ran every metric: the server logged each statement
  // once per tick.
  const std::string log = primary_->Log();
  size_t relations = 0;
  for (size_t at = log.find("as tables from pg_class"); at != std::string::npos;
       at = log.find("as tables from pg_class", at + 1)) {
    ++relations;
  }
  EXPECT_GE(relations, ticks) << "the relations metric ran at every tick";
}

TEST_F(PostgresqlReceiverTest, AHungQueryIsCutAtItsStatementTimeoutAndTheOthersGoOn) {
  Start(Source("main", *primary_, "answer: 1, slow: 1"));
  ASSERT_TRUE(testing::WaitUntil([&] { return MetricErrors("slow") >= 2; }, seconds(30)));
  auto stored = Stored();
  EXPECT_GE(stored["pgwatch_answer_answer{dbname=\"main\",word=\"forty two\"}"].size(), 2u);
  EXPECT_TRUE(With(stored, "pgwatch_slow").empty());
  for (const StoredPoint& p : stored["pg_up{dbname=\"main\"}"]) {
    EXPECT_EQ(p.value, 1) << "a metric's own error leaves the source up";
  }
}

TEST_F(PostgresqlReceiverTest, HostNamesAreResolvedAndAnUnknownOneIsADownSource) {
  Start("      - name: named\n        conn_str: 'host=localhost port=" +
        std::to_string(primary_->port()) +
        " user=postgres dbname=postgres'\n        custom_metrics: {answer: 1}\n"
        "      - name: nowhere\n        conn_str: 'host=no-such-host.invalid user=postgres'\n"
        "        custom_metrics: {answer: 1}\n");
  ASSERT_TRUE(testing::WaitUntil([&] { return RoundTrips() >= 3; }, seconds(20)));
  auto stored = Stored();
  EXPECT_GE(stored["pgwatch_answer_answer{dbname=\"named\",word=\"forty two\"}"].size(), 3u);
  const auto& nowhere = stored["pg_up{dbname=\"nowhere\"}"];
  ASSERT_FALSE(nowhere.empty());
  for (const StoredPoint& p : nowhere) EXPECT_EQ(p.value, 0);
}

// A server of its own for the tests that kill or freeze it.
class PostgresqlFailureTest : public PostgresqlReceiverTest {
 protected:
  void SetUp() override {
    PostgresqlReceiverTest::SetUp();
    auto v = PostgresServer::Start(dir_.path() + "/victim");
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    victim_ = std::move(*v);
  }
  std::unique_ptr<PostgresServer> victim_;
};

TEST_F(PostgresqlFailureTest, AKilledServerGivesPgUpZeroWithinOneTickAndOtherSourcesGoOn) {
  Start(Source("victim", *victim_, "answer: 1") + Source("steady", *primary_, "answer: 1"));
  ASSERT_TRUE(testing::WaitUntil([&] { return RoundTrips() >= 4; }, seconds(20)));
  const int64_t killed = NowMs();
  victim_->Kill();
  const uint64_t failures_before = Counter("sluice_receiver_postgresql_failures_total");
  ASSERT_TRUE(testing::WaitUntil(
      [&] { return Counter("sluice_receiver_postgresql_failures_total") >= failures_before + 3; },
      seconds(20)));
  const int64_t restarted = NowMs();
  ASSERT_TRUE(victim_->Restart().ok());
  const uint64_t trips = RoundTrips();
  ASSERT_TRUE(testing::WaitUntil([&] { return RoundTrips() >= trips + 6; }, seconds(20)));
  auto stored = Stored();

  const auto& victim_up = stored["pg_up{dbname=\"victim\"}"];
  size_t down = 0;
  bool back_up = false;
  for (const StoredPoint& p : victim_up) {
    if (p.timestamp_ms > killed + 1000 && p.timestamp_ms < restarted) {
      EXPECT_EQ(p.value, 0) << "every tick after the kill says the source is down";
      ++down;
    }
    if (p.timestamp_ms > restarted && p.value == 1) back_up = true;
  }
  EXPECT_GE(down, 2u) << "pg_up stays present while the source is down";
  EXPECT_TRUE(back_up) << "the source reconnects once the server is back";
  // The first tick that began after the kill already says 0.
  for (const StoredPoint& p : victim_up) {
    if (p.timestamp_ms > killed) {
      EXPECT_EQ(p.value, 0);
      break;
    }
  }

  size_t steady_during = 0;
  for (const StoredPoint& p : stored["pg_up{dbname=\"steady\"}"]) {
    EXPECT_EQ(p.value, 1);
    if (p.timestamp_ms > killed && p.timestamp_ms < restarted) ++steady_during;
  }
  EXPECT_GE(steady_during, 2u) << "the other source kept its ticks while the victim was down";
}

TEST_F(PostgresqlFailureTest, AFrozenServerIsCutAtTheDeadlineAndDelaysNoOtherSource) {
  Start(Source("victim", *victim_, "answer: 1") + Source("steady", *primary_, "answer: 1"));
  ASSERT_TRUE(testing::WaitUntil([&] { return RoundTrips() >= 4; }, seconds(20)));
  const int64_t frozen = NowMs();
  victim_->Freeze();
  const uint64_t failures_before = Counter("sluice_receiver_postgresql_failures_total");
  const bool cut = testing::WaitUntil(
      [&] { return Counter("sluice_receiver_postgresql_failures_total") >= failures_before + 2; },
      seconds(30));
  const int64_t thawed = NowMs();
  victim_->Thaw();
  ASSERT_TRUE(cut) << "a server that answers nothing fails the source at the deadline";
  auto stored = Stored();
  size_t down = 0;
  for (const StoredPoint& p : stored["pg_up{dbname=\"victim\"}"]) {
    if (p.timestamp_ms > frozen && p.timestamp_ms < thawed && p.value == 0) ++down;
  }
  EXPECT_GE(down, 1u);
  size_t steady_during = 0;
  for (const StoredPoint& p : stored["pg_up{dbname=\"steady\"}"]) {
    EXPECT_EQ(p.value, 1);
    if (p.timestamp_ms > frozen && p.timestamp_ms < thawed) ++steady_during;
  }
  EXPECT_GE(steady_during, 2u) << "the hung server delayed no other source";
}

TEST_F(PostgresqlReceiverTest, EveryBuiltInPresetRunsCleanOnPrimaryAndStandby) {
  for (const char* preset : {"basic", "standard"}) {
    SCOPED_TRACE(preset);
    // Every metric of the preset at 1 s, so the first tick fetches them all.
    std::string metrics;
    for (const auto& [name, seconds] : pgmetrics::Builtin().presets.at(preset).metrics) {
      metrics += (metrics.empty() ? "" : ", ") + name + ": 1";
    }
    const uint64_t before = RoundTrips();
    Start(Source("main", *primary_, metrics) + Source("replica", *standby_, metrics));
    ASSERT_TRUE(testing::WaitUntil([&] { return RoundTrips() >= before + 6; }, seconds(30)));
    service_->Shutdown();
    for (const auto& [name, seconds] : pgmetrics::Builtin().presets.at(preset).metrics) {
      EXPECT_EQ(MetricErrors(name), 0u) << name;
    }
    auto stored = testing::ReadStoredSamples(dir_.path() + "/log");
    EXPECT_FALSE(With(stored, "pgwatch_").empty());
    service_.reset();
    std::filesystem::remove_all(dir_.path() + "/log");
  }
}

// Configuration: pgwatch's sources file, refused kinds and names.
class PostgresqlConfigTest : public ::testing::Test {
 protected:
  Result<std::shared_ptr<const Plan>> PlanOf(const std::string& sources_file,
                                             const std::string& inline_yaml = "") {
    std::ofstream(dir_.path() + "/sources.yaml") << sources_file;
    config::Context ctx("receiver.yaml");
    auto root =
        config::LoadString("sources_file: " + dir_.path() + "/sources.yaml\n" + inline_yaml, ctx);
    PostgresqlOptions o;
    PostgresqlOptionsSchema().Parse(*root, &o, ctx);
    if (!ctx.ok()) return Status::InvalidArgument(ctx.errors()[0].ToString());
    return MakePlan(o);
  }
  testing::TempDir dir_;
};

TEST_F(PostgresqlConfigTest, APgwatchSourcesFileLoadsUnchanged) {
  ::setenv("SLUICE_TEST_PG_CONN", "postgresql://monitor:secret@db.example:5432/app", 1);
  auto plan = PlanOf(R"(- name: test1       # An arbitrary unique name for the monitored source
  conn_str: ${env:SLUICE_TEST_PG_CONN}
  kind: postgres
  preset_metrics: standard
  custom_metrics:
  preset_metrics_standby:
  custom_metrics_standby:
  include_pattern:
  exclude_pattern:
  is_enabled: true
  group: default
  custom_tags:
      aws_instance_id: i-0af01c0123456789a

- name: patroni-test
  kind: patroni
  conn_str: etcd://localhost:2379/service/batman
  stmt_timeout: 5
  preset_metrics:
  custom_metrics:
    wal: 60
  dbname_include_pattern: (bar|postgres)
  dbname_exclude_pattern:
  is_enabled: false
  only_if_master: true

- name: only-basic
  conn_str: host=127.0.0.1 dbname=x
  preset_metrics: basic
  custom_metrics: {db_stats: 10}
  group: other
)");
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  ASSERT_EQ((*plan)->sources.size(), 2u) << "the disabled source is left out";
  const SourcePlan& s = (*plan)->sources[0];
  EXPECT_EQ(s.source.conn_str, "postgresql://monitor:secret@db.example:5432/app");
  EXPECT_EQ(s.primary.size(), pgmetrics::Builtin().presets.at("standard").metrics.size());
  EXPECT_EQ(s.standby.size(), s.primary.size()) << "no standby preset: the same metrics";
  ASSERT_EQ(s.source.custom_tags.size(), 1u);
  const SourcePlan& b = (*plan)->sources[1];
  for (const Planned& p : b.primary) {
    if (p.metric->name == "db_stats") {
      EXPECT_EQ(p.interval, seconds(10)) << "custom wins";
    }
  }
  EXPECT_EQ(b.tick.count() % std::chrono::nanoseconds(seconds(1)).count(), 0);

  auto grouped = PlanOf(R"(- name: a
  conn_str: x
  preset_metrics: basic
- name: b
  conn_str: y
  preset_metrics: basic
  group: other
)",
                        "groups: [other]\n");
  ASSERT_TRUE(grouped.ok()) << grouped.status().ToString();
  ASSERT_EQ((*grouped)->sources.size(), 1u);
  EXPECT_EQ((*grouped)->sources[0].source.name, "b");
}

TEST_F(PostgresqlConfigTest, SourcesThatCannotRunAreRefusedWithFileLineAndColumn) {
  auto kind = PlanOf(R"(- name: ok
  conn_str: x
  preset_metrics: basic
- name: bouncer
  conn_str: postgresql://pgwatch@localhost/pgbouncer
  kind: pgbouncer
)");
  ASSERT_FALSE(kind.ok());
  EXPECT_NE(kind.status().message().find("sources.yaml:4:9: source bouncer: kind \"pgbouncer\""),
            std::string::npos)
      << kind.status().message();

  auto preset = PlanOf("- name: a\n  conn_str: x\n  preset_metrics: everything\n");
  ASSERT_FALSE(preset.ok());
  EXPECT_NE(preset.status().message().find("unknown preset \"everything\""), std::string::npos);

  auto metric = PlanOf("- name: a\n  conn_str: x\n  custom_metrics: {no_such_metric: 60}\n");
  ASSERT_FALSE(metric.ok());
  EXPECT_NE(metric.status().message().find("unknown metric \"no_such_metric\""), std::string::npos);

  auto twice = PlanOf("- name: a\n  conn_str: x\n- name: a\n  conn_str: y\n");
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.status().message().find("sources.yaml:3:9"), std::string::npos)
      << twice.status().message();

  auto key = PlanOf("- name: a\n  conn_str: x\n  colour: blue\n");
  ASSERT_FALSE(key.ok());
  EXPECT_NE(key.status().message().find("sources.yaml:3:3"), std::string::npos)
      << key.status().message();

  auto interval = PlanOf("- name: a\n  conn_str: x\n  custom_metrics: {db_stats: -5}\n");
  ASSERT_FALSE(interval.ok());
  EXPECT_NE(interval.status().message().find("sources.yaml:3:30"), std::string::npos)
      << interval.status().message();
}

TEST(ReconnectDelayTest, SourcesThatFailTogetherComeBackSpreadOutAndBackOffToTheMaximum) {
  ReconnectOptions o;
  o.initial_interval = seconds(1);
  o.max_interval = seconds(60);
  // 500 sources (each its own generator, seeded by its name's hash) failing
  // at once.
  std::vector<int64_t> first;
  for (uint64_t seed = 1; seed <= 500; ++seed) {
    std::mt19937_64 rng(seed * 0x9e3779b97f4a7c15ull);
    const auto d = ReconnectDelay(1, o, rng);
    EXPECT_GE(d, milliseconds(500));
    EXPECT_LE(d, seconds(1));
    first.push_back(d.count());
  }
  // Spread over the upper half of the first wait: no tenth of it holds more
  // than a fifth of the sources.
  std::vector<int> buckets(10, 0);
  for (int64_t d : first) {
    ++buckets[std::min<int64_t>(9, (d - 500'000'000) / 50'000'000)];
  }
  for (int b : buckets) EXPECT_LT(b, 100);
  std::mt19937_64 rng(7);
  EXPECT_GE(ReconnectDelay(3, o, rng), seconds(2)) << "doubles per failure";
  EXPECT_LE(ReconnectDelay(3, o, rng), seconds(4));
  for (int failures : {7, 8, 30, 1000}) {
    const auto d = ReconnectDelay(failures, o, rng);
    EXPECT_GE(d, seconds(30));
    EXPECT_LE(d, seconds(60)) << "at most max_interval";
  }
}

TEST_F(PostgresqlConfigTest, TheExamplesLoad) {
  ::setenv("ORDERS_PASSWORD", "secret", 1);
  ::setenv("METRICS_DB_PASSWORD", "secret", 1);
  config::Context ctx(SLUICE_EXAMPLES_DIR "/postgresql.yaml");
  auto root = config::LoadFile(SLUICE_EXAMPLES_DIR "/postgresql.yaml", ctx);
  ASSERT_TRUE(root.has_value());
  auto cfg = pipeline::ParseServiceConfig(*root, ctx, components::BuiltinCatalog());
  ASSERT_TRUE(cfg.has_value()) << ctx.errors()[0].ToString();

  PostgresqlOptions o;
  o.sources_file = SLUICE_EXAMPLES_DIR "/pgwatch-sources.yaml";
  o.groups = {"payments", "warehouse"};
  auto plan = MakePlan(o);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  ASSERT_EQ((*plan)->sources.size(), 3u) << "the disabled source is left out";
  const SourcePlan& replica = (*plan)->sources[1];
  EXPECT_EQ(replica.source.name, "orders-replica");
  EXPECT_EQ(replica.standby.size(), pgmetrics::Builtin().presets.at("basic").metrics.size())
      << "basic already has replication_lag, at 30 s now";
  EXPECT_EQ(replica.tick, seconds(30));
  EXPECT_EQ((*plan)->sources[0].source.conn_str,
            "postgresql://monitor:secret@10.0.0.5:5432/orders");
}

}  // namespace
}  // namespace sluice::receivers::postgresql
