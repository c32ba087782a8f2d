#pragma once

#include <libpq-fe.h>

#include "base/result.h"

namespace sluice::net {

// The libpq functions sluice calls, each as `name`.
#define SLUICE_LIBPQ_FUNCTIONS(X) \
  X(PQclear)                      \
  X(PQconnectPoll)                \
  X(PQconnectStart)               \
  X(PQconnectStartParams)         \
  X(PQconninfoFree)               \
  X(PQconninfoParse)              \
  X(PQconsumeInput)               \
  X(PQenterPipelineMode)          \
  X(PQerrorMessage)               \
  X(PQfinish)                     \
  X(PQflush)                      \
  X(PQfname)                      \
  X(PQfreemem)                    \
  X(PQftype)                      \
  X(PQgetResult)                  \
  X(PQgetisnull)                  \
  X(PQgetvalue)                   \
  X(PQhost)                       \
  X(PQisBusy)                     \
  X(PQnfields)                    \
  X(PQntuples)                    \
  X(PQpipelineSync)               \
  X(PQport)                       \
  X(PQputCopyData)                \
  X(PQputCopyEnd)                 \
  X(PQresultErrorField)           \
  X(PQresultErrorMessage)         \
  X(PQresultStatus)               \
  X(PQsendQuery)                  \
  X(PQsendQueryParams)            \
  X(PQserverVersion)              \
  X(PQsetNoticeProcessor)         \
  X(PQsetnonblocking)             \
  X(PQsocket)                     \
  X(PQstatus)

// libpq (PostgreSQL's client library), opened when a component that talks
// to PostgreSQL is created, not at start-up: its dependencies (GnuTLS,
// Kerberos, LDAP) would cost every sluice several MiB of memory
// (base/shared_library.h). The header is used for its types only.
struct LibPq {
#define SLUICE_LIBPQ_POINTER(name) decltype(&::name) name = nullptr;
  SLUICE_LIBPQ_FUNCTIONS(SLUICE_LIBPQ_POINTER)
#undef SLUICE_LIBPQ_POINTER
};

// Opens libpq.so.5 on the first call and binds every function; every call
// after answers the same. FailedPrecondition naming the library and the
// package to install when it cannot be opened. Thread-safe.
Result<const LibPq*> LoadLibPq();

// The opened libpq. Precondition: LoadLibPq() succeeded (each PostgreSQL
// component checks when it is created, before any call).
const LibPq& Pq();

}  // namespace sluice::net
