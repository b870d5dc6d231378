#include "trainer/gemm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "trainer/matrix_test_util.h"

namespace lockstep::trainer {
namespace {

std::vector<float> Random(std::size_t n, std::uint64_t salt) {
  return RandomMatrix(n, salt, "test/gemm");
}

// gemm.h's definition as the plainest loop: one accumulator per output, from
// +0, one std::fma per k in order.
template <bool kFused>
std::vector<float> Reference(const float* a, Strides as, const float* b, Strides bs, std::size_t m,
                             std::size_t k, std::size_t n) {
  std::vector<float> c(m * n);
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      float acc = 0.0f;
      for (std::size_t p = 0; p < k; ++p) {
        const float x = a[i * as.row + p * as.col], y = b[p * bs.row + j * bs.col];
        if constexpr (kFused) {
          acc = std::fma(x, y, acc);
        } else {
          const float product = x * y;
          acc = acc + product;
        }
      }
      c[i * n + j] = acc;
    }
  }
  return c;
}

bool SameBits(const std::vector<float>& x, const std::vector<float>& y) {
  return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
}

struct Shape {
  std::size_t m, k, n;
};
// Odd sizes around every tile (4, 6, 8, 12, 16, 32), the 96-row block and the
// 256-deep K block, so edges, partial tiles and the K continuation all run.
const Shape kShapes[] = {{1, 1, 1},     {3, 17, 5},    {17, 3, 33},   {7, 255, 19},
                         {97, 257, 31}, {13, 600, 47}, {255, 64, 257}};

// The forms Kernels uses, as strides over the same buffers: NN, NT (B stored
// [N,K]) and TN (A stored [K,M]).
struct Form {
  const char* name;
  bool a_transposed, b_transposed;
};
const Form kForms[] = {{"NN", false, false}, {"NT", false, true}, {"TN", true, false}};

TEST(GemmTest, EveryCodePathEqualsTheFmaLoopBitForBit) {
  MemoryTracker tracker;
  for (Isa isa : RunnableIsas()) {
    for (int threads : {1, 2, 3}) {
      ThreadPool pool(threads);
      TrackedBuffer<float> workspace;
      for (const Shape& s : kShapes) {
        const auto a = Random(s.m * s.k, 1), b = Random(s.k * s.n, 2);
        for (const Form& f : kForms) {
          const Strides as = f.a_transposed ? Strides{1, s.m} : Strides{s.k, 1};
          const Strides bs = f.b_transposed ? Strides{1, s.k} : Strides{s.n, 1};
          std::vector<float> c(s.m * s.n, 7.0f);  // overwritten, not added to
          Gemm<float>(isa, pool, workspace, tracker, a.data(), as, b.data(), bs, c.data(), s.m, s.k,
                      s.n);
          EXPECT_TRUE(SameBits(c, Reference<true>(a.data(), as, b.data(), bs, s.m, s.k, s.n)))
              << IsaName(isa) << " " << f.name << " " << s.m << "x" << s.k << "x" << s.n
              << ", threads " << threads;
        }
      }
    }
  }
}

// The comparison above can tell FMA from a separate multiply and add: on these
// inputs the two orders give different bits.
TEST(GemmTest, TheFmaLoopDiffersFromMultiplyThenAdd) {
  const Shape s = {97, 257, 31};
  const auto a = Random(s.m * s.k, 1), b = Random(s.k * s.n, 2);
  const Strides as{s.k, 1}, bs{s.n, 1};
  EXPECT_FALSE(SameBits(Reference<true>(a.data(), as, b.data(), bs, s.m, s.k, s.n),
                        Reference<false>(a.data(), as, b.data(), bs, s.m, s.k, s.n)));
}

TEST(GemmTest, DoubleRunsTheScalarPath) {
  MemoryTracker tracker;
  ThreadPool pool(2);
  TrackedBuffer<double> workspace;
  const std::size_t m = 5, k = 300, n = 9;
  std::vector<double> a(m * k), b(k * n), c(m * n);
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = 1.0 / double(i + 3);
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = 1.0 / double(i + 7);
  Gemm<double>(Isa::kScalar, pool, workspace, tracker, a.data(), {k, 1}, b.data(), {n, 1}, c.data(),
               m, k, n);
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      double acc = 0;
      for (std::size_t p = 0; p < k; ++p) acc = std::fma(a[i * k + p], b[p * n + j], acc);
      ASSERT_EQ(c[i * n + j], acc) << i << "," << j;
    }
  }
}

TEST(GemmTest, EmptyProductsLeaveZeros) {
  MemoryTracker tracker;
  ThreadPool pool(1);
  TrackedBuffer<float> workspace;
  std::vector<float> c(6, 7.0f);
  Gemm<float>(WidestIsa(), pool, workspace, tracker, nullptr, {0, 1}, nullptr, {3, 1}, c.data(), 2,
              0, 3);
  EXPECT_EQ(c, std::vector<float>(6, 0.0f));
}

class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_.empty()) {
      unsetenv(name_);
    } else {
      setenv(name_, old_.c_str(), 1);
    }
  }

 private:
  const char* name_;
  std::string old_;
};

TEST(GemmTest, PortableIsaFollowsTheEnvironment) {
  {
    ScopedEnv env("LOCKSTEP_PORTABLE_ISA", nullptr);
    Result<Isa> isa = PortableIsa();
    ASSERT_TRUE(isa.ok());
    EXPECT_EQ(*isa, WidestIsa());
  }
  for (Isa runnable : RunnableIsas()) {
    ScopedEnv env("LOCKSTEP_PORTABLE_ISA", IsaName(runnable));
    Result<Isa> isa = PortableIsa();
    ASSERT_TRUE(isa.ok()) << IsaName(runnable);
    EXPECT_EQ(*isa, runnable);
  }
  ScopedEnv env("LOCKSTEP_PORTABLE_ISA", "avx9000");
  Result<Isa> isa = PortableIsa();
  ASSERT_FALSE(isa.ok());
  EXPECT_NE(isa.status().message().find("avx9000"), std::string::npos);
  EXPECT_NE(isa.status().message().find("scalar"), std::string::npos);  // the choices
}

}  // namespace
}  // namespace lockstep::trainer
