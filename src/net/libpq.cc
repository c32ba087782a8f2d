#include "net/libpq.h"

#include "base/check.h"
#include "base/shared_library.h"

namespace sluice::net {
namespace {

Status BindAll(const SharedLibrary& library, LibPq& table) {
#define SLUICE_BIND(name) \
  if (Status s = library.Bind(#name, table.name); !s.ok()) return s;
  SLUICE_LIBPQ_FUNCTIONS(SLUICE_BIND)
#undef SLUICE_BIND
  return Status::Ok();
}

}  // namespace

Result<const LibPq*> LoadLibPq() {
  return LoadFunctions<LibPq>("libpq.so.5", "libpq5", &BindAll);
}

const LibPq& Pq() {
  Result<const LibPq*> loaded = LoadLibPq();
  SLUICE_CHECK(loaded.ok());
  return **loaded;
}

}  // namespace sluice::net
