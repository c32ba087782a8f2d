#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace sluice::testing {

// A request as the backend saw it, body already decompressed
// (gzip/zstd/snappy per Content-Encoding).
struct BackendRequest {
  std::string path;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::string Header(const std::string& lower_name) const;
};

// What the backend does with one request.
struct Fault {
  enum class Kind {
    kOk,          // 200 (body `reply`, content type `content_type`)
    kStatus,      // answer `status` (with Retry-After if retry_after is set)
    kDrop,        // close the connection without answering
    kHang,        // keep the request unanswered for `delay`, then close
    kSlowAnswer,  // wait `delay`, then 200
  };
  Kind kind = Kind::kOk;
  int status = 200;
  std::string retry_after;
  std::chrono::milliseconds delay{0};
  // Whether the request counts as received (handed to the sink) even
  // though the client will see a failure: a backend that stored the data
  // and then failed to answer, the source of unavoidable duplicates.
  bool deliver = false;
  std::string reply;
  std::string content_type = "application/x-protobuf";
};

// A fault-injecting HTTP/1.1 backend on 127.0.0.1, for exporter tests. Each
// request is decided by `decide` (default: 200), and requests answered with
// 2xx (or faults with deliver=true) go to `sink`. Stop() and Start() again
// reuse the same port, to simulate an outage. Thread-safe.
class FaultBackend {
 public:
  using Decide = std::function<Fault(const BackendRequest&)>;
  using Sink = std::function<void(const BackendRequest&)>;

  FaultBackend(Decide decide, Sink sink);
  ~FaultBackend();

  // Listens on `port` (0 picks one); returns false if it cannot bind.
  bool Start(int port = 0);
  // Closes the listener and every connection.
  void Stop();
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  uint64_t requests() const { return requests_.load(); }

 private:
  struct State;
  std::shared_ptr<State> state_;
  Decide decide_;
  Sink sink_;
  int port_ = 0;
  std::atomic<uint64_t> requests_{0};
};

}  // namespace sluice::testing
