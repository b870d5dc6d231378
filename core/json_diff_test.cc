#include "core/json_diff.h"

#include <gtest/gtest.h>

namespace lockstep {
namespace {

TEST(JsonDiffTest, JsonDiffNamesChangedKeys) {
  nlohmann::json a = {{"model", {{"n_layer", 2}, {"norm", "layernorm"}}}, {"x", 1}};
  nlohmann::json b = {{"model", {{"n_layer", 3}, {"norm", "layernorm"}}}, {"y", 1}};
  auto d = JsonDiff(a, b);
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(d[0], "model.n_layer: 2 -> 3");
  EXPECT_EQ(d[1], "x: 1 -> (missing)");
  EXPECT_EQ(d[2], "y: (missing) -> 1");
  EXPECT_TRUE(JsonDiff(a, a).empty());
}

}  // namespace
}  // namespace lockstep
