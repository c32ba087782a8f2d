#include "pipeline/checkpoint.h"

#include <cstring>

#include "base/crc32c.h"
#include "wire/proto_reader.h"
#include "wire/proto_writer.h"

namespace sluice::pipeline {
namespace {

constexpr uint32_t kCheckpointVersion = 1;

}  // namespace

std::string EncodeCheckpoint(std::string_view magic, const log::Position& pos, int64_t start_time,
                             std::string_view state, const std::vector<TenantState>& tenants) {
  std::string body;
  wire::ProtoWriter w(&body);
  w.Varint(1, pos.segment);
  w.Varint(2, pos.byte_offset);
  w.Varint(3, pos.record_offset);
  w.Varint(4, static_cast<uint64_t>(start_time));
  w.Bytes(5, state);
  for (const TenantState& t : tenants) {
    size_t m = w.BeginMessage(6);
    w.Bytes(1, t.tenant);
    w.Bytes(2, t.state);
    w.EndMessage(m);
  }
  std::string out(magic.substr(0, 4));
  out.resize(4, '\0');
  uint32_t version = kCheckpointVersion;
  uint32_t crc = Crc32c(body);
  out.append(reinterpret_cast<const char*>(&version), 4);
  out.append(reinterpret_cast<const char*>(&crc), 4);
  out += body;
  return out;
}

Status DecodeCheckpoint(std::string_view magic, std::string_view file, log::Position* pos,
                        int64_t* start_time, std::string_view* state,
                        std::vector<TenantState>* tenants) {
  if (file.size() < 12 || file.substr(0, 4) != magic.substr(0, 4)) {
    return Status::Corruption("not a checkpoint of this connector type");
  }
  uint32_t version, crc;
  std::memcpy(&version, file.data() + 4, 4);
  std::memcpy(&crc, file.data() + 8, 4);
  if (version != kCheckpointVersion) {
    return Status::Corruption("checkpoint version " + std::to_string(version) + ", expected " +
                              std::to_string(kCheckpointVersion));
  }
  std::string_view body = file.substr(12);
  if (Crc32c(body) != crc) return Status::Corruption("checkpoint checksum mismatch");
  *state = {};
  if (tenants != nullptr) tenants->clear();
  wire::ProtoReader r(body);
  while (r.Next()) {
    switch (r.field()) {
      case 1:
        pos->segment = r.varint();
        break;
      case 2:
        pos->byte_offset = r.varint();
        break;
      case 3:
        pos->record_offset = r.varint();
        break;
      case 4:
        *start_time = r.as_int64();
        break;
      case 5:
        *state = r.bytes();
        break;
      case 6: {
        if (tenants == nullptr) break;
        TenantState t;
        wire::ProtoReader f(r.bytes());
        while (f.Next()) {
          if (f.field() == 1) t.tenant = f.bytes();
          if (f.field() == 2) t.state = f.bytes();
        }
        if (!f.ok()) return Status::Corruption(f.error());
        tenants->push_back(t);
        break;
      }
      default:
        break;
    }
  }
  if (!r.ok()) return Status::Corruption(r.error());
  return Status::Ok();
}

}  // namespace sluice::pipeline
