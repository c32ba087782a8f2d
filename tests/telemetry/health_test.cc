#include "telemetry/health.h"

#include <gtest/gtest.h>

namespace sluice::telemetry {
namespace {

TEST(HealthTest, NotReadyWhenAnyComponentIsNotReadyAndNamesIt) {
  Health h;
  h.Set("log", true);
  h.Set("receiver/otlp", false, "cannot listen on 127.0.0.1:4318");
  Health::Readiness r = h.Check();
  EXPECT_FALSE(r.ready);
  EXPECT_EQ(r.json,
            "{\"status\":\"not_ready\",\"components\":{\"log\":{\"ready\":true},"
            "\"receiver/otlp\":{\"ready\":false,\"detail\":\"cannot listen on "
            "127.0.0.1:4318\"}}}");
  h.Set("receiver/otlp", true);
  EXPECT_TRUE(h.Check().ready);
}

}  // namespace
}  // namespace sluice::telemetry
