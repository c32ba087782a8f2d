#pragma once

#include <optional>

#include "net/http_server.h"
#include "query/context.h"

namespace sluice::query {

// Loki's query API for the common case, answered from the log:
// /loki/api/v1/query_range (a stream selector and line filters),
// /loki/api/v1/labels and /loki/api/v1/label/{name}/values. Nothing when
// the request is not one of them.
std::optional<net::HttpResponse> AnswerLoki(const net::HttpRequest& request,
                                            const QueryContext& ctx);

}  // namespace sluice::query
