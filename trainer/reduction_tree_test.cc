#include "trainer/reduction_tree.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/counter_rng.h"

namespace lockstep::trainer {
namespace {

TEST(AlignedBlocksTest, CutsARangeIntoTheTreesBlocks) {
  using V = std::vector<SlotBlock>;
  EXPECT_EQ(AlignedBlocks(0, 12), (V{{0, 3}, {8, 2}}));
  EXPECT_EQ(AlignedBlocks(1, 4), (V{{1, 0}, {2, 1}}));
  EXPECT_EQ(AlignedBlocks(5, 8), (V{{5, 0}, {6, 1}}));
  EXPECT_EQ(AlignedBlocks(3, 13), (V{{3, 0}, {4, 2}, {8, 2}, {12, 0}}));
  EXPECT_EQ(AlignedBlocks(7, 7), V{});
}

constexpr std::size_t kWidth = 5;

// Leaves whose sums depend on the order of addition: magnitudes from 2^-20 to 2^20.
std::vector<std::vector<float>> Leaves(std::size_t count) {
  CounterRng rng(7, "reduction_tree_test");
  std::vector<std::vector<float>> leaves(count, std::vector<float>(kWidth));
  for (std::size_t s = 0; s < count; ++s) {
    for (std::size_t i = 0; i < kWidth; ++i) {
      const std::uint64_t bits = rng.Bits(s * kWidth + i);
      const double mantissa = static_cast<double>(bits >> 40) * 0x1p-24 + 1.0;
      const int exponent = static_cast<int>((bits >> 8) % 41) - 20;
      leaves[s][i] = static_cast<float>((bits & 1 ? -1 : 1) * std::ldexp(mantissa, exponent));
    }
  }
  return leaves;
}

struct Sum {
  std::vector<float> grads;
  double loss = 0;
};

Sum OneProcess(const std::vector<std::vector<float>>& leaves) {
  ThreadPool pool(1);
  MemoryTracker tracker;
  ReductionTree tree(kWidth, tracker);
  for (std::size_t s = 0; s < leaves.size(); ++s) {
    tree.Push(pool, leaves[s].data(), static_cast<double>(leaves[s][0]), {s, 0});
  }
  Sum sum;
  const float* g = tree.Finish(pool, &sum.loss);
  sum.grads.assign(g, g + kWidth);
  return sum;
}

// `ranks` contiguous blocks of slots, as the trainer cuts them, each summed on
// its own tree (by `threads` threads); their nodes go to a second tree in rank order.
Sum ManyRanks(const std::vector<std::vector<float>>& leaves, std::size_t ranks, int threads) {
  ThreadPool pool(threads);
  MemoryTracker tracker;
  ReductionTree combined(kWidth, tracker);
  std::vector<std::vector<float>> received;  // the combining tree adds into these
  received.reserve(2 * leaves.size());
  const std::size_t B = leaves.size();
  for (std::size_t r = 0; r < ranks; ++r) {
    const std::size_t begin = B * r / ranks, end = B * (r + 1) / ranks;
    ReductionTree mine(kWidth, tracker);
    for (std::size_t s = begin; s < end; ++s) {
      mine.Push(pool, leaves[s].data(), static_cast<double>(leaves[s][0]), {s, 0});
    }
    std::vector<SlotBlock> blocks;
    for (const ReductionTree::Node& node : mine.Nodes()) {
      blocks.push_back(node.block);
      received.emplace_back(node.grads, node.grads + kWidth);
      combined.PushInPlace(pool, received.back().data(), node.loss, node.block);
    }
    EXPECT_EQ(blocks, AlignedBlocks(begin, end)) << "rank " << r << " of " << ranks;
  }
  Sum sum;
  const float* g = combined.Finish(pool, &sum.loss);
  sum.grads.assign(g, g + kWidth);
  return sum;
}

TEST(ReductionTreeTest, AnyRankCountGivesTheBitsOfOneProcess) {
  bool order_matters = false;
  for (std::size_t B = 1; B <= 24; ++B) {
    const auto leaves = Leaves(B);
    const Sum one = OneProcess(leaves);
    std::vector<float> in_order(kWidth, 0.0f);
    for (const auto& leaf : leaves) {
      for (std::size_t i = 0; i < kWidth; ++i) in_order[i] += leaf[i];
    }
    order_matters = order_matters || in_order != one.grads;
    for (std::size_t ranks = 1; ranks <= B; ++ranks) {
      const Sum many = ManyRanks(leaves, ranks, ranks % 2 == 0 ? 3 : 1);
      ASSERT_EQ(std::memcmp(one.grads.data(), many.grads.data(), kWidth * sizeof(float)), 0)
          << B << " slots on " << ranks << " ranks";
      ASSERT_EQ(std::memcmp(&one.loss, &many.loss, sizeof(double)), 0)
          << B << " slots on " << ranks << " ranks";
    }
  }
  // The leaves are such that another order of addition gives other bits.
  EXPECT_TRUE(order_matters);
}

TEST(ReductionTreeTest, KeepsOnlyTheBuffersTheTreeNeeds) {
  ThreadPool pool(1);
  MemoryTracker tracker;
  ReductionTree tree(kWidth, tracker);
  const auto leaves = Leaves(64);
  for (std::size_t s = 0; s < 64; ++s) tree.Push(pool, leaves[s].data(), 0, {s, 0});
  double loss = 0;
  tree.Finish(pool, &loss);
  // A leaf is copied only while it waits for its right sibling: one buffer
  // per level of the tree, 6 for 64 slots.
  EXPECT_EQ(tracker.peak(), 6 * kWidth * sizeof(float));
}

// The trainer hands the tree its gradient buffer (the tree swaps it for a
// free one instead of copying): the same bits, and no more memory than the
// tree's own buffers plus the one leaf.
TEST(ReductionTreeTest, TakingLeafBuffersOverGivesTheBitsOfCopyingThem) {
  for (std::size_t B : {1, 5, 12, 16}) {
    const auto leaves = Leaves(B);
    const Sum copied = OneProcess(leaves);
    ThreadPool pool(2);
    MemoryTracker tracker;
    ReductionTree tree(kWidth, tracker);
    TrackedBuffer<float> leaf(tracker, kWidth);
    for (std::size_t s = 0; s < B; ++s) {
      std::copy(leaves[s].begin(), leaves[s].end(), leaf.data());  // as Backward overwrites it
      tree.Push(pool, leaf, static_cast<double>(leaves[s][0]), {s, 0});
    }
    Sum taken;
    const float* g = tree.Finish(pool, &taken.loss);
    taken.grads.assign(g, g + kWidth);
    EXPECT_EQ(std::memcmp(copied.grads.data(), taken.grads.data(), kWidth * sizeof(float)), 0) << B;
    EXPECT_EQ(copied.loss, taken.loss) << B;
    const std::size_t levels = static_cast<std::size_t>(std::bit_width(B - 1)) + (B == 1);
    EXPECT_LE(tracker.peak(), (levels + 1) * kWidth * sizeof(float)) << B;
  }
}

TEST(ReductionTreeDeathTest, RefusesABlockThatWouldChangeTheTree) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");  // the pool has started a thread
  ThreadPool pool(1);
  MemoryTracker tracker;
  ReductionTree tree(kWidth, tracker);
  const auto leaves = Leaves(4);
  EXPECT_DEATH(tree.Push(pool, leaves[0].data(), 0, {1, 1}), "");  // not aligned
  tree.Push(pool, leaves[0].data(), 0, {0, 0});
  EXPECT_DEATH(tree.Push(pool, leaves[2].data(), 0, {2, 0}), "");  // slot 1 skipped
}

}  // namespace
}  // namespace lockstep::trainer
