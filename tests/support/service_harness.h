#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "components/builtin.h"
#include "io/file_system.h"
#include "pipeline/service.h"

namespace sluice::testing {

// Starts a Service in-process from YAML with the built-in components, on
// `clock` (which must outlive it); returns null (after recording a test
// failure) if the config is invalid or start fails.
inline std::unique_ptr<pipeline::Service> StartService(const std::string& yaml,
                                                       telemetry::Registry& registry,
                                                       Clock& clock = Clock::Real()) {
  config::Context ctx("test");
  auto root = config::LoadString(yaml, ctx);
  auto cfg =
      root ? pipeline::ParseServiceConfig(*root, ctx, components::BuiltinCatalog()) : std::nullopt;
  if (!cfg) {
    ADD_FAILURE() << (ctx.errors().empty() ? "invalid config" : ctx.errors()[0].ToString());
    return nullptr;
  }
  auto service = std::make_unique<pipeline::Service>(std::move(*cfg), registry,
                                                     io::FileSystem::Posix(), clock);
  Status st = service->Start();
  if (!st.ok()) {
    ADD_FAILURE() << st.ToString();
    return nullptr;
  }
  return service;
}

// The host:port of the listening address logged as "<prefix>host:port".
inline std::string AddressOf(const pipeline::Service& service, const std::string& prefix) {
  for (const auto& a : service.Addresses()) {
    if (a.rfind(prefix, 0) == 0) return a.substr(prefix.size());
  }
  return "";
}

}  // namespace sluice::testing
