// The command line of the real binary.

#include <gtest/gtest.h>

#include <fstream>

#include "support/process.h"
#include "support/temp_dir.h"

namespace sluice::testing {
namespace {

RunResult Sluice(const TempDir& dir, std::vector<std::string> args) {
  return RunToCompletion(SLUICE_BINARY, args, dir.path());
}

TEST(CliTest, VersionPrintsTheVersion) {
  TempDir dir;
  RunResult r = Sluice(dir, {"version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.output.rfind("sluice ", 0), 0u);
}

TEST(CliTest, EveryVerbHasHelp) {
  TempDir dir;
  for (const char* verb : {"run", "validate", "version", "loadgen", "dlq"}) {
    RunResult r = Sluice(dir, {verb, "--help"});
    EXPECT_EQ(r.exit_code, 0) << verb;
    EXPECT_NE(r.output.find("Usage"), std::string::npos) << verb << ": " << r.output;
  }
  RunResult top = Sluice(dir, {"--help"});
  EXPECT_EQ(top.exit_code, 0);
  EXPECT_NE(top.output.find("validate"), std::string::npos);
}

TEST(CliTest, ValidateAcceptsTheExample) {
  TempDir dir;
  RunResult r = Sluice(dir, {"validate", "--config", SLUICE_EXAMPLES_DIR "/sluice.yaml"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("configuration OK"), std::string::npos);
}

TEST(CliTest, ValidatePrintsEveryErrorWithFileLineColumnAndFails) {
  TempDir dir;
  std::string path = dir.Sub("bad.yaml");
  std::ofstream(path) << "receivers:\n"
                         "  otlp:\n"
                         "    protocols:\n"
                         "      http:\n"
                         "        max_request_body_size: 1GiB\n"
                         "storage:\n"
                         "  fsync: often\n"
                         "service:\n"
                         "  pipelines:\n"
                         "    traces:\n"
                         "      receivers: [otlp]\n"
                         "      exporters: [nowhere]\n";
  RunResult r = Sluice(dir, {"validate", "--config", path});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find(path + ":5:32: value 1GiB is out of range (1MiB to 256MiB)"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find(path + ":7:10: invalid value \"often\"; valid choices: always, "
                                 "interval, never"),
            std::string::npos);
  EXPECT_NE(r.output.find(path + ":12:19: pipeline traces: exporter \"nowhere\" is not defined"),
            std::string::npos);
}

TEST(CliTest, RunWithAnInvalidConfigFailsBeforeStarting) {
  TempDir dir;
  std::string path = dir.Sub("bad.yaml");
  std::ofstream(path) << "service:\n  pipelines:\n    traces:\n      receivers: [otlp]\n";
  RunResult r = Sluice(dir, {"run", "--config", path});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find(path + ":4:19:"), std::string::npos) << r.output;
}

TEST(CliTest, ReferenceDocumentsEveryComponentKey) {
  TempDir dir;
  RunResult r = Sluice(dir, {"validate", "--reference"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("| `fsync_interval` | duration | `100ms` |"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("| `protocols.http.endpoint` | string | `\"127.0.0.1:4318\"` |"),
            std::string::npos);
  EXPECT_NE(r.output.find("| `path` | string | `(required)` |"), std::string::npos);
}

}  // namespace
}  // namespace sluice::testing

namespace sluice::testing {
namespace {

TEST(CliTest, ConfigurationDocMatchesTheSchemas) {
  TempDir dir;
  RunResult r = RunToCompletion(SLUICE_BINARY, {"validate", "--reference"}, dir.path());
  ASSERT_EQ(r.exit_code, 0);
  std::ifstream in(SLUICE_DOCS_DIR "/configuration.md");
  std::string doc((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(doc.find(r.output), std::string::npos)
      << "docs/configuration.md is stale; regenerate it with `sluice validate --reference`";
}

}  // namespace
}  // namespace sluice::testing
