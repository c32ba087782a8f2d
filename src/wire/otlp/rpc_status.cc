#include "wire/otlp/rpc_status.h"

#include "base/strings.h"
#include "wire/proto_writer.h"

namespace sluice::wire::otlp {

std::string EncodeRpcStatus(int code, std::string_view message) {
  std::string out;
  ProtoWriter w(&out);
  w.Varint(1, static_cast<uint64_t>(code));
  w.Bytes(2, message);
  return out;
}

std::string EncodeRpcStatusJson(int code, std::string_view message) {
  std::string out = "{\"code\":" + std::to_string(code) + ",\"message\":";
  AppendJsonString(out, message);
  out += '}';
  return out;
}

}  // namespace sluice::wire::otlp
