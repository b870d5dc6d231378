// ReductionTree: the one order in which the gradients (and losses) of a
// global batch are summed, whatever the ranks, micro-batches and threads.
//
// The leaves are the B slots of the global batch, one sequence each. In one
// sentence: every element of the gradient is the sum of the B per-sequence
// gradients in the binary tree over slot indices, where the two halves of
// each aligned block [k 2^h, (k+1) 2^h) are added left + right, and the
// aligned blocks left over when B is not a power of two (one per set bit of
// B, largest first) are added right to left.
//
// Any contiguous run of slots (a rank's block, a micro-batch) is a sequence
// of aligned blocks of that tree, so it can be summed on its own and its
// partial sums handed on (Nodes) to be pushed, in slot order, into the tree
// of whoever continues: the additions, and so the bits, are the same as on
// one process adding slot by slot.
#ifndef LOCKSTEP_TRAINER_REDUCTION_TREE_H_
#define LOCKSTEP_TRAINER_REDUCTION_TREE_H_

#include <cstdint>
#include <vector>

#include "trainer/memory.h"
#include "trainer/thread_pool.h"

namespace lockstep::trainer {

// An aligned block of slots: [first, first + 2^height).
struct SlotBlock {
  std::uint64_t first = 0;
  int height = 0;
  std::uint64_t end() const { return first + (std::uint64_t{1} << height); }
  bool operator==(const SlotBlock&) const = default;
};

// The fewest aligned blocks that make up [begin, end), in slot order (at
// most 2 log2(end - begin) + 2): what a rank holding those slots hands on.
std::vector<SlotBlock> AlignedBlocks(std::uint64_t begin, std::uint64_t end);

class ReductionTree {
 public:
  // Sums of `size` floats (and one double). Buffers for partial sums are
  // allocated from `tracker` as the tree first needs them, and kept.
  ReductionTree(std::size_t size, MemoryTracker& tracker) : size_(size), tracker_(tracker) {}

  // Forgets every partial sum (the buffers stay).
  void Reset() {
    stack_.clear();
    finished_ = false;
  }

  // Adds the sum over `block`, which must start where the previous push
  // ended and be aligned (block.first a multiple of 2^height). `grads` is
  // read, and copied only when the block cannot be merged at once.
  void Push(ThreadPool& pool, const float* grads, double loss, SlotBlock block);
  // As Push, but takes `leaf` over: when the tree must keep the block's sum,
  // it swaps one of its free buffers (same size) with `leaf` instead of
  // copying. `leaf`'s contents are unspecified afterwards.
  void Push(ThreadPool& pool, TrackedBuffer<float>& leaf, double loss, SlotBlock block);
  // As Push, but the tree adds into `grads` itself, which must stay valid and
  // untouched until Reset.
  void PushInPlace(ThreadPool& pool, float* grads, double loss, SlotBlock block);

  // The partial sums not merged yet, in slot order: after pushing the slots
  // [a, b) from a fresh tree, exactly AlignedBlocks(a, b).
  struct Node {
    const float* grads;
    double loss;
    SlotBlock block;
  };
  std::vector<Node> Nodes() const;

  // Adds what remains right to left: the total over every pushed slot (the
  // whole batch once slots 0..B-1 are in). Valid until the next push or Reset.
  const float* Finish(ThreadPool& pool, double* loss);

 private:
  struct Partial {
    float* grads;
    double loss;
    SlotBlock block;
  };
  // Pushes `carry`: merges it with its left siblings on the stack, then
  // keeps it (in place, swapped into a free buffer from `leaf`, or copied).
  void Merge(ThreadPool& pool, Partial carry, bool in_place, TrackedBuffer<float>* leaf);
  TrackedBuffer<float>& FreeBuffer();
  // lefts.back() = lefts.back() + (... + (lefts[0] + right)): a chain of
  // sibling merges, left + right at each level, in one pass over memory.
  void AddChain(ThreadPool& pool, const std::vector<float*>& lefts, const float* right) const;
  void Add(ThreadPool& pool, float* left, const float* right) const;

  std::size_t size_;
  MemoryTracker& tracker_;
  std::vector<TrackedBuffer<float>> buffers_;
  std::vector<Partial> stack_;
  bool finished_ = false;
};

}  // namespace lockstep::trainer

#endif  // LOCKSTEP_TRAINER_REDUCTION_TREE_H_
