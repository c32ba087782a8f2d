#include "exporters/common/tenant_encoder.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sluice::exporters {
namespace {

// Joins batch payloads into requests of `per_request` batches.
class JoiningEncoder final : public RequestEncoder {
 public:
  explicit JoiningEncoder(int per_request) : per_request_(per_request) {}
  void Add(const log::LogReader::Batch& batch, uint64_t record, const EmitFn& emit) override {
    if (held_ == 0) open_.first_record = record;
    open_.body += std::string(batch.payload);
    ++open_.items;
    if (++held_ == per_request_) Flush(emit);
  }
  void Flush(const EmitFn& emit) override {
    if (held_ == 0) return;
    emit(std::move(open_));
    open_ = {};
    held_ = 0;
  }
  std::optional<uint64_t> OldestHeld() const override {
    if (held_ == 0) return std::nullopt;
    return open_.first_record;
  }

 private:
  const int per_request_;
  int held_ = 0;
  pipeline::OutboundRequest open_;
};

struct Fed {
  std::string tenant;
  std::string payload;
};

std::vector<pipeline::OutboundRequest> Feed(TenantSplitEncoder& e, const std::vector<Fed>& batches,
                                            bool flush = true) {
  std::vector<pipeline::OutboundRequest> out;
  EmitFn emit = [&out](pipeline::OutboundRequest&& r) { out.push_back(std::move(r)); };
  uint64_t record = 0;
  for (const Fed& f : batches) {
    log::LogReader::Batch b;
    b.tenant = f.tenant;
    b.payload = f.payload;
    e.Add(b, record, emit);
    record += 10;
  }
  if (flush) e.Flush(emit);
  return out;
}

TEST(TenantSplitEncoderTest, InterleavedTenantsNeverShareARequest) {
  TenantSplitEncoder e([] { return std::make_unique<JoiningEncoder>(2); }, 8);
  auto out = Feed(e, {{"a", "1"}, {"b", "2"}, {"", "3"}, {"a", "4"}, {"b", "5"}, {"a", "6"}});
  ASSERT_EQ(out.size(), 4u);
  // Full requests as they fill, then what Flush found open.
  EXPECT_EQ(out[0].tenant, "a");
  EXPECT_EQ(out[0].body, "14");
  EXPECT_EQ(out[0].first_record, 0u);
  EXPECT_EQ(out[1].tenant, "b");
  EXPECT_EQ(out[1].body, "25");
  EXPECT_EQ(out[1].first_record, 10u);
  EXPECT_EQ(out[2].tenant, "a");
  EXPECT_EQ(out[2].body, "6");
  EXPECT_EQ(out[3].tenant, "");
  EXPECT_EQ(out[3].body, "3");
}

TEST(TenantSplitEncoderTest, TenantIdleLongestIsFlushedWhenTooManyAreOpen) {
  TenantSplitEncoder e([] { return std::make_unique<JoiningEncoder>(100); }, 2);
  auto out = Feed(e, {{"a", "1"}, {"b", "2"}, {"a", "3"}, {"c", "4"}}, /*flush=*/false);
  // "b" waited longest when "c" came, so it went out alone; "a" is still open.
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].tenant, "b");
  EXPECT_EQ(out[0].body, "2");
  ASSERT_TRUE(e.OldestHeld().has_value());
  EXPECT_EQ(*e.OldestHeld(), 0u);  // "a"'s first batch
  std::vector<pipeline::OutboundRequest> rest;
  e.Flush([&rest](pipeline::OutboundRequest&& r) { rest.push_back(std::move(r)); });
  ASSERT_EQ(rest.size(), 2u);
  EXPECT_EQ(rest[0].tenant, "a");
  EXPECT_EQ(rest[0].body, "13");
  EXPECT_EQ(rest[1].tenant, "c");
  EXPECT_EQ(rest[1].body, "4");
  EXPECT_FALSE(e.OldestHeld().has_value());
}

TEST(TenantSplitEncoderTest, OldestHeldIsTheOldestOverAllTenants) {
  TenantSplitEncoder e([] { return std::make_unique<JoiningEncoder>(2); }, 8);
  // "a" fills and leaves; "b" (record 10) and "a" again (record 30) stay open.
  auto out = Feed(e, {{"a", "1"}, {"b", "2"}, {"a", "3"}, {"a", "4"}}, /*flush=*/false);
  ASSERT_EQ(out.size(), 1u);
  ASSERT_TRUE(e.OldestHeld().has_value());
  EXPECT_EQ(*e.OldestHeld(), 10u);
}

}  // namespace
}  // namespace sluice::exporters
