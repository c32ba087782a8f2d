#include "base/shared_library.h"

#include <dlfcn.h>

namespace sluice {

Result<SharedLibrary> SharedLibrary::Open(const char* soname, const char* package) {
  void* handle = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    return Status::FailedPrecondition(std::string("cannot load ") + soname +
                                      " (install the Debian package " + package +
                                      "): " + (why != nullptr ? why : "unknown error"));
  }
  return SharedLibrary(handle, soname);
}

Result<void*> SharedLibrary::Symbol(const char* name) const {
  dlerror();  // clears an earlier error, so a null answer can be told apart
  void* address = dlsym(handle_, name);
  if (address == nullptr) {
    const char* why = dlerror();
    return Status::FailedPrecondition(soname_ + " has no " + name + ": " +
                                      (why != nullptr ? why : "null symbol"));
  }
  return address;
}

}  // namespace sluice
