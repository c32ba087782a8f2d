#include "telemetry/health.h"

#include "base/strings.h"

namespace sluice::telemetry {

void Health::Set(const std::string& component, bool ready, std::string detail) {
  std::lock_guard<std::mutex> lock(mu_);
  components_[component] = State{ready, std::move(detail)};
}

void Health::Remove(const std::string& component) {
  std::lock_guard<std::mutex> lock(mu_);
  components_.erase(component);
}

Health::Readiness Health::Check() const {
  std::lock_guard<std::mutex> lock(mu_);
  bool all_ready = true;
  std::string components;
  for (const auto& [name, state] : components_) {
    all_ready = all_ready && state.ready;
    if (!components.empty()) components += ',';
    AppendJsonString(components, name);
    components += ":{\"ready\":";
    components += state.ready ? "true" : "false";
    if (!state.detail.empty()) {
      components += ",\"detail\":";
      AppendJsonString(components, state.detail);
    }
    components += '}';
  }
  std::string json = "{\"status\":";
  json += all_ready ? "\"ready\"" : "\"not_ready\"";
  json += ",\"components\":{" + components + "}}";
  return {all_ready, std::move(json)};
}

}  // namespace sluice::telemetry
