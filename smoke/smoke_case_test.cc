#include "smoke/smoke_case.h"

#include <algorithm>

#include "smoke/suite.h"

#include <gtest/gtest.h>

#include "core/atomic_file.h"
#include "core/test_util.h"

namespace lockstep::smoke {
namespace {

using ::lockstep::testing::Contains;
using ::lockstep::testing::FreshTempDir;

TEST(SmokeCaseTest, ReadsAShippedCaseWithPathsResolved) {
  Result<SmokeCase> c = LoadSmokeCase(LOCKSTEP_SOURCE_DIR "/smoke/cases/tiny.toml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->name, "tiny");
  EXPECT_FALSE(c->external());
  EXPECT_TRUE(Contains(c->config, "trainer/configs/smoke.toml"));
  EXPECT_TRUE(Contains(c->golden, "golden/cases/tiny.toml"));
  EXPECT_EQ(c->steps, 50);
}

TEST(SmokeCaseTest, PoliciesAndExternalCommands) {
  auto dir = FreshTempDir();
  std::string path = (dir / "ext.toml").string();
  ASSERT_TRUE(WriteFileAtomically(path, R"(
command = ["python3", "train.py"]
parser = "megatron"
golden = "g.toml"
steps = 10
[policy]
loss = { rtol = 1e-3, atol = 0 }
grad_norm = { ulps = 4 }
step_ms = "ignore"
)").ok());
  Result<SmokeCase> c = LoadSmokeCase(path);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_TRUE(c->external());
  EXPECT_EQ(c->golden, (dir / "g.toml").string());
  EXPECT_EQ(c->policies.For("loss").kind, golden::MetricPolicy::Kind::kTolerance);
  EXPECT_EQ(c->policies.For("grad_norm").ulps, 4);
  EXPECT_EQ(c->policies.For("param_digest").kind, golden::MetricPolicy::Kind::kExact);
}

TEST(SmokeCaseTest, BadCasesNameTheFileAndTheFix) {
  auto dir = FreshTempDir();
  auto error = [&](const std::string& text) {
    std::string path = (dir / "bad.toml").string();
    EXPECT_TRUE(WriteFileAtomically(path, text).ok());
    Result<SmokeCase> c = LoadSmokeCase(path);
    EXPECT_FALSE(c.ok());
    EXPECT_EQ(c.status().exit_code(), 2);
    EXPECT_TRUE(Contains(c.status().message(), "bad.toml"));
    return c.status().message();
  };
  EXPECT_TRUE(Contains(error("config = \"missing.toml\"\ngolden = \"g.toml\"\n"), "does not exist"));
  EXPECT_TRUE(Contains(error("golden = \"g.toml\"\n"), "give either `config"));
  EXPECT_TRUE(Contains(error("command = [\"x\"]\n"), "no `golden"));
  EXPECT_TRUE(Contains(error("command = [\"x\"]\ngolden = \"g\"\nstpes = 3\n"), "unknown key \"stpes\""));
  EXPECT_TRUE(Contains(error("command = [\"x\"]\ngolden = \"g\"\n[policy]\nloss = \"close\"\n"),
                       "policy.loss"));
}

}  // namespace
}  // namespace lockstep::smoke

namespace lockstep::smoke {
namespace {

TEST(CaseCommandTest, TrainerCasesRunLockstepTrainAndRanksGoThroughMpirun) {
  Result<SmokeCase> c = LoadSmokeCase(LOCKSTEP_SOURCE_DIR "/smoke/cases/tiny-threads.toml");
  ASSERT_TRUE(c.ok());
  SmokeOptions o;
  o.lockstep_binary = "/bin/lockstep";
  std::vector<std::string> argv = CaseCommand(*c, o, "/tmp/r.jsonl");
  ASSERT_GE(argv.size(), 4u);
  EXPECT_EQ(argv[0], "/bin/lockstep");
  EXPECT_EQ(argv[1], "train");
  EXPECT_NE(std::find(argv.begin(), argv.end(), "numerics.threads=2"), argv.end());
  EXPECT_EQ(argv.back(), "/tmp/r.jsonl");

  SmokeCase ext;
  ext.command = {"python3", "train.py"};
  ext.world_size = 8;
  argv = CaseCommand(ext, o, "");
  ASSERT_GE(argv.size(), 5u);
  EXPECT_EQ(argv[0], "mpirun");
  EXPECT_EQ(argv[2], "8");
  EXPECT_NE(std::find(argv.begin(), argv.end(), "--oversubscribe"), argv.end());  // 8 ranks > cores here
  EXPECT_EQ(argv[argv.size() - 2], "python3");
}

}  // namespace
}  // namespace lockstep::smoke
