#include "trainer/reduction_tree.h"

#include <algorithm>
#include <bit>
#include <cstdlib>

namespace lockstep::trainer {
namespace {

// `left` and `right` are the two halves of one aligned block of the tree.
bool Siblings(const SlotBlock& left, const SlotBlock& right) {
  return left.height == right.height && left.end() == right.first &&
         ((left.first >> left.height) & 1) == 0;
}

}  // namespace

std::vector<SlotBlock> AlignedBlocks(std::uint64_t begin, std::uint64_t end) {
  std::vector<SlotBlock> blocks;
  while (begin < end) {
    // The largest block that starts at `begin`, is aligned there, and fits.
    int height = begin == 0 ? 63 : std::countr_zero(begin);
    while ((std::uint64_t{1} << height) > end - begin) --height;
    blocks.push_back({begin, height});
    begin += std::uint64_t{1} << height;
  }
  return blocks;
}

void ReductionTree::Push(ThreadPool& pool, const float* grads, double loss, SlotBlock block) {
  Merge(pool, {const_cast<float*>(grads), loss, block}, false, nullptr);
}

void ReductionTree::Push(ThreadPool& pool, TrackedBuffer<float>& leaf, double loss,
                         SlotBlock block) {
  if (leaf.size() != size_) std::abort();  // a caller bug: the swap would change the sizes
  Merge(pool, {leaf.data(), loss, block}, false, &leaf);
}

void ReductionTree::PushInPlace(ThreadPool& pool, float* grads, double loss, SlotBlock block) {
  Merge(pool, {grads, loss, block}, true, nullptr);
}

void ReductionTree::Merge(ThreadPool& pool, Partial carry, bool in_place,
                          TrackedBuffer<float>* leaf) {
  const bool aligned = carry.block.first % (std::uint64_t{1} << carry.block.height) == 0;
  const bool contiguous = stack_.empty() || stack_.back().block.end() == carry.block.first;
  if (!aligned || !contiguous || finished_) std::abort();  // a caller bug: the tree would change
  std::vector<float*> lefts;                               // the left siblings, lowest level first
  const float* right = carry.grads;
  while (!stack_.empty() && Siblings(stack_.back().block, carry.block)) {
    const Partial left = stack_.back();
    stack_.pop_back();
    lefts.push_back(left.grads);
    carry = {left.grads, left.loss + carry.loss, {left.block.first, carry.block.height + 1}};
  }
  if (!lefts.empty()) {
    AddChain(pool, lefts, right);  // the sum lives in the highest left sibling's buffer
  } else if (!in_place) {
    TrackedBuffer<float>& mine = FreeBuffer();
    if (leaf != nullptr) {
      std::swap(mine, *leaf);
    } else {
      std::copy(carry.grads, carry.grads + size_, mine.data());
    }
    carry.grads = mine.data();
  }
  stack_.push_back(carry);
}

std::vector<ReductionTree::Node> ReductionTree::Nodes() const {
  std::vector<Node> nodes;
  for (const Partial& p : stack_) nodes.push_back({p.grads, p.loss, p.block});
  return nodes;
}

const float* ReductionTree::Finish(ThreadPool& pool, double* loss) {
  if (stack_.empty()) std::abort();  // nothing was pushed
  while (stack_.size() > 1) {
    Partial right = stack_.back();
    stack_.pop_back();
    Add(pool, stack_.back().grads, right.grads);
    stack_.back().loss += right.loss;
  }
  finished_ = true;  // the sum is no block of the tree: nothing may merge into it
  *loss = stack_.back().loss;
  return stack_.back().grads;
}

TrackedBuffer<float>& ReductionTree::FreeBuffer() {
  for (auto& b : buffers_) {
    bool used = false;
    for (const Partial& p : stack_) used = used || p.grads == b.data();
    if (!used) return b;
  }
  buffers_.emplace_back(tracker_, size_);
  return buffers_.back();
}

void ReductionTree::AddChain(ThreadPool& pool, const std::vector<float*>& lefts,
                             const float* right) const {
  constexpr std::size_t kBlock = 2048;  // in L1: the chain's intermediate sums stay there
  pool.ParallelFor((size_ + kBlock - 1) / kBlock, kBlock * (lefts.size() + 2),
                   [&](std::size_t begin, std::size_t end) {
                     float sum[kBlock];
                     for (std::size_t b = begin; b < end; ++b) {
                       const std::size_t at = b * kBlock, n = std::min(kBlock, size_ - at);
                       std::copy(right + at, right + at + n, sum);
                       for (const float* left : lefts) {
                         for (std::size_t i = 0; i < n; ++i) sum[i] = left[at + i] + sum[i];
                       }
                       std::copy(sum, sum + n, lefts.back() + at);
                     }
                   });
}

void ReductionTree::Add(ThreadPool& pool, float* left, const float* right) const {
  pool.ParallelFor(size_, 1, [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) left[i] = left[i] + right[i];
  });
}

}  // namespace lockstep::trainer
