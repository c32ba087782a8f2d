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

// A copy is independent of its source: an error handed to several
// callbacks must not lose its message when one of them is done with it.
TEST(StatusTest, CopiesAreIndependentAndOkHasNoMessage) {
  Status original = Status::Unavailable("log is closed");
  Status copy = original;
  Status assigned;
  assigned = copy;
  copy = Status::Ok();
  EXPECT_TRUE(copy.ok());
  EXPECT_EQ(copy.code(), StatusCode::kOk);
  EXPECT_EQ(copy.message(), "");
  EXPECT_EQ(original.ToString(), "unavailable: log is closed");
  EXPECT_EQ(assigned.ToString(), "unavailable: log is closed");
  assigned = assigned;  // self-assignment keeps the error
  EXPECT_EQ(assigned.message(), "log is closed");
  EXPECT_EQ(Status::Ok().ToString(), "ok");
}

TEST(StatusTest, FromErrnoNamesTheCause) {
  Status st = Status::FromErrno("open /x", ENOENT);
  EXPECT_EQ(st.code(), StatusCode::kIoError);
  EXPECT_NE(st.message().find("No such file"), std::string::npos);
}

// The errno is what tells a full disk from a failing one; a status handed
// on by copy or move must not lose it.
TEST(StatusTest, FromErrnoKeepsTheErrnoThroughCopiesAndMoves) {
  Status st = Status::FromErrno("write /x", ENOSPC);
  EXPECT_EQ(st.os_error(), ENOSPC);
  Status copy = st;
  EXPECT_EQ(copy.os_error(), ENOSPC);
  Status moved = std::move(copy);
  EXPECT_EQ(moved.os_error(), ENOSPC);
  Status assigned = Status::Internal("x");
  assigned = moved;
  EXPECT_EQ(assigned.os_error(), ENOSPC);
  EXPECT_EQ(Status::IoError("write /x: No space left on device").os_error(), 0);
  EXPECT_EQ(Status::Ok().os_error(), 0);
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
