#pragma once

#include "pipeline/component.h"

namespace sluice::receivers::postgresql {

// The `postgresql` receiver type's registration record: metrics by SQL
// from PostgreSQL sources in pgwatch's model, one loop per source on the
// shared scheduler (docs/collection.md).
pipeline::ComponentType PostgresqlReceiverType();

}  // namespace sluice::receivers::postgresql
