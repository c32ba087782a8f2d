#include "exporters/common/dead_letter.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "base/crc32c.h"
#include "io/fault_injection_file_system.h"
#include "support/temp_dir.h"
#include "support/wait.h"

namespace sluice::exporters {
namespace {

pipeline::OutboundRequest Request(size_t bytes, uint64_t items, char fill = 'x') {
  pipeline::OutboundRequest r;
  r.signal = log::Signal::kLogs;
  r.route = "/v1/logs";
  r.body = std::string(bytes, fill);
  r.items = items;
  return r;
}

uint64_t CounterValue(telemetry::Registry& r, const std::string& name) {
  return testing::SeriesValue(r, name + "{exporter=\"e\"}");
}

TEST(DeadLetterQueueTest, EntriesSurviveReopenWithTheirRequestIntact) {
  testing::TempDir dir;
  {
    auto q =
        DeadLetterQueue::Open(io::FileSystem::Posix(), dir.Sub("dlq/e"), "e", 1 << 20, nullptr);
    ASSERT_TRUE(q.ok());
    ASSERT_TRUE((*q)->Put(Request(100, 3, 'a'), "answered 400: bad", 42).ok());
    ASSERT_TRUE((*q)->Put(Request(200, 4, 'b'), "retries exhausted", 43).ok());
  }
  auto q = DeadLetterQueue::Open(io::FileSystem::Posix(), dir.Sub("dlq/e"), "e", 1 << 20, nullptr);
  ASSERT_TRUE(q.ok());
  auto entries = (*q)->List();
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[0].reason, "answered 400: bad");
  EXPECT_EQ((*entries)[0].unix_nanos, 42);
  EXPECT_EQ((*entries)[0].items, 3u);
  EXPECT_EQ((*entries)[1].signal, log::Signal::kLogs);
  auto r = (*q)->Read((*entries)[1].id);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->body, std::string(200, 'b'));
  EXPECT_EQ(r->route, "/v1/logs");
  EXPECT_EQ(r->items, 4u);
  // New entries continue after the old ids.
  ASSERT_TRUE((*q)->Put(Request(10, 1), "x", 44).ok());
  auto after = (*q)->List();
  ASSERT_EQ(after->size(), 3u);
  EXPECT_GT((*after)[2].id, (*after)[1].id);
}

TEST(DeadLetterQueueTest, ReplayedEntryKeepsItsTenant) {
  testing::TempDir dir;
  auto q = DeadLetterQueue::Open(io::FileSystem::Posix(), dir.Sub("dlq/e"), "e", 1 << 20, nullptr);
  ASSERT_TRUE(q.ok());
  pipeline::OutboundRequest with = Request(50, 2, 't');
  with.tenant = "acme";
  ASSERT_TRUE((*q)->Put(with, "answered 400", 1).ok());
  ASSERT_TRUE((*q)->Put(Request(60, 1), "answered 400", 2).ok());
  auto entries = (*q)->List();
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[0].tenant, "acme");
  EXPECT_EQ((*entries)[0].reason, "answered 400");
  EXPECT_EQ((*entries)[1].tenant, "");
  auto r = (*q)->Read((*entries)[0].id);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->tenant, "acme");
  EXPECT_EQ(r->body, std::string(50, 't'));
}

// An entry written before entries carried a tenant (format version 1).
TEST(DeadLetterQueueTest, EntryOfTheFirstFormatIsStillReplayed) {
  testing::TempDir dir;
  std::filesystem::create_directories(dir.Sub("dlq/e"));
  std::string route = "/v1/logs";
  std::string reason = "old";
  std::string body = "payload";
  auto le = [](std::string& out, uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
  };
  std::string rest;  // everything after the checksum
  le(rest, 7, 8);    // unix_nanos
  rest.push_back(static_cast<char>(log::Signal::kLogs));
  le(rest, 5, 8);  // items
  le(rest, route.size(), 4);
  le(rest, reason.size(), 4);
  le(rest, body.size(), 8);
  rest += route + reason + body;
  std::string file = "SLDLQ001";
  le(file, Crc32c(rest.data(), rest.size()), 4);
  file += rest;
  std::ofstream(dir.Sub("dlq/e/00000000000000000001.dlq"), std::ios::binary) << file;

  auto q = DeadLetterQueue::Open(io::FileSystem::Posix(), dir.Sub("dlq/e"), "e", 1 << 20, nullptr);
  ASSERT_TRUE(q.ok());
  auto entries = (*q)->List();
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ((*entries)[0].reason, "old");
  EXPECT_EQ((*entries)[0].items, 5u);
  auto r = (*q)->Read(1);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->route, route);
  EXPECT_EQ(r->body, body);
  EXPECT_EQ(r->tenant, "");
}

TEST(DeadLetterQueueTest, OldestEntriesAreEvictedAndCountedBeyondMaxBytes) {
  testing::TempDir dir;
  telemetry::Registry registry;
  auto q = DeadLetterQueue::Open(io::FileSystem::Posix(), dir.Sub("q"), "e", 5000, &registry);
  ASSERT_TRUE(q.ok());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE((*q)->Put(Request(1000, 2), "r", i).ok());
  EXPECT_LE((*q)->bytes(), 5000u);
  auto entries = (*q)->List();
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 4u);          // 4 × (1000 + header) fit in 5000
  EXPECT_EQ((*entries)[0].unix_nanos, 6);  // the newest kept
  EXPECT_EQ(CounterValue(registry, "sluice_dlq_evicted_records_total"), 6u);
  EXPECT_GT(CounterValue(registry, "sluice_dlq_evicted_bytes_total"), 6000u);
  // One bigger than the whole queue is dropped and counted, the rest kept.
  ASSERT_TRUE((*q)->Put(Request(6000, 1), "r", 99).ok());
  EXPECT_EQ((*q)->records(), 4u);
  EXPECT_EQ(CounterValue(registry, "sluice_dlq_evicted_records_total"), 7u);
}

TEST(DeadLetterQueueTest, CorruptEntryIsReportedAndNeverReplayed) {
  testing::TempDir dir;
  auto q = DeadLetterQueue::Open(io::FileSystem::Posix(), dir.Sub("q"), "e", 1 << 20, nullptr);
  ASSERT_TRUE(q.ok());
  ASSERT_TRUE((*q)->Put(Request(500, 1), "r", 1).ok());
  auto entries = (*q)->List();
  ASSERT_EQ(entries->size(), 1u);
  std::string path;
  for (const auto& f : std::filesystem::directory_iterator(dir.Sub("q"))) path = f.path();
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-10, std::ios::end);
    f.put('!');
  }
  auto r = (*q)->Read((*entries)[0].id);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
}

TEST(DeadLetterQueueTest, PutInterruptedBeforeRenameLeavesNoEntry) {
  testing::TempDir dir;
  std::filesystem::create_directories(dir.Sub("q"));
  std::ofstream(dir.Sub("q/00000000000000000001.dlq.tmp")) << "half";
  auto q = DeadLetterQueue::Open(io::FileSystem::Posix(), dir.Sub("q"), "e", 1 << 20, nullptr);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ((*q)->records(), 0u);
  EXPECT_FALSE(std::filesystem::exists(dir.Sub("q/00000000000000000001.dlq.tmp")));
}

std::vector<std::string> TemporaryFiles(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& f : std::filesystem::directory_iterator(dir)) {
    if (f.path().extension() == ".tmp") out.push_back(f.path().filename());
  }
  return out;
}

// A write the disk refuses (full, cut short, or not synced) must not leave a
// half-written temporary taking space until the next start, nor lose or
// count anything: the entries already kept stay, and the refused request,
// which its caller still holds, is kept when it is put again.
TEST(DeadLetterQueueTest, FailedWriteLeavesNoTemporaryFileAndIsKeptWhenRetried) {
  enum class Fault { kEnospc, kShortWrite, kSync };
  for (Fault fault : {Fault::kEnospc, Fault::kShortWrite, Fault::kSync}) {
    SCOPED_TRACE(static_cast<int>(fault));
    testing::TempDir dir;
    io::FaultInjectionFileSystem fs(io::FileSystem::Posix());
    telemetry::Registry registry;
    auto q = DeadLetterQueue::Open(fs, dir.Sub("q"), "e", 1 << 20, &registry);
    ASSERT_TRUE(q.ok());
    ASSERT_TRUE((*q)->Put(Request(300, 2, 'a'), "answered 400", 1).ok());
    const uint64_t bytes = (*q)->bytes();

    switch (fault) {
      case Fault::kEnospc:
        fs.FailWrites(io::FaultInjectionFileSystem::WriteFault::kEnospc, 1, "/q/");
        break;
      case Fault::kShortWrite:
        fs.FailWrites(io::FaultInjectionFileSystem::WriteFault::kShortWriteThenEio, 1, "/q/");
        break;
      case Fault::kSync:
        fs.FailSyncs(1, "/q/");
        break;
    }
    const pipeline::OutboundRequest refused = Request(5000, 7, 'b');
    Status st = (*q)->Put(refused, "retries exhausted", 2);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(fs.injected(), 1u);
    EXPECT_EQ(io::IsDiskFull(st), fault == Fault::kEnospc) << st.ToString();
    EXPECT_EQ(TemporaryFiles(dir.Sub("q")), std::vector<std::string>{});
    EXPECT_EQ((*q)->records(), 1u);
    EXPECT_EQ((*q)->bytes(), bytes);
    EXPECT_EQ(CounterValue(registry, "sluice_dlq_written_records_total"), 1u);

    ASSERT_TRUE((*q)->Put(refused, "retries exhausted", 2).ok());
    EXPECT_EQ(CounterValue(registry, "sluice_dlq_written_records_total"), 2u);
    auto entries = (*q)->List();
    ASSERT_TRUE(entries.ok());
    ASSERT_EQ(entries->size(), 2u);
    auto first = (*q)->Read((*entries)[0].id);
    ASSERT_TRUE(first.ok()) << first.status().ToString();
    EXPECT_EQ(first->body, std::string(300, 'a'));
    auto second = (*q)->Read((*entries)[1].id);
    ASSERT_TRUE(second.ok()) << second.status().ToString();
    EXPECT_EQ(second->body, refused.body);
    EXPECT_EQ(second->items, 7u);
    EXPECT_EQ(TemporaryFiles(dir.Sub("q")), std::vector<std::string>{});
  }
}

TEST(DeadLetterQueueTest, PurgeRemovesEverything) {
  testing::TempDir dir;
  auto q = DeadLetterQueue::Open(io::FileSystem::Posix(), dir.Sub("q"), "e", 1 << 20, nullptr);
  ASSERT_TRUE(q.ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE((*q)->Put(Request(10, 1), "r", i).ok());
  auto n = (*q)->Purge();
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 3u);
  EXPECT_EQ((*q)->records(), 0u);
  EXPECT_EQ((*q)->bytes(), 0u);
  EXPECT_TRUE(std::filesystem::is_empty(dir.Sub("q")));
}

}  // namespace
}  // namespace sluice::exporters
