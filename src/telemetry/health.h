#pragma once

#include <map>
#include <mutex>
#include <string>

namespace sluice::telemetry {

// Readiness of each component, for /readyz. A component registers itself as
// not ready when created and reports ready once it serves (a receiver once it
// listens, the log once it is open). Thread-safe.
class Health {
 public:
  struct Readiness {
    bool ready;
    std::string json;  // {"status":"ready"|"not_ready","components":{name:{...}}}
  };

  void Set(const std::string& component, bool ready, std::string detail = {});
  void Remove(const std::string& component);
  Readiness Check() const;

 private:
  struct State {
    bool ready = false;
    std::string detail;
  };
  mutable std::mutex mu_;
  std::map<std::string, State> components_;
};

}  // namespace sluice::telemetry
