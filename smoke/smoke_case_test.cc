#include "smoke/smoke_case.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "core/atomic_file.h"
#include "core/test_util.h"
#include "smoke/suite.h"

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
)")
                  .ok());
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
  EXPECT_TRUE(
      Contains(error("config = \"missing.toml\"\ngolden = \"g.toml\"\n"), "does not exist"));
  EXPECT_TRUE(Contains(error("golden = \"g.toml\"\n"), "give either `config"));
  EXPECT_TRUE(Contains(error("command = [\"x\"]\n"), "no `golden"));
  EXPECT_TRUE(
      Contains(error("command = [\"x\"]\ngolden = \"g\"\nstpes = 3\n"), "unknown key \"stpes\""));
  EXPECT_TRUE(Contains(error("command = [\"x\"]\ngolden = \"g\"\n[policy]\nloss = \"close\"\n"),
                       "policy.loss"));
}

// A value of the wrong type or out of range is refused, never defaulted: a
// thread-invariance case with threads = "2" would otherwise test 1 thread.
TEST(SmokeCaseTest, EveryKeyHasOneTypeAndRange) {
  auto dir = FreshTempDir();
  ASSERT_TRUE(WriteFileAtomically((dir / "c.toml").string(), "[train]\n").ok());
  auto error = [&](const std::string& text) {
    std::string path = (dir / "bad.toml").string();
    EXPECT_TRUE(
        WriteFileAtomically(path, "config = \"c.toml\"\ngolden = \"g.toml\"\n" + text).ok());
    Result<SmokeCase> c = LoadSmokeCase(path);
    EXPECT_FALSE(c.ok()) << text;
    return c.ok() ? std::string() : c.status().message();
  };
  EXPECT_TRUE(Contains(error("threads = \"2\""),
                       "bad.toml:3: threads = \"2\" (string): must be an integer from 1 to 256"));
  EXPECT_TRUE(Contains(error("steps = \"five\""), "steps = \"five\" (string)"));
  EXPECT_TRUE(Contains(error("steps = 4294967299"), "must be an integer from 1 to 1000000"));
  EXPECT_TRUE(Contains(error("world_size = 0"), "world_size = 0"));
  EXPECT_TRUE(Contains(error("set = \"train.lr=1\""), "must be an array of strings"));
  EXPECT_TRUE(Contains(error("profile = \"fast\""), "use \"portable\" or \"openblas\""));
  EXPECT_TRUE(Contains(error("thread = 2"), "did you mean \"threads\"?"));
  EXPECT_TRUE(
      Contains(error("parser = \"regex\"\nregex = '(?<step>\\d+)'"), "has no (?<loss>...) group"));
}

TEST(SmokeCaseTest, HealthChecksDefaultToFailAndReadEveryKey) {
  Result<SmokeCase> shipped = LoadSmokeCase(LOCKSTEP_SOURCE_DIR "/smoke/cases/tiny.toml");
  ASSERT_TRUE(shipped.ok());
  EXPECT_EQ(shipped->checks.frozen.policy, golden::CheckPolicy::kFail);
  EXPECT_EQ(shipped->checks.frozen.steps, 5);
  EXPECT_EQ(shipped->checks.loss_scale.band_low, 0.75);
  EXPECT_EQ(shipped->checks.loss_scale.band_high, 1.5);
  EXPECT_EQ(shipped->checks.spike.window, 10);
  EXPECT_EQ(shipped->checks.learning.margin, 0.05);

  auto dir = FreshTempDir();
  std::string path = (dir / "c.toml").string();
  ASSERT_TRUE(WriteFileAtomically(path, R"(
command = ["sh", "train.sh"]
golden = "g.toml"
[checks.frozen]
policy = "warn"
steps = 8
[checks.loss_scale]
band = [0.5, 2]
vocab_size = 50257
same_loss_as = "../goldens/one-rank.toml"
[checks.spike]
policy = "off"
factor = 4.5
window = 20
min_history = 20
[checks.learning]
margin = 0.1
)")
                  .ok());
  Result<SmokeCase> c = LoadSmokeCase(path);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->checks.frozen.policy, golden::CheckPolicy::kWarn);
  EXPECT_EQ(c->checks.frozen.steps, 8);
  EXPECT_EQ(c->checks.loss_scale.policy, golden::CheckPolicy::kFail);
  EXPECT_EQ(c->checks.loss_scale.band_low, 0.5);
  EXPECT_EQ(c->checks.loss_scale.band_high, 2.0);
  EXPECT_EQ(c->checks.loss_scale.vocab_size, 50257);
  EXPECT_EQ(c->checks.loss_scale.same_loss_as,
            (dir.parent_path() / "goldens" / "one-rank.toml").string());
  EXPECT_EQ(c->checks.spike.policy, golden::CheckPolicy::kOff);
  EXPECT_EQ(c->checks.spike.factor, 4.5);
  EXPECT_EQ(c->checks.spike.window, 20);
  EXPECT_EQ(c->checks.spike.min_history, 20);
  EXPECT_EQ(c->checks.learning.margin, 0.1);
}

TEST(SmokeCaseTest, BadChecksNameTheFileTheKeyAndTheFix) {
  auto dir = FreshTempDir();
  auto error = [&](const std::string& checks) {
    std::string path = (dir / "bad.toml").string();
    EXPECT_TRUE(WriteFileAtomically(path, "command = [\"x\"]\ngolden = \"g\"\n" + checks).ok());
    Result<SmokeCase> c = LoadSmokeCase(path);
    EXPECT_FALSE(c.ok()) << checks;
    if (c.ok()) return std::string();
    EXPECT_EQ(c.status().exit_code(), 2);
    EXPECT_TRUE(Contains(c.status().message(), "bad.toml"));
    return c.status().message();
  };
  std::string m = error("[checks.frozn]\npolicy = \"warn\"\n");
  EXPECT_TRUE(Contains(m, "unknown check \"checks.frozn\""));
  EXPECT_TRUE(Contains(m, "frozen, learning, loss_scale, spike"));
  m = error("[checks.frozen]\nstpes = 3\n");
  EXPECT_TRUE(Contains(m, "unknown key \"checks.frozen.stpes\"; valid keys: policy, steps"));
  EXPECT_TRUE(Contains(error("[checks.spike]\npolicy = \"error\"\n"),
                       "checks.spike.policy must be \"fail\", \"warn\" or \"off\""));
  EXPECT_TRUE(Contains(error("[checks.frozen]\nsteps = 0\n"),
                       "checks.frozen.steps must be an integer >= 1"));
  EXPECT_TRUE(Contains(error("[checks.loss_scale]\nband = [1.5, 0.75]\n"),
                       "checks.loss_scale.band must be [low, high]"));
  EXPECT_TRUE(Contains(error("[checks.loss_scale]\nband = 1.5\n"), "checks.loss_scale.band"));
  EXPECT_TRUE(Contains(error("[checks.loss_scale]\nvocab_size = \"257\"\n"),
                       "checks.loss_scale.vocab_size must be an integer"));
  EXPECT_TRUE(
      Contains(error("[checks.loss_scale]\nsame_loss_as = 3\n"), "checks.loss_scale.same_loss_as"));
  EXPECT_TRUE(Contains(error("[checks.spike]\nfactor = 0.5\n"),
                       "checks.spike.factor must be a number above 1"));
  EXPECT_TRUE(Contains(error("[checks.spike]\nwindow = 4\n"),
                       "checks.spike.min_history (5) must be at most checks.spike.window (4)"));
  EXPECT_TRUE(Contains(error("[checks.learning]\nmargin = 1.5\n"),
                       "checks.learning.margin must be a number in [0, 1)"));
  EXPECT_TRUE(Contains(error("checks = 3\n"), "checks must be a table"));
  EXPECT_TRUE(Contains(error("[checks]\nfrozen = \"off\"\n"), "checks.frozen must be a table"));
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
  EXPECT_NE(std::find(argv.begin(), argv.end(), "--oversubscribe"),
            argv.end());  // 8 ranks > cores here
  EXPECT_EQ(argv[argv.size() - 2], "python3");
}

}  // namespace
}  // namespace lockstep::smoke
