#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "exporters/common/delivery.h"

namespace sluice::exporters {

// Keeps tenants apart: one request carries the batches of one tenant only,
// and is stamped with it (OutboundRequest::tenant), so a multi-tenant
// destination (Mimir, Loki, Tempo behind X-Scope-OrgID) files every item
// under the tenant it arrived with.
//
// Each tenant gets its own inner encoder from `make`, so batches of
// interleaved tenants still fill whole requests. At most `max_open` tenants
// hold open requests at once: a batch of another tenant first flushes the
// one that has waited longest since its last batch, which bounds memory at
// max_open inner encoders. With a single tenant this adds one string
// comparison per batch.
class TenantSplitEncoder final : public RequestEncoder {
 public:
  using Factory = std::function<std::unique_ptr<RequestEncoder>()>;
  // Requires max_open >= 1.
  TenantSplitEncoder(Factory make, size_t max_open);

  void Add(const log::LogReader::Batch& batch, uint64_t record, const EmitFn& emit) override;
  void Flush(const EmitFn& emit) override;
  std::optional<uint64_t> OldestHeld() const override;

 private:
  struct Open {
    std::string tenant;
    std::unique_ptr<RequestEncoder> encoder;
    uint64_t last_used = 0;
  };
  // The slot for `tenant`, making room if needed.
  Open& SlotFor(std::string_view tenant, const EmitFn& emit);

  const Factory make_;
  const size_t max_open_;
  std::vector<Open> open_;  // few: searched linearly
  uint64_t uses_ = 0;
  size_t last_ = 0;  // index of the slot the previous batch used
};

}  // namespace sluice::exporters
