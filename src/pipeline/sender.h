#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "log/format.h"

namespace sluice::pipeline {

// One request an exporter sends to its destination, in the form it is kept
// in the dead-letter queue: enough to send it again later.
struct OutboundRequest {
  log::Signal signal = log::Signal::kTraces;
  // Where it goes, relative to the exporter's endpoint: an HTTP path
  // ("/v1/traces") or a gRPC method name.
  std::string route;
  // The encoded request, uncompressed; the sender compresses it on the wire.
  std::string body;
  uint64_t items = 0;  // spans, points or log records in body
  // The tenant of every batch in body ("" for none); HTTP and gRPC senders
  // pass it on in their tenant header.
  std::string tenant;
  // Dispatch bookkeeping (not part of the dead letter): the shard whose
  // order it must keep (-1 for any) and the record offset of the first log
  // batch with data in it.
  int shard = -1;
  uint64_t first_record = 0;
};

// What one attempt to send came to.
struct SendResult {
  enum class Kind {
    kOk,         // accepted (possibly partly: see rejected_items)
    kRetryable,  // worth trying again: 5xx, 429, connection failures, timeouts
    kPermanent,  // will never be accepted as it is: other 4xx, malformed
  };
  Kind kind = Kind::kOk;
  // From Retry-After or gRPC RetryInfo; negative when the server gave none.
  std::chrono::milliseconds retry_after{-1};
  std::string reason;           // for logs and the dead-letter queue
  uint64_t rejected_items = 0;  // items refused by a partial success

  static SendResult Ok() { return {}; }
  static SendResult Retryable(std::string why,
                              std::chrono::milliseconds after = std::chrono::milliseconds(-1)) {
    return {Kind::kRetryable, after, std::move(why), 0};
  }
  static SendResult Permanent(std::string why) {
    return {Kind::kPermanent, std::chrono::milliseconds(-1), std::move(why), 0};
  }
  bool ok() const { return kind == Kind::kOk; }
};

// Sends requests over one connection (or stream). Not thread-safe: each
// delivery worker owns one Sender. Send blocks until the destination
// answers, the attempt times out, or the connection fails. A Sender keeps
// its own copy of the options it was made from: it may outlive them (a
// delivery loop's factory, `sluice dlq replay`'s parsed configuration).
class Sender {
 public:
  virtual ~Sender() = default;
  virtual SendResult Send(const OutboundRequest& request) = 0;
};

}  // namespace sluice::pipeline
