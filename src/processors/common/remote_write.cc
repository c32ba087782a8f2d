#include "processors/common/remote_write.h"

#include <string>

#include "wire/compression.h"

namespace sluice::processors {
namespace {

// Snappy bodies are decompressed to at most this much, as the receivers
// allow (a larger one was refused on receipt).
constexpr uint64_t kMaxDecompressed = 256ull << 20;

}  // namespace

Status WithRemoteWriteRequest(const pipeline::Processor::Input& in,
                              pipeline::Processor::Output* out,
                              const std::function<Status(std::string_view request)>& fn) {
  if (in.encoding == log::Encoding::kPromRemoteWriteProto) return fn(in.payload);
  if (in.encoding != log::Encoding::kPromRemoteWriteSnappy) return Status::Ok();
  thread_local std::string scratch;
  std::string_view request;
  SLUICE_RETURN_IF_ERROR(
      wire::SnappyDecompressInto(in.payload, kMaxDecompressed, &scratch, &request));
  Status st = fn(request);
  if (st.ok() && out->changed && out->items > 0) {
    thread_local std::string compress_scratch;
    out->payload.assign(wire::SnappyCompressInto(out->payload, &compress_scratch));
    wire::ReleaseLargeScratch(&compress_scratch);
  }
  wire::ReleaseLargeScratch(&scratch);
  return st;
}

}  // namespace sluice::processors
