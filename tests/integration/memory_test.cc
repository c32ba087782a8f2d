// What a running sluice maps into memory: the client libraries of back ends
// (libpq, librdkafka, and what they bring: GnuTLS, Kerberos, LDAP, SASL)
// only when its configuration uses them, and no shared gRPC or absl
// (docs/memory.md).

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include "integration/harness.h"

namespace sluice::testing {
namespace {

std::string Config(const TempDir& dir, const std::string& exporters, const std::string& names) {
  return R"(
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
exporters:
  file:
    path: )" +
         dir.Sub("out/spans.jsonl") + "\n" + exporters + R"(
storage:
  directory: )" +
         dir.Sub("data") + R"(
service:
  telemetry:
    metrics:
      address: 127.0.0.1:0
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [file]
    metrics:
      receivers: [otlp]
      exporters: [)" +
         names + R"(]
)";
}

// The file names of the shared objects mapped into `pid`.
std::vector<std::string> MappedLibraries(pid_t pid) {
  std::vector<std::string> libraries;
  std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
  std::string line;
  while (std::getline(maps, line)) {
    const size_t slash = line.rfind('/');
    if (slash == std::string::npos || line.find(".so", slash) == std::string::npos) continue;
    const std::string name = line.substr(slash + 1);
    if (libraries.empty() || libraries.back() != name) libraries.push_back(name);
  }
  return libraries;
}

// The libraries of `sluice` once its service has started: exporters are made
// after the receivers and the admin server listen.
std::vector<std::string> LibrariesOnceStarted(SluiceProcess& sluice) {
  EXPECT_TRUE(sluice.WaitStarted()) << sluice.process().Output();
  EXPECT_TRUE(sluice.process().WaitForOutput("msg=(started)", std::chrono::seconds(30)))
      << sluice.process().Output();
  return MappedLibraries(sluice.process().pid());
}

bool Maps(const std::vector<std::string>& libraries, const std::string& prefix) {
  for (const std::string& l : libraries) {
    if (l.rfind(prefix, 0) == 0) return true;
  }
  return false;
}

TEST(MemoryTest, ASluiceMapsNoBackEndLibraryItsConfigurationDoesNotUse) {
  TempDir dir;
  SluiceProcess sluice(dir, Config(dir, "", "file"));
  const std::vector<std::string> libraries = LibrariesOnceStarted(sluice);
  ASSERT_TRUE(Maps(libraries, "libc.so")) << "the maps were not read";
  for (const char* unused : {"libpq.so", "librdkafka.so", "libgnutls.so", "libldap", "libkrb5.so",
                             "libsasl2.so", "libgrpc", "libabsl_", "libupb.so", "libre2.so"}) {
    EXPECT_FALSE(Maps(libraries, unused)) << unused << " is mapped";
  }
}

TEST(MemoryTest, BackEndLibrariesAreLoadedWhenTheirExportersAreCreated) {
  TempDir dir;
  SluiceProcess sluice(dir, Config(dir, R"(
  postgresql:
    endpoint: host=127.0.0.1 port=1 dbname=metrics connect_timeout=1
  kafka:
    brokers: [127.0.0.1:1]
)",
                                   "postgresql, kafka"));
  const std::vector<std::string> libraries = LibrariesOnceStarted(sluice);
  EXPECT_TRUE(Maps(libraries, "libpq.so.5")) << sluice.process().Output();
  EXPECT_TRUE(Maps(libraries, "librdkafka.so.1")) << sluice.process().Output();
}

}  // namespace
}  // namespace sluice::testing
