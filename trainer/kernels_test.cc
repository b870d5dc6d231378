#include "trainer/kernels.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "trainer/matrix_test_util.h"

namespace lockstep::trainer {
namespace {

std::vector<float> Random(std::size_t n, std::uint64_t salt) {
  return RandomMatrix(n, salt, "test/kernels");
}

// The portable profile's promise, spelled out as the plainest loop: each
// output is fma(a_k, b_k, acc) from +0 in k order (trainer/gemm.h).
std::vector<float> Sequential(const std::vector<float>& a, const std::vector<float>& b,
                              std::size_t m, std::size_t k, std::size_t n, char form) {
  std::vector<float> c(m * n);
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      float acc = 0;
      for (std::size_t p = 0; p < k; ++p) {
        float av = form == 'T' ? a[p * m + i] : a[i * k + p];
        float bv = form == 'N' ? b[j * k + p] : b[p * n + j];  // 'N' here marks NT
        acc = std::fma(av, bv, acc);
      }
      c[i * n + j] = acc;
    }
  }
  return c;
}

struct Shape {
  std::size_t m, k, n;
};
const Shape kShapes[] = {{1, 1, 1}, {5, 3, 7}, {64, 64, 192}, {37, 129, 300}, {128, 17, 513}};

bool SameBits(const std::vector<float>& x, const std::vector<float>& y) {
  return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
}

TEST(KernelsTest, PortableEqualsTheSequentialLoopBitForBit) {
  MemoryTracker tracker;
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    Kernels<float> k(pool, Profile::kPortable, tracker);
    for (const Shape& s : kShapes) {
      auto a = Random(s.m * s.k, 1), b = Random(s.k * s.n, 2);
      std::vector<float> c(s.m * s.n);
      k.NN(a.data(), b.data(), c.data(), s.m, s.k, s.n);
      EXPECT_TRUE(SameBits(c, Sequential(a, b, s.m, s.k, s.n, 'P')))
          << "NN " << s.m << "x" << s.k << "x" << s.n;
      k.NT(a.data(), b.data(), c.data(), s.m, s.k, s.n);  // b read as [n, k]
      EXPECT_TRUE(SameBits(c, Sequential(a, b, s.m, s.k, s.n, 'N'))) << "NT";
      auto at = Random(s.k * s.m, 3);  // a read as [k, m]
      k.TN(at.data(), b.data(), c.data(), s.m, s.k, s.n);
      EXPECT_TRUE(SameBits(c, Sequential(at, b, s.m, s.k, s.n, 'T'))) << "TN";
    }
  }
}

TEST(KernelsTest, OpenBlasIsThreadCountInvariantAndAccurate) {
  MemoryTracker tracker;
  std::vector<std::vector<float>> first;
  for (int threads : {1, 2, 4}) {
    ThreadPool pool(threads);
    Kernels<float> k(pool, Profile::kOpenBlas, tracker);
    std::vector<std::vector<float>> results;
    for (const Shape& s : kShapes) {
      auto a = Random(s.m * s.k, 4), b = Random(s.k * s.n, 5);
      std::vector<float> c(s.m * s.n);
      for (char form : {'P', 'N', 'T'}) {
        if (form == 'P') k.NN(a.data(), b.data(), c.data(), s.m, s.k, s.n);
        if (form == 'N') k.NT(a.data(), b.data(), c.data(), s.m, s.k, s.n);
        if (form == 'T') k.TN(a.data(), b.data(), c.data(), s.m, s.k, s.n);
        auto ref = Sequential(a, b, s.m, s.k, s.n, form);
        for (std::size_t i = 0; i < c.size(); ++i) {
          ASSERT_NEAR(c[i], ref[i], 1e-4 * (1 + std::abs(ref[i])) * static_cast<double>(s.k));
        }
        results.push_back(c);
      }
    }
    if (first.empty()) {
      first = results;
    } else {
      for (std::size_t r = 0; r < results.size(); ++r) {
        EXPECT_TRUE(SameBits(results[r], first[r])) << threads << " threads, product " << r;
      }
    }
  }
}

TEST(KernelsTest, WorkspaceIsTracked) {
  MemoryTracker tracker;
  ThreadPool pool(1);
  Kernels<float> k(pool, Profile::kPortable, tracker);
  auto a = Random(4 * 8, 1), b = Random(16 * 8, 2);
  std::vector<float> c(4 * 16);
  EXPECT_EQ(tracker.current(), 0u);
  k.NT(a.data(), b.data(), c.data(), 4, 8, 16);
  const std::size_t packed = GemmWorkspaceSize(4, 8, 16) * sizeof(float);
  EXPECT_GE(packed, (4u + 16u) * 8u * sizeof(float));  // A and B, padded
  EXPECT_EQ(tracker.current(), packed);
  k.NN(a.data(), b.data(), c.data(), 2, 8, 16);  // smaller: reused
  EXPECT_EQ(tracker.peak(), packed);
}

// The tracked peak is a recorded field: it must not depend on the code path.
TEST(KernelsTest, WorkspaceIsTheSameOnEveryCodePath) {
  ThreadPool pool(1);
  auto a = Random(37 * 129, 1), b = Random(129 * 300, 2);
  std::vector<float> c(37 * 300);
  for (Isa isa : RunnableIsas()) {
    MemoryTracker tracker;
    Kernels<float> k(pool, Profile::kPortable, tracker, Precision::kFp32, 0, isa);
    k.NN(a.data(), b.data(), c.data(), 37, 129, 300);
    EXPECT_EQ(tracker.peak(), GemmWorkspaceSize(37, 129, 300) * sizeof(float)) << IsaName(isa);
  }
}

std::vector<float> Rounded(std::vector<float> x) {
  for (float& v : x) v = RoundToBf16(v);
  return x;
}

// compute = bf16 is "round both inputs, then the fp32 product": the same bits
// as the fp32 kernel on rounded copies, in both profiles, with any thread
// count, and the caller's inputs untouched.
TEST(KernelsTest, Bf16ComputeIsTheFp32ProductOfRoundedInputs) {
  MemoryTracker tracker;
  for (Profile profile : {Profile::kPortable, Profile::kOpenBlas}) {
    for (int threads : {1, 2}) {
      ThreadPool pool(threads);
      Kernels<float> bf16(pool, profile, tracker, Precision::kBf16);
      Kernels<float> fp32(pool, profile, tracker);
      EXPECT_EQ(bf16.compute(), Precision::kBf16);
      EXPECT_EQ(fp32.compute(), Precision::kFp32);
      for (const Shape& s : kShapes) {
        const auto a = Random(s.m * s.k, 6), b = Random(s.k * s.n, 7);
        const auto a16 = Rounded(a), b16 = Rounded(b);
        std::vector<float> c(s.m * s.n), want(s.m * s.n), plain(s.m * s.n);
        for (char form : {'P', 'N', 'T'}) {
          auto run = [&](Kernels<float>& k, const std::vector<float>& x,
                         const std::vector<float>& y, std::vector<float>& out) {
            if (form == 'P') k.NN(x.data(), y.data(), out.data(), s.m, s.k, s.n);
            if (form == 'N') k.NT(x.data(), y.data(), out.data(), s.m, s.k, s.n);
            if (form == 'T') k.TN(x.data(), y.data(), out.data(), s.m, s.k, s.n);
          };
          run(bf16, a, b, c);
          run(fp32, a16, b16, want);
          EXPECT_TRUE(SameBits(c, want)) << ProfileName(profile) << " " << form << " " << s.m << "x"
                                         << s.k << "x" << s.n << ", " << threads << " threads";
          run(fp32, a, b, plain);
          if (s.k > 1) {
            EXPECT_FALSE(SameBits(c, plain)) << "rounding changed nothing";
          }
        }
        EXPECT_TRUE(SameBits(a, Random(s.m * s.k, 6)) && SameBits(b, Random(s.k * s.n, 7)));
      }
    }
  }
}

TEST(KernelsTest, Bf16CopiesAreTrackedAndOnlyInBf16) {
  MemoryTracker tracker;
  ThreadPool pool(1);
  auto a = Random(4 * 8, 1), b = Random(8 * 16, 2);
  std::vector<float> c(4 * 16);
  {
    Kernels<float> k(pool, Profile::kOpenBlas, tracker);
    k.NN(a.data(), b.data(), c.data(), 4, 8, 16);
    EXPECT_EQ(tracker.current(), 0u);
  }
  Kernels<float> k(pool, Profile::kOpenBlas, tracker, Precision::kBf16);
  k.NN(a.data(), b.data(), c.data(), 4, 8, 16);
  EXPECT_EQ(tracker.current(), (4u * 8u + 8u * 16u) * sizeof(float));
  k.NN(a.data(), b.data(), c.data(), 2, 8, 16);  // smaller: the copies are reused
  EXPECT_EQ(tracker.current(), (4u * 8u + 8u * 16u) * sizeof(float));
  EXPECT_EQ(tracker.peak(), (4u * 8u + 8u * 16u) * sizeof(float));
}

TEST(KernelsTest, Bf16ComputeIsForFloatOnly) {
  MemoryTracker tracker;
  ThreadPool pool(1);
  EXPECT_THROW(Kernels<double>(pool, Profile::kPortable, tracker, Precision::kBf16),
               std::invalid_argument);
}

}  // namespace
}  // namespace lockstep::trainer
