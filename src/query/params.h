#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace sluice::query {

// What the query routes share in reading their parameters and writing JSON.

// InvalidArgument "<param>: <why>".
Status BadParam(std::string_view param, std::string_view why);
// The value of the first parameter called `name`, or null.
const std::string* FindParam(const std::vector<std::pair<std::string, std::string>>& params,
                             std::string_view name);
// A time as Unix seconds, possibly fractional ("1700000000.25"), in ns.
bool ParseUnixSeconds(std::string_view text, int64_t* out_unix_nano);
// A whole number within [min, max].
bool ParseInt(std::string_view text, int64_t min, int64_t max, int64_t* out);
// Whose data a query sees (docs/api.md, "Tenants"). A batch stored without
// a tenant belongs to the default tenant; a query sees the batches of one
// tenant: the one its tenant header names, else the default.
struct TenantScope {
  std::string tenant;          // the query's
  std::string default_tenant;  // what a batch without one belongs to
  bool Admits(std::string_view batch_tenant) const {
    return (batch_tenant.empty() ? std::string_view(default_tenant) : batch_tenant) == tenant;
  }
  bool IsDefault() const { return tenant == default_tenant; }
};

// A finite number with up to 6 significant digits; null when not finite.
void AppendJsonNumber(std::string& out, double value);

}  // namespace sluice::query
