#include "log/log.h"

// log/log.h, and the log/options.h it includes, are read by every receiver
// and exporter, so they must not compile the configuration machinery with
// them. Every yaml-cpp header defines YAML_CPP_API (yaml-cpp/dll.h), and this
// check comes before anything else here includes one.
#ifdef YAML_CPP_API
#error "log/log.h brings in yaml-cpp; the storage schema belongs in log/options_schema.h"
#endif

#include <gtest/gtest.h>

#include "log/options_schema.h"

namespace sluice::log {
namespace {

std::vector<std::string> ParseStorage(const std::string& yaml, LogOptions* out) {
  config::Context ctx("sluice.yaml");
  std::optional<YAML::Node> node = config::LoadString(yaml, ctx);
  if (node) LogOptionsSchema().Parse(*node, out, ctx);
  std::vector<std::string> errors;
  for (const config::Error& e : ctx.errors()) errors.push_back(e.ToString());
  return errors;
}

TEST(LogOptionsSchemaTest, KeysReachThePlainStruct) {
  LogOptions o;
  EXPECT_TRUE(ParseStorage("directory: /var/lib/sluice\nfsync: always\n"
                           "retention:\n  max_bytes: 1GiB\n",
                           &o)
                  .empty());
  EXPECT_EQ(o.directory, "/var/lib/sluice");
  EXPECT_EQ(o.fsync, FsyncPolicy::kAlways);
  EXPECT_EQ(o.retention.max_bytes, 1ull << 30);
  EXPECT_EQ(o.segment_bytes, LogOptions().segment_bytes);
}

TEST(LogOptionsSchemaTest, RetentionThatCannotHoldTwoSegmentsIsRefused) {
  LogOptions o;
  std::vector<std::string> errors =
      ParseStorage("segment_bytes: 64MiB\nretention:\n  max_bytes: 100MiB\n", &o);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("at least twice segment_bytes"), std::string::npos) << errors[0];
}

}  // namespace
}  // namespace sluice::log
