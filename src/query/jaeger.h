#pragma once

#include <optional>

#include "net/http_server.h"
#include "query/context.h"

namespace sluice::query {

// Jaeger's query API (the HTTP JSON routes Jaeger's UI and Grafana's Jaeger
// data source read), answered from the log: /api/services,
// /api/services/{service}/operations, /api/operations, /api/traces,
// /api/traces/{id} and /api/dependencies. Nothing when the request is not
// one of them.
std::optional<net::HttpResponse> AnswerJaeger(const net::HttpRequest& request,
                                              const QueryContext& ctx);

}  // namespace sluice::query
