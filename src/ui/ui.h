#pragma once

#include "net/http_server.h"

namespace sluice::ui {

// The web UI (ui/ at the repository root), built at compile time and held
// in the binary gzipped (src/ui/README.md).
//
// Answers GET/HEAD of the UI's files; false if the path is not one of them.
//
// `/` and any other path that has no file extension in its last segment
// answer index.html (the UI routes by the URL's fragment; this keeps a
// reloaded or shared deep link working), except paths under /api/ and the
// admin server's own routes (/metrics, /healthz, /readyz), which are never
// the UI's. A file is sent gzipped when the request's Accept-Encoding allows
// gzip, and inflated for clients that do not.
//
// Thread-safety: reads only constant data; call from any thread.
bool Serve(const net::HttpRequest& request, net::HttpResponse* response);

// The Content-Security-Policy every answer of Serve carries.
inline constexpr const char* kContentSecurityPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

}  // namespace sluice::ui
