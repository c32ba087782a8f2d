#include <gtest/gtest.h>

#include <string>

#include "exporters/prometheusremotewrite/remote_write_exporter.h"
#include "support/fault_backend.h"
#include "support/otlp_builders.h"
#include "support/sender_options.h"

namespace sluice::exporters::prw {
namespace {

TEST(RemoteWriteSenderTest, SenderStillSendsWhereItWasToldAfterItsOptionsAreGone) {
  testing::FaultBackend backend([](const testing::BackendRequest&) { return testing::Fault{}; },
                                [](const testing::BackendRequest&) {});
  ASSERT_TRUE(backend.Start());
  auto orphan = testing::SenderOutlivingItsOptions(RemoteWriteExporterType(),
                                                   "endpoint: " + backend.url() + "/api/v1/write",
                                                   "endpoint: http://127.0.0.1:1/api/v1/write");
  pipeline::SendResult result = orphan.sender->Send(testing::RequestOf(
      log::Signal::kMetrics, testing::MakeWriteRequest(1, 2, 1).SerializeAsString(), 2));
  EXPECT_TRUE(result.ok()) << result.reason;
  EXPECT_EQ(backend.requests(), 1u);
}

}  // namespace
}  // namespace sluice::exporters::prw
