#include "exporters/common/tenant_encoder.h"

#include <algorithm>
#include <utility>

#include "base/check.h"

namespace sluice::exporters {
namespace {

// Passes each request on with its tenant set.
EmitFn Stamped(const std::string& tenant, const EmitFn& emit) {
  return [&tenant, &emit](pipeline::OutboundRequest&& r) {
    r.tenant = tenant;
    emit(std::move(r));
  };
}

}  // namespace

TenantSplitEncoder::TenantSplitEncoder(Factory make, size_t max_open)
    : make_(std::move(make)), max_open_(max_open) {
  SLUICE_CHECK(max_open_ >= 1);
  open_.reserve(max_open_);
}

TenantSplitEncoder::Open& TenantSplitEncoder::SlotFor(std::string_view tenant, const EmitFn& emit) {
  if (last_ < open_.size() && open_[last_].tenant == tenant) return open_[last_];
  for (size_t i = 0; i < open_.size(); ++i) {
    if (open_[i].tenant == tenant) {
      last_ = i;
      return open_[i];
    }
  }
  if (open_.size() < max_open_) {
    open_.push_back(Open{std::string(tenant), make_(), 0});
    last_ = open_.size() - 1;
    return open_.back();
  }
  // Full: the tenant idle longest hands over what it holds and its encoder.
  auto victim = std::min_element(open_.begin(), open_.end(), [](const Open& a, const Open& b) {
    return a.last_used < b.last_used;
  });
  victim->encoder->Flush(Stamped(victim->tenant, emit));
  victim->tenant.assign(tenant);
  last_ = static_cast<size_t>(victim - open_.begin());
  return *victim;
}

void TenantSplitEncoder::Add(const log::LogReader::Batch& batch, uint64_t record,
                             const EmitFn& emit) {
  Open& o = SlotFor(batch.tenant, emit);
  o.last_used = ++uses_;
  o.encoder->Add(batch, record, Stamped(o.tenant, emit));
}

void TenantSplitEncoder::Flush(const EmitFn& emit) {
  for (Open& o : open_) o.encoder->Flush(Stamped(o.tenant, emit));
}

std::optional<uint64_t> TenantSplitEncoder::OldestHeld() const {
  std::optional<uint64_t> oldest;
  for (const Open& o : open_) {
    std::optional<uint64_t> held = o.encoder->OldestHeld();
    if (held && (!oldest || *held < *oldest)) oldest = held;
  }
  return oldest;
}

}  // namespace sluice::exporters
