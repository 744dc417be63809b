// Integers beyond 2^53 reach JavaScript as exact strings (issue 10, item 9).
#include "common/safe_integers.h"

#include <gtest/gtest.h>

namespace cdc {
namespace {

TEST(SafeIntegers, OnlyIntegersBeyondTwoToThe53AreQuoted) {
  EXPECT_EQ(quote_unsafe_integers(R"({"id":9007199254740993,"n":9007199254740991,"m":-9007199254740992})"),
            R"({"id":"9007199254740993","n":9007199254740991,"m":"-9007199254740992"})");
  EXPECT_EQ(quote_unsafe_integers(R"({"a":[12345678901234567890,1.5e300,0.1],"s":"99999999999999999999"})"),
            R"({"a":["12345678901234567890",1.5e300,0.1],"s":"99999999999999999999"})");
  EXPECT_EQ(quote_unsafe_integers(R"({"e":"\"12345678901234567890\\","x":1})"), R"({"e":"\"12345678901234567890\\","x":1})");
  EXPECT_EQ(quote_unsafe_integers("{}"), "{}");
  EXPECT_FALSE(beyond_safe_integer("9007199254740991"));
  EXPECT_TRUE(beyond_safe_integer("9007199254740992"));
  EXPECT_FALSE(beyond_safe_integer("90071992547409920.5"));
}

}  // namespace
}  // namespace cdc
