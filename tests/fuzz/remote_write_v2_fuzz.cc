// Any bytes as a snappy-compressed remote write 2.0 body and as a
// decompressed io.prometheus.write.v2.Request: nothing may crash, and what
// the conversion keeps must be a 1.0 WriteRequest the 1.0 inspector accepts
// whole, holding exactly the samples and histograms it reported written.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "wire/compression.h"
#include "wire/prom/remote_write.h"
#include "wire/prom/remote_write_v2.h"

namespace {
void Check(std::string_view request) {
  sluice::wire::prom::V2Conversion conv;
  if (!sluice::wire::prom::ConvertRequestV2(request, &conv).ok()) return;
  sluice::wire::prom::WriteInspection ins;
  if (!sluice::wire::prom::InspectWriteRequest(conv.write_request, &ins).ok() ||
      ins.rejected_series != 0 || ins.series != conv.series - conv.rejected_series() ||
      ins.items != conv.samples + conv.histograms) {
    std::abort();
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  Check(in);
  std::string body;
  if (sluice::wire::Decompress(sluice::wire::Compression::kSnappyBlock, in, 1 << 20, &body).ok()) {
    Check(body);
  }
  return 0;
}
