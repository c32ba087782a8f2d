#include <gtest/gtest.h>

#include "base/result.h"

namespace sluice {
namespace {

Result<int> Half(int x) {
  if (x % 2 != 0) return Status::InvalidArgument("odd");
  return x / 2;
}

Status Quarter(int x, int* out) {
  SLUICE_ASSIGN_OR_RETURN(int h, Half(x));
  SLUICE_ASSIGN_OR_RETURN(*out, Half(h));
  return Status::Ok();
}

TEST(StatusTest, ErrorKeepsCodeAndMessage) {
  Status st = Status::Corruption("bad crc");
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kCorruption);
  EXPECT_EQ(st.ToString(), "corruption: bad crc");
}

TEST(StatusTest, FromErrnoNamesTheCause) {
  Status st = Status::FromErrno("open /x", ENOENT);
  EXPECT_EQ(st.code(), StatusCode::kIoError);
  EXPECT_NE(st.message().find("No such file"), std::string::npos);
}

TEST(ResultTest, AssignOrReturnPropagatesTheFirstError) {
  int out = 0;
  EXPECT_TRUE(Quarter(8, &out).ok());
  EXPECT_EQ(out, 2);
  Status st = Quarter(6, &out);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
}

TEST(ResultDeathTest, ValueOfAnErrorAborts) {
  Result<int> r = Status::Internal("x");
  EXPECT_DEATH((void)r.value(), "check failed");
}

}  // namespace
}  // namespace sluice
