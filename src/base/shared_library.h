#pragma once

#include <string>

#include "base/result.h"
#include "base/status.h"

namespace sluice {

// A library opened at run time (dlopen) rather than at start-up.
//
// Why: an optional back end's client library (libpq for PostgreSQL,
// librdkafka for Kafka) brings a tree of dependencies (GnuTLS, Kerberos,
// LDAP, SASL) whose loading and constructors cost every process that maps
// them several MiB of resident memory, whether or not the configuration
// uses them. Opened here, they cost only the processes that do.
//
// Lifetime: an opened library stays loaded for the life of the process
// (never dlclose'd), so the functions bound from it stay valid anywhere.
// Thread-safety: Open and Bind may be called from any thread.
class SharedLibrary {
 public:
  // Opens `soname` with every symbol resolved at once (RTLD_NOW) and none
  // made visible to other libraries (RTLD_LOCAL). On failure:
  // FailedPrecondition naming the library, the Debian `package` that
  // provides it and the loader's reason.
  static Result<SharedLibrary> Open(const char* soname, const char* package);

  // Sets `fn` to the library's function `name`; FailedPrecondition naming
  // it when the library has no such symbol (a version too old).
  template <class F>
  Status Bind(const char* name, F*& fn) const {
    Result<void*> address = Symbol(name);
    if (!address.ok()) return address.status();
    fn = reinterpret_cast<F*>(*address);
    return Status::Ok();
  }

  const std::string& soname() const { return soname_; }

 private:
  SharedLibrary(void* handle, std::string soname) : handle_(handle), soname_(std::move(soname)) {}
  Result<void*> Symbol(const char* name) const;

  void* handle_;
  std::string soname_;
};

// The functions a caller takes from one library, as a Table of pointers:
// the library is opened and `bind` fills the table on the first call, and
// every later call answers the same (opened once per Table type, so each
// Table belongs to one library). Thread-safe.
template <class Table>
Result<const Table*> LoadFunctions(const char* soname, const char* package,
                                   Status (*bind)(const SharedLibrary&, Table&)) {
  static const Result<const Table*> loaded = [&]() -> Result<const Table*> {
    Result<SharedLibrary> library = SharedLibrary::Open(soname, package);
    if (!library.ok()) return library.status();
    static Table table;
    if (Status s = bind(*library, table); !s.ok()) return s;
    return &table;
  }();
  return loaded;
}

}  // namespace sluice
