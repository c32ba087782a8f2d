#include "pipeline/admin.h"

namespace sluice::pipeline {

void AdminHandler::Handle(net::HttpRequest&& request, net::Responder respond) {
  int retry_after = 1;
  if (!limiter_.Allow(request.remote_ip, &retry_after)) {
    limited_.Inc();
    net::HttpResponse r = net::HttpResponse::Text(429, "too many requests from this client");
    r.headers.emplace_back("Retry-After", std::to_string(retry_after));
    return respond(std::move(r));
  }
  for (Module* m : modules_) {
    if (m->Handle(request, respond)) return;
  }
  if (request.method != "GET" && request.method != "HEAD") {
    net::HttpResponse r = net::HttpResponse::Text(405, "method not allowed");
    r.headers.emplace_back("Allow", "GET, HEAD");
    return respond(std::move(r));
  }
  if (request.path == "/metrics") {
    net::HttpResponse r = net::HttpResponse::Text(200, registry_.Render());
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    return respond(std::move(r));
  }
  if (request.path == "/healthz") return respond(net::HttpResponse::Text(200, "ok"));
  if (request.path == "/readyz") {
    telemetry::Health::Readiness r = health_.Check();
    return respond(net::HttpResponse::Json(r.ready ? 200 : 503, std::move(r.json)));
  }
  respond(net::HttpResponse::Text(
      404, "not found: " + request.path + " (routes: /metrics, /healthz, /readyz)"));
}

}  // namespace sluice::pipeline
