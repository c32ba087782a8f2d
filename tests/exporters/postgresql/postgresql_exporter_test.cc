#include "exporters/postgresql/postgresql_exporter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <fstream>
#include <limits>
#include <thread>

#include "exporters/postgresql/postgres_sender.h"
#include "exporters/postgresql/rows.h"
#include "exporters/prometheusremotewrite/series.h"
#include "support/http_client.h"
#include "support/otlp_builders.h"
#include "support/postgres_server.h"
#include "support/service_harness.h"
#include "support/temp_dir.h"
#include "support/wait.h"

namespace sluice::exporters::postgresql {
namespace {

using testing::PostgresServer;
using MetricsRequest = testing::otlp_pb::collector::metrics::v1::ExportMetricsServiceRequest;

// 2024-03-01 12:00:00 UTC, in milliseconds.
constexpr int64_t kNoonMs = 1'709'294'400'000;
constexpr int64_t kDayMs = 86'400'000;

struct Sample {
  std::vector<std::pair<std::string, std::string>> labels;  // sorted by name, __name__ first
  double value;
  int64_t ms;
};

prometheus::WriteRequest WriteRequestOf(const std::vector<Sample>& samples) {
  prometheus::WriteRequest req;
  for (const Sample& s : samples) {
    auto* ts = req.add_timeseries();
    for (const auto& [n, v] : s.labels) {
      auto* l = ts->add_labels();
      l->set_name(n);
      l->set_value(v);
    }
    auto* sample = ts->add_samples();
    sample->set_value(s.value);
    sample->set_timestamp(s.ms);
  }
  return req;
}

class PostgresqlExporterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(PostgresServer::Available())
        << "PostgreSQL is not installed (no initdb under /usr/lib/postgresql): install the "
           "postgresql package (make deps)";
    auto pg = PostgresServer::Start(dir_.Sub("pg"), {"TimeZone=UTC"});
    ASSERT_TRUE(pg.ok()) << pg.status().ToString();
    pg_ = std::move(pg).value();
  }
  void TearDown() override {
    if (service_) service_->Shutdown();
  }

  // Starts sluice with the remote write and OTLP receivers feeding the
  // exporters of `exporters` (YAML under `exporters:`; default one
  // `postgresql` with `extra` options).
  void StartSluice(const std::string& extra = "", std::string exporters = "") {
    if (exporters.empty()) exporters = ExporterYaml("postgresql", extra);
    std::string names;
    for (size_t at = 0; (at = exporters.find("\n  postgresql", at)) != std::string::npos;) {
      size_t end = exporters.find(':', at);
      if (!names.empty()) names += ", ";
      names += exporters.substr(at + 3, end - at - 3);
      at = end;
    }
    std::string yaml = R"(
receivers:
  prometheus_remote_write:
    endpoint: 127.0.0.1:0
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
exporters:)" + exporters +
                       R"(
storage:
  directory: )" + dir_.Sub("sluice") +
                       R"(
service:
  telemetry:
    metrics:
      address: 127.0.0.1:0
  pipelines:
    metrics:
      receivers: [prometheus_remote_write, otlp]
      exporters: [)" + names +
                       R"(]
)";
    service_ = testing::StartService(yaml, registry_);
    ASSERT_NE(service_, nullptr);
    remote_write_ = testing::AddressOf(*service_, "receiver prometheus_remote_write http ");
    otlp_ = testing::AddressOf(*service_, "receiver otlp http ");
  }
  std::string ExporterYaml(const std::string& id, const std::string& extra) const {
    return "\n  " + id + ":\n    endpoint: \"" + pg_->ConnStr() + R"("
    retry_on_failure:
      initial_interval: 20ms
      max_interval: 200ms
      max_elapsed_time: 10m
)" + extra;
  }

  void Write(const std::vector<Sample>& samples) {
    auto r = testing::PostRemoteWrite(remote_write_, WriteRequestOf(samples));
    ASSERT_EQ(r.status, 204) << r.body;
  }

  std::string Value(const std::string& sql) const { return pg_->Value(sql); }
  std::vector<std::vector<std::string>> Rows(const std::string& sql) const {
    auto r = pg_->Query(sql);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r.value() : std::vector<std::vector<std::string>>{};
  }
  // Waits until `sql` (a count) reaches `n`.
  bool WaitForCount(const std::string& sql, int64_t n) {
    return testing::WaitUntil(
        [&] {
          std::string v = Value(sql);
          return !v.empty() && std::isdigit(static_cast<unsigned char>(v[0])) && std::stoll(v) >= n;
        },
        std::chrono::seconds(60));
  }
  uint64_t Counter(const std::string& name, const std::string& exporter = "postgresql") const {
    return testing::SeriesValue(registry_, name + "{exporter=\"" + exporter + "\"}");
  }
  std::string WriteFile(const std::string& name, const std::string& text) const {
    std::string path = dir_.Sub(name);
    std::ofstream(path) << text;
    return path;
  }

  testing::TempDir dir_;
  std::unique_ptr<PostgresServer> pg_;
  telemetry::Registry registry_;
  std::unique_ptr<pipeline::Service> service_;
  std::string remote_write_;
  std::string otlp_;
};

TEST_F(PostgresqlExporterTest, ColumnsOfOneMetricAtOneTimestampMakeOneRow) {
  StartSluice();
  Write({{{{"__name__", "pgwatch_db_stats_numbackends"}, {"dbname", "a"}}, 3, kNoonMs},
         {{{"__name__", "pgwatch_db_stats_xact_commit"}, {"dbname", "a"}}, 12345, kNoonMs},
         {{{"__name__", "pgwatch_db_stats_blk_read_time"}, {"dbname", "a"}}, 1.5, kNoonMs}});
  ASSERT_TRUE(WaitForCount("select count(*) from db_stats", 1));
  auto rows = Rows(
      "select dbname, data::text, tag_data is null, "
      "time = '2024-03-01 12:00:00+00'::timestamptz from db_stats");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0], "a");
  EXPECT_EQ(rows[0][1], R"({"numbackends": 3, "xact_commit": 12345, "blk_read_time": 1.5})");
  EXPECT_EQ(rows[0][2], "t");
  EXPECT_EQ(rows[0][3], "t");
  // pgwatch's column types.
  EXPECT_EQ(Value("select string_agg(attname || ' ' || format_type(atttypid, atttypmod) || ' ' || "
                  "attnotnull, ', ' order by attnum) from pg_attribute where attrelid = "
                  "'public.db_stats'::regclass and attnum > 0"),
            "time timestamp with time zone true, dbname text true, data jsonb true, "
            "tag_data jsonb false");
  EXPECT_EQ(Value("select relkind from pg_class where relname = 'db_stats'"), "p");
}

TEST_F(PostgresqlExporterTest, OtherLabelsBecomeTagDataAndAMissingDbnameIsEmpty) {
  StartSluice();
  const std::string odd = "say \"hi\"\\ \n\ttab";
  Write({{{{"__name__", "pgwatch_db_stats_xact_commit"},
           {"dbname", "b"},
           {"job", "pg"},
           {"note", odd}},
          1,
          kNoonMs},
         {{{"__name__", "pgwatch_db_stats_xact_commit"}, {"job", "pg"}}, 2, kNoonMs}});
  ASSERT_TRUE(WaitForCount("select count(*) from db_stats", 2));
  auto rows = Rows(
      "select dbname, data::text, tag_data->>'job', tag_data->>'note', "
      "(select count(*) from jsonb_object_keys(tag_data)) from db_stats order by dbname");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0][0], "");
  EXPECT_EQ(rows[0][1], R"({"xact_commit": 2})");
  EXPECT_EQ(rows[0][2], "pg");
  EXPECT_EQ(rows[0][4], "1");
  EXPECT_EQ(rows[1][0], "b");
  EXPECT_EQ(rows[1][1], R"({"xact_commit": 1})");
  EXPECT_EQ(rows[1][2], "pg");
  EXPECT_EQ(rows[1][3], odd);
  EXPECT_EQ(rows[1][4], "2");
}

TEST_F(PostgresqlExporterTest, RowsOfTwoDaysLandInTwoPartitionsThatWereCreated) {
  StartSluice();
  Write({{{{"__name__", "pgwatch_db_stats_xact_commit"}, {"dbname", "a"}}, 1, kNoonMs},
         {{{"__name__", "pgwatch_db_stats_xact_commit"}, {"dbname", "a"}}, 2, kNoonMs + kDayMs}});
  ASSERT_TRUE(WaitForCount("select count(*) from db_stats", 2));
  auto parts = Rows(
      "select c.relname, pg_get_expr(c.relpartbound, c.oid) from pg_inherits i "
      "join pg_class c on c.oid = i.inhrelid where i.inhparent = 'public.db_stats'::regclass "
      "order by 1");
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0][0], "db_stats_y2024m03d01");
  EXPECT_EQ(parts[0][1],
            "FOR VALUES FROM ('2024-03-01 00:00:00+00') TO ('2024-03-02 00:00:00+00')");
  EXPECT_EQ(parts[1][0], "db_stats_y2024m03d02");
  EXPECT_EQ(Value("select data->>'xact_commit' from db_stats_y2024m03d01"), "1");
  EXPECT_EQ(Value("select data->>'xact_commit' from db_stats_y2024m03d02"), "2");
}

TEST_F(PostgresqlExporterTest, HourlyPartitionsAreNamedByTheirHourInTheConfiguredSchema) {
  ASSERT_EQ(Value("create schema metrics; select 'ok'"), "ok");
  StartSluice("    partition_interval: 1h\n    schema: metrics\n");
  Write(
      {{{{"__name__", "pgwatch_db_stats_xact_commit"}, {"dbname", "a"}}, 1, kNoonMs},
       {{{"__name__", "pgwatch_db_stats_xact_commit"}, {"dbname", "a"}}, 2, kNoonMs + 3'600'000}});
  ASSERT_TRUE(WaitForCount("select count(*) from metrics.db_stats", 2));
  auto parts = Rows(
      "select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid "
      "where i.inhparent = 'metrics.db_stats'::regclass order by 1");
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0][0], "db_stats_y2024m03d01h12");
  EXPECT_EQ(parts[1][0], "db_stats_y2024m03d01h13");
  EXPECT_EQ(Value("select to_regclass('public.db_stats') is null"), "t");
}

TEST_F(PostgresqlExporterTest, AnUnknownSeriesGetsATableOfItsOwnWithItsValue) {
  StartSluice();
  Write({{{{"__name__", "http_requests_total"}, {"job", "api"}}, 7, kNoonMs},
         {{{"__name__", "Node:CPU:rate"}}, 0.25, kNoonMs},
         {{{"__name__", "pgwatch_no_such_metric_x"}, {"dbname", "a"}}, 1e300, kNoonMs}});
  ASSERT_TRUE(WaitForCount("select count(*) from http_requests_total", 1));
  EXPECT_EQ(Value("select data::text || ' ' || tag_data::text from http_requests_total"),
            R"({"value": 7} {"job": "api"})");
  ASSERT_TRUE(WaitForCount("select count(*) from node_cpu_rate", 1));
  EXPECT_EQ(Value("select data::text from node_cpu_rate"), R"({"value": 0.25})");
  ASSERT_TRUE(WaitForCount("select count(*) from pgwatch_no_such_metric_x", 1));
  EXPECT_EQ(Value("select (data->>'value')::float8 = 1e300 from pgwatch_no_such_metric_x"), "t");
}

TEST_F(PostgresqlExporterTest, AMetricsFileAddsMetricsAndNamesTheirTables) {
  std::string file = WriteFile("metrics.yaml", R"(metrics:
  backup_age:
    sqls:
      12: select 1 as seconds
    gauges: ['*']
    metric_storage_name: backup_status
)");
  StartSluice("    metrics_file: " + file + "\n    namespace: pw\n");
  Write({{{{"__name__", "pw_backup_age_seconds"}, {"dbname", "a"}}, 60, kNoonMs},
         {{{"__name__", "pw_backup_age_lag"}, {"dbname", "a"}}, 5, kNoonMs}});
  ASSERT_TRUE(WaitForCount("select count(*) from backup_status", 1));
  EXPECT_EQ(Value("select data::text from backup_status"), R"({"lag": 5, "seconds": 60})");
}

TEST_F(PostgresqlExporterTest, OtlpGaugesBecomeRowsByTheSameNames) {
  // The connection as a URI, under conn_str.
  StartSluice("", "\n  postgresql:\n    conn_str: \"postgresql://postgres@127.0.0.1:" +
                      std::to_string(pg_->port()) + "/postgres\"\n");
  MetricsRequest req;
  auto* metric = req.add_resource_metrics()->add_scope_metrics()->add_metrics();
  metric->set_name("pgwatch_db_stats_numbackends");
  auto* point = metric->mutable_gauge()->add_data_points();
  point->set_as_int(5);
  point->set_time_unix_nano(static_cast<uint64_t>(kNoonMs) * 1'000'000);
  auto* a = point->add_attributes();
  a->set_key("dbname");
  a->mutable_value()->set_string_value("o");
  auto r = testing::HttpRequest("POST", otlp_, "/v1/metrics", req.SerializeAsString(),
                                {{"Content-Type", "application/x-protobuf"}});
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(WaitForCount("select count(*) from db_stats", 1));
  EXPECT_EQ(Value("select dbname || ' ' || data::text || ' ' || (tag_data is null) from db_stats"),
            R"(o {"numbackends": 5} true)");
}

TEST_F(PostgresqlExporterTest, StaleMarkersAreCountedAndNotWritten) {
  StartSluice();
  Write(
      {{{{"__name__", "pgwatch_db_stats_xact_commit"}, {"dbname", "a"}}, prw::StaleNaN(), kNoonMs},
       {{{"__name__", "pgwatch_db_stats_xact_commit"}, {"dbname", "b"}}, 4, kNoonMs}});
  ASSERT_TRUE(WaitForCount("select count(*) from db_stats", 1));
  ASSERT_TRUE(testing::WaitUntil(
      [&] { return Counter("sluice_exporter_postgresql_stale_markers_total") == 1; }));
  ASSERT_TRUE(testing::WaitUntil([&] { return Counter("sluice_exporter_sent_items_total") == 1; }));
  EXPECT_EQ(Value("select string_agg(dbname, ',') from db_stats"), "b");
}

TEST_F(PostgresqlExporterTest, NonFiniteValuesAreCountedAndARowOfNothingElseIsNotWritten) {
  StartSluice();
  const double inf = std::numeric_limits<double>::infinity();
  Write({{{{"__name__", "pgwatch_db_stats_numbackends"}, {"dbname", "a"}}, std::nan(""), kNoonMs},
         {{{"__name__", "pgwatch_db_stats_xact_commit"}, {"dbname", "a"}}, 5, kNoonMs},
         {{{"__name__", "pgwatch_db_stats_numbackends"}, {"dbname", "b"}}, inf, kNoonMs}});
  ASSERT_TRUE(testing::WaitUntil(
      [&] { return Counter("sluice_exporter_postgresql_non_finite_values_total") == 2; }));
  ASSERT_TRUE(testing::WaitUntil([&] { return Counter("sluice_exporter_sent_items_total") == 1; }));
  EXPECT_EQ(Value("select string_agg(dbname || ' ' || data::text, ',') from db_stats"),
            R"(a {"xact_commit": 5})");
}

std::vector<Sample> Numbered(int from, int to) {
  std::vector<Sample> out;
  for (int i = from; i < to; ++i) {
    out.push_back(
        {{{"__name__", "pgwatch_db_stats_xact_commit"}, {"dbname", "d" + std::to_string(i)}},
         static_cast<double>(i),
         kNoonMs + i});
  }
  return out;
}

TEST_F(PostgresqlExporterTest, RowsWrittenWhileTheServerIsDownArriveOnceWhenItIsBack) {
  StartSluice();
  Write(Numbered(0, 5));  // creates the table and partition
  ASSERT_TRUE(WaitForCount("select count(*) from db_stats", 5));
  pg_->Stop();
  Write(Numbered(5, 50));
  ASSERT_TRUE(
      testing::WaitUntil([&] { return Counter("sluice_exporter_send_failed_total") >= 2; }));
  ASSERT_TRUE(pg_->Restart().ok());
  ASSERT_TRUE(testing::WaitUntil([&] { return Counter("sluice_exporter_sent_items_total") == 50; },
                                 std::chrono::seconds(60)));
  EXPECT_EQ(Value("select count(*) || ' ' || count(distinct dbname) || ' ' || "
                  "sum((data->>'xact_commit')::int) from db_stats"),
            "50 50 1225");
  EXPECT_EQ(Counter("sluice_exporter_dead_lettered_items_total"), 0u);
}

TEST_F(PostgresqlExporterTest, AServerStoppedMidRunLosesNoRow) {
  StartSluice("    max_rows_per_request: 7\n");
  constexpr int kBatches = 60;
  constexpr int kPerBatch = 10;
  std::atomic<int> written{0};
  std::thread writer([&] {
    for (int b = 0; b < kBatches; ++b) {
      Write(Numbered(b * kPerBatch, (b + 1) * kPerBatch));
      written = b + 1;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  const bool quarter = testing::WaitUntil([&] { return written.load() >= kBatches / 4; });
  pg_->Stop();
  const bool half = testing::WaitUntil([&] { return written.load() >= kBatches / 2; });
  const Status restarted = pg_->Restart();
  writer.join();
  ASSERT_TRUE(quarter && half);
  ASSERT_TRUE(restarted.ok()) << restarted.ToString();
  ASSERT_TRUE(WaitForCount("select count(distinct dbname) from db_stats", kBatches * kPerBatch));
  // At least once: every row is there; only requests whose COMMIT went
  // unanswered (one per worker, of at most 7 rows) may be there twice.
  EXPECT_EQ(Value("select count(distinct dbname) from db_stats"),
            std::to_string(kBatches * kPerBatch));
  EXPECT_LE(std::stoll(Value("select count(*) - count(distinct dbname) from db_stats")), 4 * 7);
  EXPECT_EQ(Counter("sluice_exporter_dead_lettered_items_total"), 0u);
}

TEST_F(PostgresqlExporterTest, AServerThatAnswersNothingTimesOutAndGetsTheRowsOnceItAnswers) {
  StartSluice("    timeout: 1s\n");
  Write(Numbered(0, 5));
  ASSERT_TRUE(WaitForCount("select count(*) from db_stats", 5));
  pg_->Freeze();
  Write(Numbered(5, 20));
  // The client gives up on its own: a frozen server cancels nothing.
  const bool timed_out =
      testing::WaitUntil([&] { return Counter("sluice_exporter_send_failed_total") >= 1; });
  pg_->Thaw();
  ASSERT_TRUE(timed_out);
  ASSERT_TRUE(testing::WaitUntil([&] { return Counter("sluice_exporter_sent_items_total") == 20; },
                                 std::chrono::seconds(60)));
  EXPECT_EQ(Value("select count(*) || ' ' || count(distinct dbname) from db_stats"), "20 20");
}

TEST_F(PostgresqlExporterTest, APartitionDroppedWhileRunningIsCreatedAgain) {
  StartSluice();
  Write(Numbered(0, 1));
  ASSERT_TRUE(WaitForCount("select count(*) from db_stats", 1));
  ASSERT_EQ(Value("drop table db_stats_y2024m03d01; select 'ok'"), "ok");
  Write(Numbered(1, 2));
  ASSERT_TRUE(WaitForCount("select count(*) from db_stats", 1));
  EXPECT_EQ(Value("select dbname from db_stats_y2024m03d01"), "d1");
  EXPECT_EQ(Counter("sluice_exporter_dead_lettered_items_total"), 0u);
}

TEST_F(PostgresqlExporterTest, APermanentErrorIsDeadLetteredAndTheRestFlows) {
  // A table of the same name whose data column cannot hold a JSON object.
  ASSERT_EQ(Value("create table bad_metric (time timestamptz not null, dbname text not null, "
                  "data int not null, tag_data jsonb) partition by range (time); select 'ok'"),
            "ok");
  StartSluice();
  Write({{{{"__name__", "bad_metric"}, {"dbname", "a"}}, 1, kNoonMs}});
  ASSERT_TRUE(testing::WaitUntil(
      [&] { return Counter("sluice_exporter_dead_lettered_items_total") == 1; }));
  EXPECT_EQ(Counter("sluice_exporter_send_failed_total"), 1u);  // not retried
  Write({{{{"__name__", "good_metric"}, {"dbname", "a"}}, 2, kNoonMs}});
  ASSERT_TRUE(WaitForCount("select count(*) from good_metric", 1));
  EXPECT_EQ(Value("select count(*) from bad_metric"), "0");
  EXPECT_EQ(Counter("sluice_exporter_dead_lettered_items_total"), 1u);
}

TEST_F(PostgresqlExporterTest, ExportersAndWorkersCreatingTheSamePartitionsAtOnceAllSucceed) {
  const std::string opts = "    max_rows_per_request: 1\n    sending_queue: {num_consumers: 4}\n";
  StartSluice("", ExporterYaml("postgresql/a", opts) + ExporterYaml("postgresql/b", opts));
  constexpr int kTables = 12;
  std::vector<Sample> samples;
  for (int t = 0; t < kTables; ++t) {
    for (int day = 0; day < 3; ++day) {
      samples.push_back({{{"__name__", "race_" + std::to_string(t)}, {"dbname", "a"}},
                         static_cast<double>(day),
                         kNoonMs + day * kDayMs});
    }
  }
  Write(samples);
  for (const char* e : {"postgresql/a", "postgresql/b"}) {
    ASSERT_TRUE(testing::WaitUntil(
        [&] { return Counter("sluice_exporter_sent_items_total", e) == kTables * 3; },
        std::chrono::seconds(60)))
        << e;
    EXPECT_EQ(Counter("sluice_exporter_dead_lettered_items_total", e), 0u) << e;
  }
  EXPECT_EQ(Value("select count(*) from pg_inherits i join pg_class p on p.oid = i.inhparent "
                  "where p.relname like 'race\\_%'"),
            std::to_string(kTables * 3));
  int64_t rows = 0;
  for (int t = 0; t < kTables; ++t) {
    rows += std::stoll(Value("select count(*) from race_" + std::to_string(t)));
  }
  EXPECT_EQ(rows, 2 * kTables * 3);
}

// What needs no server.

TEST(PostgresqlOptionsTest, AnUnreadableMetricsFileIsAConfigurationError) {
  testing::TempDir dir;
  config::Context ctx("test");
  auto root = config::LoadString(
      "metrics_file: " + dir.Sub("missing.yaml") + "\nendpoint: \"host=localhost\"\n", ctx);
  ASSERT_TRUE(root.has_value());
  PostgresqlOptions o;
  PostgresqlOptionsSchema().Parse(*root, &o, ctx);
  ASSERT_FALSE(ctx.ok());
  EXPECT_NE(ctx.errors()[0].message.find("missing.yaml"), std::string::npos)
      << ctx.errors()[0].message;
}

TEST(PostgresqlOptionsTest, OneConnectionStringAndAWholeHourPartitionIntervalAreRequired) {
  for (const char* yaml :
       {"schema: public\n", "endpoint: a\nconn_str: b\n", "endpoint: a\npartition_interval: 5h\n",
        "endpoint: a\npartition_interval: 90m\n"}) {
    config::Context ctx("test");
    auto root = config::LoadString(yaml, ctx);
    ASSERT_TRUE(root.has_value());
    PostgresqlOptions o;
    PostgresqlOptionsSchema().Parse(*root, &o, ctx);
    EXPECT_FALSE(ctx.ok()) << yaml;
  }
  config::Context ctx("test");
  auto root =
      config::LoadString("conn_str: \"postgresql://u@h/db\"\npartition_interval: 168h\n", ctx);
  PostgresqlOptions o;
  PostgresqlOptionsSchema().Parse(*root, &o, ctx);
  EXPECT_TRUE(ctx.ok()) << ctx.errors()[0].ToString();
  EXPECT_EQ(o.conninfo(), "postgresql://u@h/db");
}

TEST(PostgresqlRowsTest, PartitionsStartAtTheirIntervalAndWeeksOnMonday) {
  const int64_t noon = kNoonMs / 1000;  // a Friday
  EXPECT_EQ(PartitionName("t", PartitionStart(noon, kSecondsPerDay), kSecondsPerDay),
            "t_y2024m03d01");
  EXPECT_EQ(PartitionName("t", PartitionStart(noon, 6 * kSecondsPerHour), 6 * kSecondsPerHour),
            "t_y2024m03d01h12");
  EXPECT_EQ(PartitionName("t", PartitionStart(noon, kSecondsPerWeek), kSecondsPerWeek),
            "t_y2024m02d26");
  EXPECT_EQ(PartitionName("t", PartitionStart(-1, kSecondsPerDay), kSecondsPerDay),
            "t_y1969m12d31");
  EXPECT_TRUE(ValidPartitionInterval(8 * kSecondsPerHour));
  EXPECT_FALSE(ValidPartitionInterval(5 * kSecondsPerHour));
  EXPECT_FALSE(ValidPartitionInterval(2 * kSecondsPerDay));
}

TEST(PostgresqlRowsTest, LongTableNamesKeepDistinctPartitionNamesWithinTheIdentifierLimit) {
  const std::string a(63, 'a');
  std::string b = a;
  b.back() = 'b';
  const std::string pa = PartitionName(a, 0, kSecondsPerDay);
  const std::string pb = PartitionName(b, 0, kSecondsPerDay);
  EXPECT_LE(pa.size(), kMaxIdentifierBytes);
  EXPECT_NE(pa, pb);
  EXPECT_EQ(TableName("9Lives:" + std::string(100, 'x')).size(), kMaxIdentifierBytes);
  EXPECT_EQ(TableName("9Lives:x"), "_9lives_x");
}

TEST(PostgresqlRowsTest, NumbersAreIntegersWhenExactAndNonFiniteValuesAreLeftOut) {
  std::string out;
  EXPECT_TRUE(AppendJsonNumber(out, 9007199254740992.0));
  EXPECT_EQ(out, "9007199254740992");
  out.clear();
  EXPECT_TRUE(AppendJsonNumber(out, -0.0));
  EXPECT_EQ(out, "0");
  out.clear();
  EXPECT_TRUE(AppendJsonNumber(out, 0.1));
  EXPECT_EQ(out, "0.1");
  out.clear();
  EXPECT_TRUE(AppendJsonNumber(out, 1e20));
  EXPECT_EQ(std::stod(out), 1e20);
  out.clear();
  EXPECT_FALSE(AppendJsonNumber(out, std::numeric_limits<double>::quiet_NaN()));
  EXPECT_FALSE(AppendJsonNumber(out, std::numeric_limits<double>::infinity()));
  EXPECT_EQ(out, "");
  EXPECT_EQ(TimestampText(-1), "1969-12-31 23:59:59.999+00");
}

TEST(PostgresqlRowsTest, JsonTextLeavesOutNulBytesWhichJsonbRefuses) {
  std::string out;
  AppendJsonText(out, std::string("a\0\"\x01", 4));
  EXPECT_EQ(out, R"("a\"\u0001")");
}

TEST(PostgresqlRowsTest, ARequestBodyReadsBackAndGarbageIsRefused) {
  std::vector<TableRows> in = {{"a", {1, 2}, 2, "x\n y\n"}, {"b", {-3}, 1, "z\n"}};
  std::string body;
  EncodeRequest(in, &body);
  auto out = DecodeRequest(body);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ASSERT_EQ(out.value().size(), 2u);
  EXPECT_EQ(out.value()[1].hours, std::vector<int64_t>{-3});
  EXPECT_EQ(out.value()[0].copy, "x\n y\n");
  EXPECT_FALSE(DecodeRequest("\x0a\x05hello").ok());
}

TEST(PostgresqlRowsTest, FailuresAreRetriedOnlyWhenTheyMayPass) {
  EXPECT_EQ(ClassifySqlState(""), FailureKind::kRetryable);
  EXPECT_EQ(ClassifySqlState("57014"), FailureKind::kRetryable);
  EXPECT_EQ(ClassifySqlState("40P01"), FailureKind::kRetryable);
  EXPECT_EQ(ClassifySqlState("53100"), FailureKind::kRetryable);
  EXPECT_EQ(ClassifySqlState("08006"), FailureKind::kRetryable);
  EXPECT_EQ(ClassifySqlState("22P02"), FailureKind::kPermanent);
  EXPECT_EQ(ClassifySqlState("42501"), FailureKind::kPermanent);
  EXPECT_EQ(ClassifySqlState("23514"), FailureKind::kStaleCache);
}

}  // namespace
}  // namespace sluice::exporters::postgresql
