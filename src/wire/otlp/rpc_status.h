#pragma once

#include <string>
#include <string_view>

namespace sluice::wire::otlp {

// google.rpc.Status codes used in OTLP error responses.
inline constexpr int kRpcInvalidArgument = 3;
inline constexpr int kRpcResourceExhausted = 8;
inline constexpr int kRpcInternal = 13;
inline constexpr int kRpcUnavailable = 14;

// Encodes google.rpc.Status{code = 1, message = 2} as protobuf.
std::string EncodeRpcStatus(int code, std::string_view message);
// The same as JSON: {"code":3,"message":"..."}.
std::string EncodeRpcStatusJson(int code, std::string_view message);

}  // namespace sluice::wire::otlp
