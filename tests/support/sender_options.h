#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "config/schema.h"
#include "pipeline/component.h"
#include "pipeline/sender.h"

namespace sluice::testing {

// A sender whose options are gone: made by `type`'s create_sender from
// options parsed out of `yaml`, which are then freed, and options for
// `elsewhere_yaml` (a destination nothing answers at) parsed straight after,
// most likely into the same memory. A sender that kept a reference to its
// options instead of a copy now sends elsewhere, or reads freed memory
// (which AddressSanitizer reports).
struct OrphanedSender {
  std::unique_ptr<pipeline::Sender> sender;
  std::shared_ptr<const void> elsewhere;  // kept, so its memory stays taken
};

inline OrphanedSender SenderOutlivingItsOptions(const pipeline::ComponentType& type,
                                                const std::string& yaml,
                                                const std::string& elsewhere_yaml) {
  auto parse = [&type](const std::string& text) {
    config::Context ctx("test");
    auto node = config::LoadString(text, ctx);
    std::shared_ptr<const void> options = node ? type.parse(*node, ctx) : nullptr;
    EXPECT_TRUE(ctx.ok()) << text;
    return options;
  };
  std::shared_ptr<const void> options = parse(yaml);
  OrphanedSender out;
  out.sender = type.create_sender(options.get());
  options.reset();
  out.elsewhere = parse(elsewhere_yaml);
  return out;
}

// A request to send: `items` items of `signal` in `body`, for `route`
// where the sender takes its route from the request (Kafka's topic).
inline pipeline::OutboundRequest RequestOf(log::Signal signal, std::string body, uint64_t items,
                                           std::string route = "") {
  pipeline::OutboundRequest r;
  r.signal = signal;
  r.route = std::move(route);
  r.body = std::move(body);
  r.items = items;
  return r;
}

}  // namespace sluice::testing
