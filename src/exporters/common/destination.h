#pragma once

#include <string>
#include <string_view>

#include "base/result.h"
#include "config/schema.h"
#include "net/http_client.h"
#include "pipeline/sender.h"

namespace sluice::exporters {

// What the exporters that send to a network destination share: the `tls`
// block of their configuration, the tenant header, and how an HTTP answer
// becomes a delivery decision. The client itself is net::HttpClient.

// The schema of `tls` (net::TlsClientOptions) in every exporter's options.
const config::Schema<net::TlsClientOptions>& TlsClientOptionsSchema();

// The header that carries a request's tenant: `tenant_header` (default
// X-Scope-OrgID, "" for none) as each HTTP and gRPC exporter configures it.
constexpr const char* kDefaultTenantHeader = "X-Scope-OrgID";
constexpr const char* kTenantHeaderHelp =
    "Header that carries each request's tenant, as received (\"\" sends none). A value for it "
    "in headers wins.";

// Appends `header: tenant` to *extra unless tenant or header is empty or
// `configured` (the exporter's own headers) already names the header (any
// case).
void AddTenantHeader(const std::string& header, const net::Headers& configured,
                     const std::string& tenant, net::Headers* extra);

// The HTTP status classes shared by every HTTP exporter: 2xx ok; 429 and 5xx
// retryable (honouring Retry-After); everything else permanent. `what` names
// the destination in the reason.
pipeline::SendResult ClassifyHttp(const Result<net::HttpReply>& reply, std::string_view what);

}  // namespace sluice::exporters
