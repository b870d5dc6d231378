// TrackedBuffer and MemoryTracker: every tensor the trainer holds is a
// TrackedBuffer, so the tracker's peak is the exact high-water mark of the
// trainer's own memory. It depends only on the config, never on the machine:
// the `mem_peak_bytes` of the record stream. A change that keeps activations
// alive longer, or allocates a workspace twice, shows up as a new number.
#ifndef LOCKSTEP_TRAINER_MEMORY_H_
#define LOCKSTEP_TRAINER_MEMORY_H_

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>
#include <span>
#include <utility>

namespace lockstep::trainer {

class MemoryTracker {
 public:
  void Add(std::size_t bytes) {
    current_ += bytes;
    if (current_ > peak_) peak_ = current_;
  }
  void Remove(std::size_t bytes) { current_ -= bytes; }
  std::size_t current() const { return current_; }
  std::size_t peak() const { return peak_; }
  // Starts a new high-water mark at the current level (called per step).
  void ResetPeak() { peak_ = current_; }

 private:
  std::size_t current_ = 0;
  std::size_t peak_ = 0;
};

// A zero-initialised, 64-byte aligned array of T counted by a MemoryTracker.
// Allocation happens on the main thread only; the tracker is not atomic.
template <typename T>
class TrackedBuffer {
 public:
  TrackedBuffer() = default;
  TrackedBuffer(MemoryTracker& tracker, std::size_t count) : tracker_(&tracker), count_(count) {
    if (count_ == 0) return;
    std::size_t bytes = (count_ * sizeof(T) + 63) / 64 * 64;
    data_ = static_cast<T*>(std::aligned_alloc(64, bytes));
    if (data_ == nullptr) throw std::bad_alloc();
    std::memset(static_cast<void*>(data_), 0, bytes);
    tracker_->Add(count_ * sizeof(T));
  }
  TrackedBuffer(TrackedBuffer&& o) noexcept
      : tracker_(o.tracker_),
        data_(std::exchange(o.data_, nullptr)),
        count_(std::exchange(o.count_, 0)) {}
  TrackedBuffer& operator=(TrackedBuffer&& o) noexcept {
    if (this != &o) {
      Release();
      tracker_ = o.tracker_;
      data_ = std::exchange(o.data_, nullptr);
      count_ = std::exchange(o.count_, 0);
    }
    return *this;
  }
  TrackedBuffer(const TrackedBuffer&) = delete;
  TrackedBuffer& operator=(const TrackedBuffer&) = delete;
  ~TrackedBuffer() { Release(); }

  T* data() { return data_; }
  const T* data() const { return data_; }
  std::size_t size() const { return count_; }
  T& operator[](std::size_t i) { return data_[i]; }
  const T& operator[](std::size_t i) const { return data_[i]; }
  std::span<T> span() { return {data_, count_}; }
  std::span<const T> span() const { return {data_, count_}; }
  void Zero() {
    if (count_) std::memset(static_cast<void*>(data_), 0, count_ * sizeof(T));
  }

 private:
  void Release() {
    if (data_ != nullptr) {
      std::free(data_);
      tracker_->Remove(count_ * sizeof(T));
    }
    data_ = nullptr;
    count_ = 0;
  }
  MemoryTracker* tracker_ = nullptr;
  T* data_ = nullptr;
  std::size_t count_ = 0;
};

}  // namespace lockstep::trainer

#endif  // LOCKSTEP_TRAINER_MEMORY_H_
