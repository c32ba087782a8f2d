#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "query/params.h"
#include "query/rollups.h"

namespace sluice::query {

// The window of a services, service or graph query (docs/api.md).
struct WindowQuery {
  int64_t end_unix_nano = 0;
  int64_t window_nanos = 15 * 60'000'000'000ll;
  enum class Sort { kName, kRate, kErrors, kP99 } sort = Sort::kName;
  TenantScope scope;  // set by the caller from the request
};

// From the URL query's pairs (`window`, `end`, `sort`); `now` is the default
// end. InvalidArgument naming the parameter that is wrong.
Result<WindowQuery> ParseWindowQuery(const std::vector<std::pair<std::string, std::string>>& params,
                                     int64_t now_unix_nano);

// GET /api/v1/services: every service with calls in the window.
std::string RenderServices(const Rollups& rollups, const WindowQuery& q);
// GET /api/v1/services/{service}: NotFound when the window holds none of it.
Result<std::string> RenderService(const Rollups& rollups, std::string_view service,
                                  const WindowQuery& q);
// GET /api/v1/graph.
std::string RenderGraph(const Rollups& rollups, const WindowQuery& q);

}  // namespace sluice::query
