#include "base/shared_library.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(SharedLibraryTest, AMissingLibraryIsRefusedNamingThePackageToInstall) {
  Result<SharedLibrary> library = SharedLibrary::Open("libsluice-absent.so.7", "libabsent7");
  ASSERT_FALSE(library.ok());
  EXPECT_EQ(library.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(library.status().message().find("libsluice-absent.so.7"), std::string::npos);
  EXPECT_NE(library.status().message().find("libabsent7"), std::string::npos);
}

TEST(SharedLibraryTest, BoundFunctionsAreCalledAndAMissingSymbolIsNamed) {
  Result<SharedLibrary> library = SharedLibrary::Open("libm.so.6", "libc6");
  ASSERT_TRUE(library.ok()) << library.status().ToString();
  double (*cube_root)(double) = nullptr;
  ASSERT_TRUE(library->Bind("cbrt", cube_root).ok());
  EXPECT_DOUBLE_EQ(cube_root(27.0), 3.0);

  void (*absent)() = nullptr;
  Status s = library->Bind("sluice_no_such_function", absent);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("sluice_no_such_function"), std::string::npos);
  EXPECT_EQ(absent, nullptr);
}

}  // namespace
}  // namespace sluice
