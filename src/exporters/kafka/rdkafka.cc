#include "exporters/kafka/rdkafka.h"

#include "base/check.h"
#include "base/shared_library.h"

namespace sluice::exporters::kafka {
namespace {

Status BindAll(const SharedLibrary& library, RdKafka& table) {
#define SLUICE_BIND(name) \
  if (Status s = library.Bind(#name, table.name); !s.ok()) return s;
  SLUICE_RDKAFKA_FUNCTIONS(SLUICE_BIND)
#undef SLUICE_BIND
  return Status::Ok();
}

}  // namespace

Result<const RdKafka*> LoadRdKafka() {
  return LoadFunctions<RdKafka>("librdkafka.so.1", "librdkafka1", &BindAll);
}

const RdKafka& Rdk() {
  Result<const RdKafka*> loaded = LoadRdKafka();
  SLUICE_CHECK(loaded.ok());
  return **loaded;
}

}  // namespace sluice::exporters::kafka
