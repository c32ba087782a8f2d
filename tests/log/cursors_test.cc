#include "log/cursors.h"

#include "log/log_fixture.h"

namespace sluice::log {
namespace {

class CursorTableTest : public LogFixture {
 protected:
  void SetUp() override {
    StateFile::Options o;
    o.path = dir_.path() + "/state";
    auto state = StateFile::Open(o, io::FileSystem::Posix(), Clock::Real(), registry_);
    ASSERT_TRUE(state.ok());
    state_ = std::move(state).value();
    table_ = std::make_unique<CursorTable>(*state_, evicted_);
  }

  telemetry::CounterFamily& evicted_ =
      registry_.AddCounter("sluice_log_evicted_records_total", "", {"exporter"});
  std::unique_ptr<StateFile> state_;
  std::unique_ptr<CursorTable> table_;
};

// Retention plans an eviction, then commits it; a cursor dropped in between
// (its exporter removed from the configuration) must stay dropped, or it
// would hold back retention for ever after the next restart.
TEST_F(CursorTableTest, EvictionOfACursorDroppedMeanwhileDoesNotWriteItBack) {
  const Position start{0, kSegmentHeaderSize, 0};
  const Position next{100, kSegmentHeaderSize, 100};
  ASSERT_TRUE(table_->Open("gone", start, next).ok());
  std::vector<CursorTable::Eviction> plan = table_->Behind(0, next);
  ASSERT_EQ(plan.size(), 1u);
  ASSERT_TRUE(table_->DropExcept({}).ok());
  ASSERT_TRUE(table_->Evict(plan[0]).ok());
  EXPECT_FALSE(state_->Get("cursor/gone").has_value());
  EXPECT_EQ(table_->FirstBefore(next), "");
  EXPECT_EQ(evicted_.With({"gone"}).Value(), 0u);
}

TEST_F(CursorTableTest, EvictionMovesACursorBehindTheSegmentAndCountsWhatItLost) {
  const Position next{100, kSegmentHeaderSize, 100};
  ASSERT_TRUE(table_->Open("slow", Position{0, 500, 40}, next).ok());
  ASSERT_TRUE(table_->Open("fast", next, next).ok());
  std::vector<CursorTable::Eviction> plan = table_->Behind(0, next);
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan[0].consumer, "slow");
  EXPECT_EQ(plan[0].records, 60u);
  ASSERT_TRUE(table_->Evict(plan[0]).ok());
  EXPECT_EQ(table_->PositionOf("slow"), next);
  EXPECT_EQ(evicted_.With({"slow"}).Value(), 60u);
  // Durable: a table loaded from the state file sees it.
  CursorTable reloaded(*state_, evicted_);
  reloaded.Load();
  EXPECT_EQ(reloaded.PositionOf("slow"), next);
}

}  // namespace
}  // namespace sluice::log
