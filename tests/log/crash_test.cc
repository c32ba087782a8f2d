// Kills a real writer process at random moments and checks, after each
// restart, that every batch acknowledged under `fsync: always` is read back,
// in order, exactly once.

#include <gtest/gtest.h>
#include <signal.h>

#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>

#include "log/log.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace sluice::log {
namespace {

using Key = std::tuple<int, int, int>;  // run, thread, seq

TEST(CrashTest, AcknowledgedBatchesSurviveKill9ExactlyOnceInOrder) {
  constexpr int kRuns = 60;
  constexpr int kThreads = 4;
  testing::TempDir dir;
  std::mt19937 rng(20261121);
  std::set<Key> acked;
  uint64_t unacked_but_present = 0;
  for (int run = 0; run < kRuns; ++run) {
    std::string out = dir.Sub("writer-" + std::to_string(run) + ".out");
    {
      testing::Process writer(LOG_CRASH_WRITER,
                              {dir.Sub("log"), std::to_string(run), std::to_string(kThreads)}, out);
      ASSERT_TRUE(writer.WaitForOutput("ready", std::chrono::seconds(30))) << writer.Output();
      std::this_thread::sleep_for(std::chrono::milliseconds(10 + rng() % 150));
      writer.Signal(SIGKILL);
      ASSERT_TRUE(writer.Wait(std::chrono::seconds(30)).has_value());
      std::istringstream lines(writer.Output());
      std::string word;
      int r, t, s;
      while (lines >> word) {
        if (word == "ack" && lines >> r >> t >> s) acked.emplace(r, t, s);
      }
    }

    // Restart: recover and read everything back.
    telemetry::Registry registry;
    LogOptions o;
    o.directory = dir.Sub("log");
    o.segment_bytes = 1 << 20;
    auto log = Log::Open(o, io::FileSystem::Posix(), Clock::Real(), registry);
    ASSERT_TRUE(log.ok()) << "run " << run << ": " << log.status().ToString();
    LogReader reader(**log, (*log)->Begin());
    std::set<Key> seen;
    std::map<std::pair<int, int>, int> last_seq;
    uint64_t expected_offset = 0;
    while (true) {
      auto b = reader.Next();
      if (!b.ok()) {
        ASSERT_EQ(b.status().code(), StatusCode::kEndOfStream) << b.status().ToString();
        break;
      }
      ASSERT_EQ(b->header.base_offset, expected_offset) << "offsets must stay dense";
      expected_offset += b->header.item_count;
      int pr, pt, ps;
      ASSERT_EQ(
          std::sscanf(std::string(b->payload.substr(0, 40)).c_str(), "%d:%d:%d:", &pr, &pt, &ps),
          3);
      ASSERT_TRUE(seen.emplace(pr, pt, ps).second)
          << "batch " << pr << ":" << pt << ":" << ps << " read twice";
      auto last = last_seq.find({pr, pt});
      if (last != last_seq.end()) {
        ASSERT_GT(ps, last->second) << "thread " << pr << ":" << pt << " out of order";
      }
      last_seq[{pr, pt}] = ps;
    }
    for (const Key& k : acked) {
      ASSERT_TRUE(seen.count(k)) << "acknowledged batch " << std::get<0>(k) << ":" << std::get<1>(k)
                                 << ":" << std::get<2>(k) << " lost after run " << run;
    }
    unacked_but_present = seen.size() - acked.size();
    EXPECT_EQ(registry.AddCounter("sluice_log_corrupt_bytes_total", "").Get().Value(), 0u);
  }
  EXPECT_GT(acked.size(), static_cast<size_t>(kRuns));
  std::printf("runs=%d acknowledged=%zu present-but-unacknowledged=%llu\n", kRuns, acked.size(),
              static_cast<unsigned long long>(unacked_but_present));
}

}  // namespace
}  // namespace sluice::log
