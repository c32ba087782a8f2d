#include "pgmetrics/metrics.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <numeric>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/postgres_server.h"
#include "support/temp_dir.h"

namespace sluice::pgmetrics {
namespace {

using sluice::testing::PostgresServer;
using sluice::testing::TempDir;

// A file in the shape pgwatch writes, every key used once. Line numbers in
// the error tests below count from the `metrics:` line as 1.
constexpr char kPgwatchFile[] = R"(metrics:
  db_stats:
    description: database activity
    sqls:
      11: select 11 as v
      "13": select 13 as v
      16: |
        select 16 as v
    gauges: [numbackends]
    statement_timeout_seconds: 5
  wal:
    sqls:
      12: select pg_current_wal_lsn()
    gauges: ['*']
    is_instance_level: true
    node_status: primary
    metric_storage_name: wal_lsn
  lag:
    sqls: {12: select 1}
    node_status: standby
    init_sql: set work_mem = '8MB'
presets:
  small:
    description: a few
    metrics:
      db_stats: 60
      wal: 30
)";

Result<Definitions> Parse(const std::string& text, const Definitions* known = nullptr) {
  return ParseDefinitions(text, "test.yaml", known);
}

// The error of parsing `text`, or "ok" when it parses.
std::string ErrorOf(const std::string& text, const Definitions* known = nullptr) {
  Result<Definitions> r = Parse(text, known);
  return r.ok() ? "ok" : r.status().message();
}

TEST(ParseDefinitionsTest, APgwatchStyleFileLoadsWithEveryField) {
  Result<Definitions> r = Parse(kPgwatchFile);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const Definitions& d = *r;
  ASSERT_EQ(d.metrics.size(), 3u);

  const Metric& db = d.metrics.at("db_stats");
  EXPECT_EQ(db.name, "db_stats");
  EXPECT_EQ(db.description, "database activity");
  EXPECT_EQ(db.sqls.size(), 3u);
  EXPECT_EQ(db.sqls.at(16), "select 16 as v\n");
  EXPECT_EQ(db.statement_timeout_seconds, 5);
  EXPECT_TRUE(db.IsGauge("numbackends"));
  EXPECT_FALSE(db.IsGauge("xact_commit"));
  EXPECT_FALSE(db.is_instance_level);
  EXPECT_EQ(db.node_status, NodeStatus::kAny);
  EXPECT_EQ(db.table(), "db_stats");

  const Metric& wal = d.metrics.at("wal");
  EXPECT_TRUE(wal.all_gauges);
  EXPECT_TRUE(wal.IsGauge("anything"));
  EXPECT_TRUE(wal.is_instance_level);
  EXPECT_EQ(wal.node_status, NodeStatus::kPrimary);
  EXPECT_EQ(wal.table(), "wal_lsn");

  const Metric& lag = d.metrics.at("lag");
  EXPECT_EQ(lag.node_status, NodeStatus::kStandby);
  EXPECT_EQ(lag.init_sql, "set work_mem = '8MB'");
  EXPECT_EQ(lag.statement_timeout_seconds, 0);

  ASSERT_EQ(d.presets.size(), 1u);
  const Preset& small = d.presets.at("small");
  EXPECT_EQ(small.description, "a few");
  EXPECT_EQ(small.metrics, (std::map<std::string, int64_t>{{"db_stats", 60}, {"wal", 30}}));
}

TEST(ParseDefinitionsTest, SqlForPicksTheNewestVersionNotAboveTheServerAndNullBelowTheOldest) {
  Result<Definitions> r = Parse(kPgwatchFile);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const Metric& db = r->metrics.at("db_stats");
  EXPECT_EQ(db.SqlFor(10), nullptr);
  ASSERT_NE(db.SqlFor(11), nullptr);
  EXPECT_EQ(*db.SqlFor(11), "select 11 as v");
  EXPECT_EQ(*db.SqlFor(12), "select 11 as v");
  EXPECT_EQ(*db.SqlFor(13), "select 13 as v");  // the key was written "13"
  EXPECT_EQ(*db.SqlFor(15), "select 13 as v");
  EXPECT_EQ(*db.SqlFor(16), "select 16 as v\n");
  EXPECT_EQ(*db.SqlFor(17), "select 16 as v\n");
}

TEST(ParseDefinitionsTest, StorageNameIsAcceptedUnderPgwatchsKeyToo) {
  Result<Definitions> r = Parse("metrics:\n  m:\n    sqls: {12: select 1}\n    storage_name: t\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->metrics.at("m").table(), "t");
}

TEST(ParseDefinitionsTest, AnUnknownKeyIsRefusedAtItsLineAndColumn) {
  EXPECT_EQ(ErrorOf("metrics:\n  m:\n    sqls: {12: select 1}\n    gauge: [a]\n"),
            "test.yaml:4:5: metric m: unknown key \"gauge\" (expected description, sqls, gauges, "
            "is_instance_level, node_status, statement_timeout_seconds, init_sql, "
            "metric_storage_name)");
  EXPECT_EQ(ErrorOf("metric:\n  m: {}\n"),
            "test.yaml:1:1: unknown key \"metric\" (expected metrics or presets)");
  EXPECT_EQ(ErrorOf("metrics: {}\npresets:\n  p:\n    metrics: {}\n    interval: 5\n"),
            "test.yaml:5:5: preset p: unknown key \"interval\" (expected description, metrics)");
}

TEST(ParseDefinitionsTest, ANonIntegerVersionIsRefusedAtItsLineAndColumn) {
  EXPECT_EQ(ErrorOf("metrics:\n  m:\n    sqls:\n      12: select 1\n      9.6: select 2\n"),
            "test.yaml:5:7: metric m: sqls: \"9.6\" is not a major version (a whole number such "
            "as 12)");
  EXPECT_EQ(ErrorOf("metrics:\n  m:\n    sqls:\n      latest: select 1\n"),
            "test.yaml:4:7: metric m: sqls: \"latest\" is not a major version (a whole number "
            "such as 12)");
  EXPECT_EQ(ErrorOf("metrics:\n  m:\n    sqls:\n      12: select 1\n      \"12\": select 2\n"),
            "test.yaml:5:7: metric m: sqls: version 12 given twice");
}

TEST(ParseDefinitionsTest, APresetNamingAnUndefinedMetricIsRefused) {
  const std::string text =
      "metrics:\n  m:\n    sqls: {12: select 1}\npresets:\n  p:\n"
      "    metrics:\n      m: 60\n      other: 60\n";
  EXPECT_EQ(ErrorOf(text), "test.yaml:8:7: preset p: metric \"other\" is not defined");
  // A metric of the definitions the file is merged onto counts as defined.
  Definitions known;
  known.metrics["other"].name = "other";
  Result<Definitions> r = Parse(text, &known);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->presets.at("p").metrics.size(), 2u);
}

TEST(ParseDefinitionsTest, ANegativeZeroOrFractionalIntervalIsRefused) {
  const std::string head =
      "metrics:\n  m:\n    sqls: {12: select 1}\npresets:\n  p:\n"
      "    metrics:\n      m: ";
  EXPECT_EQ(ErrorOf(head + "-60\n"),
            "test.yaml:7:10: preset p: metric m: interval \"-60\" is not a positive whole "
            "number of seconds");
  EXPECT_EQ(ErrorOf(head + "0\n"),
            "test.yaml:7:10: preset p: metric m: interval \"0\" is not a positive whole number "
            "of seconds");
  EXPECT_NE(ErrorOf(head + "1.5\n").find("test.yaml:7:10: "), std::string::npos);
  EXPECT_NE(ErrorOf(head + "60s\n").find("test.yaml:7:10: "), std::string::npos);
}

TEST(ParseDefinitionsTest, AValueOfTheWrongTypeIsRefusedAtItsPosition) {
  EXPECT_EQ(ErrorOf("metrics:\n  m:\n    sqls: {12: select 1}\n    is_instance_level: maybe\n"),
            "test.yaml:4:24: metric m: is_instance_level: expected true or false");
  EXPECT_EQ(ErrorOf("metrics:\n  m:\n    sqls: {12: select 1}\n    gauges: numbackends\n"),
            "test.yaml:4:13: metric m: gauges: expected a list of column names");
  EXPECT_EQ(ErrorOf("metrics:\n  m:\n    sqls: [select 1]\n"),
            "test.yaml:3:11: metric m: sqls: expected a map of major version to SQL");
  EXPECT_EQ(ErrorOf("metrics:\n  m:\n    sqls: {12: [select 1]}\n"),
            "test.yaml:3:16: metric m: sqls 12: expected a string");
  EXPECT_EQ(ErrorOf("metrics:\n  m:\n    sqls: {12: select 1}\n    node_status: master\n"),
            "test.yaml:4:18: metric m: node_status must be primary or standby, not \"master\"");
  EXPECT_EQ(
      ErrorOf("metrics:\n  m:\n    sqls: {12: select 1}\n    statement_timeout_seconds: soon\n"),
      "test.yaml:4:32: metric m: statement_timeout_seconds: expected a whole number");
  EXPECT_EQ(ErrorOf("metrics:\n  m:\n    description: no sql\n"),
            "test.yaml:3:5: metric m: needs sqls");
  EXPECT_EQ(ErrorOf("metrics: [a, b]\n"),
            "test.yaml:1:10: metrics: expected a map of metric names");
}

TEST(ParseDefinitionsTest, BrokenYamlIsRefusedWithItsPosition) {
  const std::string e = ErrorOf("metrics:\n  m:\n    sqls: {12: select 1\n");
  EXPECT_EQ(e.rfind("test.yaml:", 0), 0u) << e;
  EXPECT_NE(e.find("YAML syntax"), std::string::npos) << e;
}

TEST(DefinitionsTest, MergeReplacesMetricsAndPresetsOfTheSameNameAndKeepsTheOthers) {
  Result<Definitions> base = Parse(kPgwatchFile);
  ASSERT_TRUE(base.ok()) << base.status().ToString();
  Result<Definitions> more = Parse(
      "metrics:\n  wal:\n    sqls: {14: select 2}\n  extra:\n    sqls: {12: select 3}\n"
      "presets:\n  small:\n    metrics: {extra: 300}\n");
  ASSERT_TRUE(more.ok()) << more.status().ToString();
  Definitions d = std::move(base).value();
  d.Merge(std::move(more).value());
  EXPECT_EQ(d.metrics.size(), 4u);
  EXPECT_EQ(d.metrics.at("wal").sqls, (std::map<int, std::string>{{14, "select 2"}}));
  EXPECT_FALSE(d.metrics.at("wal").is_instance_level);  // replaced whole, not field by field
  EXPECT_EQ(d.metrics.at("db_stats").sqls.size(), 3u);
  EXPECT_EQ(d.presets.at("small").metrics, (std::map<std::string, int64_t>{{"extra", 300}}));
}

TEST(SeriesNameTest, CharactersOutsideThePrometheusAlphabetBecomeUnderscores) {
  EXPECT_EQ(SeriesName("pgwatch", "db_stats", "xact_commit"), "pgwatch_db_stats_xact_commit");
  EXPECT_EQ(SeriesName("", "db_stats", "xact_commit"), "db_stats_xact_commit");
  EXPECT_EQ(SeriesName("my-ns", "stat.io", "read time:ms"), "my_ns_stat_io_read_time:ms");
}

TEST(SplitTest, TheLongestDefinedMetricThatFitsWins) {
  Definitions d;
  d.metrics["db"].name = "db";
  d.metrics["db_stats"].name = "db_stats";
  std::optional<SplitName> s = Split(d, "pgwatch", "pgwatch_db_stats_xact_commit");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->metric, &d.metrics.at("db_stats"));
  EXPECT_EQ(s->column, "xact_commit");
  s = Split(d, "pgwatch", "pgwatch_db_size_b");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->metric, &d.metrics.at("db"));
  EXPECT_EQ(s->column, "size_b");
  s = Split(d, "", "db_stats_deadlocks");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->metric, &d.metrics.at("db_stats"));
  EXPECT_EQ(s->column, "deadlocks");
}

TEST(SplitTest, ForeignNamesAreNotSplit) {
  Definitions d;
  d.metrics["db"].name = "db";
  d.metrics["db_stats"].name = "db_stats";
  EXPECT_FALSE(Split(d, "pgwatch", "node_cpu_seconds_total").has_value());
  EXPECT_FALSE(Split(d, "pgwatch", "other_db_stats_xact_commit").has_value());
  EXPECT_FALSE(Split(d, "pgwatch", "pgwatch_wal_bytes").has_value());
  EXPECT_FALSE(Split(d, "pgwatch", "pgwatch_db_").has_value());  // no column
  EXPECT_FALSE(Split(d, "pgwatch", "pgwatchdb_stats_x").has_value());
}

// ---- The built-in definitions ----

std::set<std::string> MetricsOf(const Preset& p) {
  std::set<std::string> out;
  for (const auto& [name, interval] : p.metrics) out.insert(name);
  return out;
}

TEST(BuiltinTest, TheBuiltinPresetsParseAndEachIncludesTheOneBefore) {
  const Definitions& d = Builtin();
  EXPECT_EQ(&d, &Builtin());
  ASSERT_EQ(d.presets.count("basic"), 1u);
  ASSERT_EQ(d.presets.count("standard"), 1u);
  ASSERT_EQ(d.presets.count("exhaustive"), 1u);
  const std::set<std::string> basic = MetricsOf(d.presets.at("basic"));
  const std::set<std::string> standard = MetricsOf(d.presets.at("standard"));
  const std::set<std::string> exhaustive = MetricsOf(d.presets.at("exhaustive"));
  EXPECT_TRUE(std::includes(standard.begin(), standard.end(), basic.begin(), basic.end()));
  EXPECT_TRUE(
      std::includes(exhaustive.begin(), exhaustive.end(), standard.begin(), standard.end()));
  EXPECT_LT(basic.size(), standard.size());
  EXPECT_LT(standard.size(), exhaustive.size());
  EXPECT_LE(basic.size(), 8u);
  EXPECT_GE(standard.size(), 12u);
  EXPECT_LE(standard.size(), 18u);
}

TEST(BuiltinTest, EveryPresetMetricHasSqlForPostgres12And17) {
  const Definitions& d = Builtin();
  for (const auto& [preset_name, preset] : d.presets) {
    for (const auto& [metric, interval] : preset.metrics) {
      const Metric& m = d.metrics.at(metric);
      EXPECT_NE(m.SqlFor(12), nullptr) << preset_name << "/" << metric;
      EXPECT_NE(m.SqlFor(17), nullptr) << preset_name << "/" << metric;
    }
  }
}

TEST(BuiltinTest, APresetsIntervalsShareAWholeMinuteOrHalfMinute) {
  for (const auto& [name, preset] : Builtin().presets) {
    int64_t gcd = 0;
    for (const auto& [metric, interval] : preset.metrics) gcd = std::gcd(gcd, interval);
    EXPECT_TRUE(gcd == 30 || gcd == 60) << name << ": " << gcd;
  }
}

TEST(BuiltinTest, ExtensionMetricsAreOnlyInExhaustiveAndCreateNothing) {
  const Definitions& d = Builtin();
  const Metric& ss = d.metrics.at("stat_statements");
  EXPECT_TRUE(ss.init_sql.empty());
  EXPECT_EQ(d.presets.at("exhaustive").metrics.count("stat_statements"), 1u);
  EXPECT_EQ(d.presets.at("standard").metrics.count("stat_statements"), 0u);
  for (const auto& [name, m] : d.metrics) {
    for (const auto& [version, sql] : m.sqls) {
      EXPECT_EQ(sql.find("create extension"), std::string::npos) << name;
    }
  }
}

// ---- Against a real PostgreSQL ----

constexpr Oid kBoolOid = 16, kInt8Oid = 20, kInt2Oid = 21, kInt4Oid = 23, kTextOid = 25,
              kFloat4Oid = 700, kFloat8Oid = 701, kNumericOid = 1700;

bool IsNumericType(Oid t) {
  return t == kInt2Oid || t == kInt4Oid || t == kInt8Oid || t == kFloat4Oid || t == kFloat8Oid ||
         t == kNumericOid;
}

struct Outcome {
  bool ok = false;
  std::string error;
  int rows = 0;
  // Columns breaking the conventions: tag_* not text, others not numeric,
  // epoch_ns not int8.
  std::vector<std::string> bad_columns;
};

// Runs `sql` on a new connection to `server` and checks its columns.
Outcome RunMetric(const PostgresServer& server, const std::string& sql) {
  Outcome out;
  std::unique_ptr<PGconn, void (*)(PGconn*)> conn(PQconnectdb(server.ConnStr().c_str()), PQfinish);
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    out.error = "connect: " + std::string(PQerrorMessage(conn.get()));
    return out;
  }
  std::unique_ptr<PGresult, void (*)(PGresult*)> res(PQexec(conn.get(), sql.c_str()), PQclear);
  if (PQresultStatus(res.get()) != PGRES_TUPLES_OK) {
    out.error = PQresultErrorMessage(res.get());
    return out;
  }
  out.ok = true;
  out.rows = PQntuples(res.get());
  for (int i = 0; i < PQnfields(res.get()); ++i) {
    const std::string name = PQfname(res.get(), i);
    const Oid type = PQftype(res.get(), i);
    const bool good = name.rfind("tag_", 0) == 0 ? type == kTextOid
                      : name == "epoch_ns"       ? type == kInt8Oid
                                                 : IsNumericType(type) && type != kBoolOid;
    if (!good) out.bad_columns.push_back(name + " (type oid " + std::to_string(type) + ")");
  }
  return out;
}

int MajorVersion(const PostgresServer& server) {
  return std::stoi(server.Value("show server_version_num")) / 10000;
}

// The metrics of every built-in preset that run on a node of `role`.
std::set<std::string> PresetMetricsFor(NodeStatus role) {
  std::set<std::string> out;
  for (const auto& [name, preset] : Builtin().presets) {
    for (const auto& [metric, interval] : preset.metrics) {
      const NodeStatus s = Builtin().metrics.at(metric).node_status;
      if (s == NodeStatus::kAny || s == role) out.insert(metric);
    }
  }
  return out;
}

constexpr char kNotInstalled[] =
    "PostgreSQL is not installed (no initdb under /usr/lib/postgresql/<version>/bin); "
    "`make` installs it";

// Checks every metric of `metrics` on `server`: each runs and follows the
// column conventions, except stat_statements, which fails naming the
// extension unless `expect_statements`.
void CheckMetrics(const PostgresServer& server, const std::set<std::string>& metrics,
                  bool expect_statements, const std::string& node) {
  const int major = MajorVersion(server);
  for (const std::string& name : metrics) {
    SCOPED_TRACE(node + " " + name + " (PostgreSQL " + std::to_string(major) + ")");
    const std::string* sql = Builtin().metrics.at(name).SqlFor(major);
    ASSERT_NE(sql, nullptr);
    const Outcome o = RunMetric(server, *sql);
    if (name == "stat_statements" && !expect_statements) {
      EXPECT_FALSE(o.ok);
      EXPECT_NE(o.error.find("\"pg_stat_statements\" does not exist"), std::string::npos)
          << o.error;
      continue;
    }
    EXPECT_TRUE(o.ok) << o.error;
    EXPECT_TRUE(o.bad_columns.empty()) << ::testing::PrintToString(o.bad_columns);
    EXPECT_LE(o.rows, 400);
  }
}

// Gives the per-table and per-index metrics something to report.
constexpr char kSomeTables[] =
    "create table orders (id int8 primary key, customer int, note text);"
    "create index orders_customer on orders (customer);"
    "insert into orders select g, g % 97, md5(g::text) from generate_series(1, 5000) g;"
    "delete from orders where id % 10 = 0;"
    "analyze orders;"
    "select count(*) from orders where customer = 5";

TEST(BuiltinOnPostgresTest, EveryPresetMetricRunsOnAPrimaryAndAStandbyWithoutExtensions) {
  ASSERT_TRUE(PostgresServer::Available()) << kNotInstalled;
  TempDir dir;
  auto primary = PostgresServer::Start(dir.Sub("primary"));
  ASSERT_TRUE(primary.ok()) << primary.status().ToString();
  ASSERT_TRUE((*primary)->Query(kSomeTables).ok());
  auto standby = PostgresServer::StartStandby(**primary, dir.Sub("standby"));
  ASSERT_TRUE(standby.ok()) << standby.status().ToString();
  ASSERT_EQ((*standby)->Value("select pg_is_in_recovery()"), "t");

  const std::set<std::string> on_primary = PresetMetricsFor(NodeStatus::kPrimary);
  const std::set<std::string> on_standby = PresetMetricsFor(NodeStatus::kStandby);
  for (const char* name : {"wal", "replication", "replication_slots", "db_stats"}) {
    EXPECT_EQ(on_primary.count(name), 1u) << name;
  }
  for (const char* name : {"replication_lag", "recovery_conflicts", "db_stats"}) {
    EXPECT_EQ(on_standby.count(name), 1u) << name;
  }
  CheckMetrics(**primary, on_primary, /*expect_statements=*/false, "primary");
  CheckMetrics(**standby, on_standby, /*expect_statements=*/false, "standby");

  // Once the standby streams, the primary's replication metric reports it.
  const std::string replication_sql =
      *Builtin().metrics.at("replication").SqlFor(MajorVersion(**primary));
  Outcome replication;
  for (int i = 0; i < 600; ++i) {  // up to a minute for the WAL receiver to connect
    replication = RunMetric(**primary, replication_sql);
    if (!replication.ok || replication.rows > 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(replication.ok) << replication.error;
  EXPECT_EQ(replication.rows, 1);
}

TEST(BuiltinOnPostgresTest, StatStatementsRunsOnceTheExtensionIsLoadedAndCreated) {
  ASSERT_TRUE(PostgresServer::Available()) << kNotInstalled;
  TempDir dir;
  auto primary =
      PostgresServer::Start(dir.Sub("primary"), {"shared_preload_libraries=pg_stat_statements"});
  ASSERT_TRUE(primary.ok()) << primary.status().ToString();
  const int major = MajorVersion(**primary);
  const std::string sql = *Builtin().metrics.at("stat_statements").SqlFor(major);

  const Outcome absent = RunMetric(**primary, sql);
  EXPECT_FALSE(absent.ok);
  EXPECT_NE(absent.error.find("\"pg_stat_statements\" does not exist"), std::string::npos)
      << absent.error;

  auto created = (*primary)->Query("create extension pg_stat_statements");
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  ASSERT_TRUE((*primary)->Query(kSomeTables).ok());
  const Outcome present = RunMetric(**primary, sql);
  ASSERT_TRUE(present.ok) << present.error;
  EXPECT_TRUE(present.bad_columns.empty()) << ::testing::PrintToString(present.bad_columns);
  EXPECT_GT(present.rows, 0);
  EXPECT_LE(present.rows, 100);
}

}  // namespace
}  // namespace sluice::pgmetrics
