// `lockstep smoke` end to end: every diagnosis produced on purpose, by
// breaking one thing (a shard byte, a golden value, the config, the trainer).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>

#include "core/atomic_file.h"
#include "core/test_util.h"
#include "data/manifest.h"
#include "data/sampler.h"
#include "tests/run_lockstep.h"

namespace lockstep {
namespace {

using ::lockstep::testing::Contains;
using ::lockstep::testing::FreshTempDir;
namespace fs = std::filesystem;

using ::lockstep::testing::CommandRun;
using ::lockstep::testing::Lockstep;

void Write(const fs::path& p, const std::string& text) {
  ASSERT_TRUE(WriteFileAtomically(p.string(), text).ok());
}
std::string Read(const fs::path& p) {
  return *ReadFile(p.string());
}

// Replaces the first match of `pattern` in the file.
void Edit(const fs::path& p, const std::string& pattern, const std::string& replacement) {
  std::string text = Read(p);
  std::string edited = std::regex_replace(text, std::regex(pattern), replacement,
                                          std::regex_constants::format_first_only);
  ASSERT_NE(edited, text) << pattern << " matched nothing in " << p;
  Write(p, edited);
}

class SmokeE2E : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = FreshTempDir(); }
  // A case of lockstep's trainer, 10 steps of the smoke config.
  fs::path TrainerCase(const std::string& name, const std::string& extra = "") {
    fs::path p = dir_ / (name + ".toml");
    Write(p, "config = \"" LOCKSTEP_SOURCE_DIR
             "/trainer/configs/smoke.toml\"\nsteps = 10\ngolden = \"" +
                 (dir_ / (name + ".golden.toml")).string() + "\"\n" + extra);
    return p;
  }
  // A case running a fake trainer script that prints torchtitan-style lines.
  fs::path ScriptCase(const std::string& name, const std::string& script, const std::string& parser,
                      const std::string& extra = "") {
    Write(dir_ / (name + ".sh"), script);
    fs::path p = dir_ / (name + ".toml");
    Write(p, "command = [\"sh\", \"" + (dir_ / (name + ".sh")).string() + "\"]\nparser = \"" +
                 parser + "\"\ngolden = \"" + (dir_ / (name + ".golden.toml")).string() + "\"\n" +
                 extra);
    return p;
  }
  fs::path Golden(const std::string& name) { return dir_ / (name + ".golden.toml"); }
  fs::path dir_;
};

TEST_F(SmokeE2E, ShippedSuitePassesBitExact) {
  CommandRun run =
      Lockstep("smoke --cases " LOCKSTEP_SOURCE_DIR "/smoke/cases --junit " +
               (dir_ / "junit.xml").string() + " --json " + (dir_ / "r.json").string());
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_TRUE(Contains(run.output, "5 passed, 0 failed"));
  const nlohmann::json report = nlohmann::json::parse(Read(dir_ / "r.json"));
  for (const nlohmann::json& c : report["cases"]) {
    EXPECT_FALSE(c.contains("record")) << "a passing run keeps no record: " << c.dump();
  }
  EXPECT_TRUE(Contains(run.output, "bit-exact over 50 steps"));
  EXPECT_TRUE(Contains(Read(dir_ / "junit.xml"),
                       "<testcase classname=\"lockstep.smoke\" name=\"tiny-threads\""));
}

TEST_F(SmokeE2E, NumericsWhenAGoldenLossBitFlips) {
  fs::path c = TrainerCase("n");
  ASSERT_EQ(Lockstep("smoke --update -q " + c.string()).exit_code, 0);
  // Step 4's loss, last hex digit changed: one float ULP or a few.
  Edit(Golden("n"), R"((\{ step = 4, loss = "0x1\.[0-9a-f]*)([0-9a-f])(p))", "$1f$3");
  CommandRun run = Lockstep("smoke " + c.string() + " --json " + (dir_ / "r.json").string() +
                            " --runs " + (dir_ / "runs").string());
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_TRUE(Contains(run.output, "diverged at step 4: same batch, loss differs by"));
  EXPECT_TRUE(Contains(run.output, "(numerics)"));
  nlohmann::json report = nlohmann::json::parse(Read(dir_ / "r.json"));
  EXPECT_EQ(report["cases"][0]["diagnosis"], "numerics");
  EXPECT_EQ(report["cases"][0]["first_divergent_step"], 4);
  EXPECT_GT(report["cases"][0]["diffs"][0]["ulps"].get<int>(), 0);
  // The diverged run's record is kept, and the output says how to localise it.
  ASSERT_TRUE(report["cases"][0].contains("record")) << report.dump(2);
  const std::string record = report["cases"][0]["record"].get<std::string>();
  EXPECT_EQ(fs::path(record).parent_path(), dir_ / "runs");
  EXPECT_TRUE(Contains(
      run.output, "Localise it: lockstep bisect steps " + Golden("n").string() + " " + record));
  std::ifstream in(record);
  std::string header;
  ASSERT_TRUE(std::getline(in, header)) << record;
  EXPECT_EQ(nlohmann::json::parse(header)["type"], "header");
  fs::remove(record);
}

TEST_F(SmokeE2E, StateAndMemoryFromTheGoldensOtherFields) {
  fs::path c = TrainerCase("s");
  ASSERT_EQ(Lockstep("smoke --update -q " + c.string()).exit_code, 0);
  std::string original = Read(Golden("s"));
  Edit(Golden("s"), R"((\{ step = 6, .*param_digest = ")[0-9a-f]{16})", "$1abcdef0123456789");
  CommandRun run = Lockstep("smoke -q " + c.string());
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_TRUE(
      Contains(run.output, "diverged at step 6: same batch and loss, parameters differ (state)"));
  Write(Golden("s"), original);
  Edit(Golden("s"), R"((\{ step = 2, .*mem_peak_bytes = )([0-9]+))", "$011");  // group 1, then "1"
  run = Lockstep("smoke -q " + c.string());
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_TRUE(Contains(run.output, "diverged at step 2: tracked peak memory"));
  EXPECT_TRUE(Contains(run.output, "(memory)"));
}

// A byte changed under an intact header and pin (silent upstream churn) is
// caught before training: train hashes every payload against its pin.
TEST_F(SmokeE2E, AShardByteChangedUnderItsPinIsRefusedBeforeTraining) {
  ASSERT_EQ(Lockstep("data synth --out " + (dir_ / "data").string()).exit_code, 0);
  const std::string manifest = (dir_ / "data" / "manifest.toml").string();
  // A manifest path has no held-out text unless one is named: no evaluation.
  fs::path c =
      TrainerCase("d", "set = [\"data.manifest=\\\"" + manifest + "\\\"\", \"eval.every=0\"]\n");
  ASSERT_EQ(Lockstep("smoke --update -q " + c.string()).exit_code, 0);
  const std::string golden_before = Read(Golden("d"));
  data::Manifest m = *data::LoadManifest(manifest);
  data::Sampler sampler = *data::Sampler::Create(m, 8);
  data::SampleRef ref = sampler.Locate(3, 0);
  const std::string shard = m.ResolvePath(m.corpora[ref.corpus].shards[ref.shard]);
  {
    std::fstream f(shard, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(64 + ref.offset * 2));
    f.put('#');
  }
  CommandRun run = Lockstep("smoke -q " + c.string());
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_TRUE(Contains(run.output, shard));
  EXPECT_TRUE(Contains(run.output, "the file is corrupt"));
  EXPECT_EQ(Read(Golden("d")), golden_before);
}

TEST_F(SmokeE2E, ConfigRefusesToCompareAndNamesTheKey) {
  fs::path c = TrainerCase("c");
  ASSERT_EQ(Lockstep("smoke --update -q " + c.string()).exit_code, 0);
  std::string golden = Read(Golden("c"));
  TrainerCase("c", "set = [\"train.lr=0.004\"]\n");
  CommandRun run = Lockstep("smoke -q " + c.string());
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_TRUE(Contains(run.output, "config differs from the golden's"));
  EXPECT_TRUE(Contains(run.output, "train.lr: 0.003 -> 0.004"));
  EXPECT_EQ(Read(Golden("c")), golden) << "a failing run never touches the golden";
}

const char* kTitan = R"(
echo "[titan] INFO - Building model"
for s in 1 2 3 4 5; do
  if [ "$s" = 3 ] && [ "$MODE" = crash ]; then kill -SEGV $$; fi
  if [ "$s" = 3 ] && [ "$MODE" = hang ]; then sleep 60; fi
  if [ "$s" = 3 ] && [ "$MODE" = hang-once ] && [ ! -e "$0.seen" ]; then touch "$0.seen"; sleep 60; fi
  echo "[titan] 2025-01-01 12:00:0$s,000 - root - INFO - step: $s  loss: $(echo "8 - $s / 10" | bc -l | cut -c1-6)  grad_norm:  1.2345  memory: 12.34GiB(15.67%)  tps: 1,234"
done
)";

TEST_F(SmokeE2E, CrashOfAnotherTrainerNamesSignalAndLastStep) {
  fs::path c = ScriptCase("t", std::string("MODE=ok\n") + kTitan, "torchtitan");
  ASSERT_EQ(Lockstep("smoke --update -q " + c.string()).exit_code, 0);
  EXPECT_TRUE(Contains(Read(Golden("t")), "step = 5"));
  ScriptCase("t", std::string("MODE=crash\n") + kTitan, "torchtitan");
  CommandRun run = Lockstep("smoke " + c.string());
  EXPECT_EQ(run.exit_code, 3) << run.output;
  EXPECT_TRUE(Contains(run.output, "crash: signal 11"));
  EXPECT_TRUE(Contains(run.output, "last finished step: 2"));
  // A failed run does not record a golden without --force.
  EXPECT_EQ(Lockstep("smoke --update -q " + c.string()).exit_code, 3);
  EXPECT_TRUE(Contains(Read(Golden("t")), "step = 5"));
}

TEST_F(SmokeE2E, ADeadRankEndsTheRunAsACrashNamingTheRank) {
  fs::path c = TrainerCase("dp", "world_size = 2\n[policy]\nmem_peak_bytes = \"ignore\"\n");
  ASSERT_EQ(Lockstep("smoke --update -q " + c.string()).exit_code, 0);
  CommandRun run = Lockstep("smoke --timeout 60 " + c.string());  // 2 ranks: the same bits

  EXPECT_EQ(run.exit_code, 0) << run.output;
  ::setenv("LOCKSTEP_TEST_KILL_RANK_AT_STEP", "1:4", 1);
  run = Lockstep("smoke --timeout 60 " + c.string());
  ::unsetenv("LOCKSTEP_TEST_KILL_RANK_AT_STEP");
  EXPECT_EQ(run.exit_code, 3) << run.output;
  EXPECT_TRUE(Contains(run.output, "process rank 1"));
  EXPECT_TRUE(Contains(run.output, "last finished step: 3"));
  EXPECT_LT(run.seconds, 30) << "no hang: the runtime aborts the other rank";
}

TEST_F(SmokeE2E, HangIsKilledWithinTimeoutPlusGraceAndExits124) {
  fs::path c = ScriptCase("h", std::string("MODE=ok\n") + kTitan, "torchtitan");
  ASSERT_EQ(Lockstep("smoke --update -q " + c.string()).exit_code, 0);
  ScriptCase("h", std::string("MODE=hang\n") + kTitan, "torchtitan");
  CommandRun run = Lockstep("smoke --timeout 1 " + c.string());
  EXPECT_EQ(run.exit_code, 124) << run.output;
  EXPECT_TRUE(Contains(run.output, "hang: no output for 1 s"));
  EXPECT_LT(run.seconds, 1 + 5 + 3) << "timeout + grace + the run itself";
}

TEST_F(SmokeE2E, RetriesAHangThatDoesNotRecur) {
  fs::path c = ScriptCase("r", std::string("MODE=ok\n") + kTitan, "torchtitan");
  ASSERT_EQ(Lockstep("smoke --update -q " + c.string()).exit_code, 0);
  ScriptCase("r", std::string("MODE=hang-once\n") + kTitan, "torchtitan");
  CommandRun run = Lockstep("smoke --timeout 1 --retries 1 --retry-backoff 0 " + c.string() +
                            " --json " + (dir_ / "r.json").string());
  EXPECT_EQ(run.exit_code, 0) << run.output;
  nlohmann::json attempts = nlohmann::json::parse(Read(dir_ / "r.json"))["cases"][0]["attempts"];
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0]["classification"], "hang");
  EXPECT_EQ(attempts[1]["classification"], "pass");
}

TEST_F(SmokeE2E, MegatronLogsAreComparedWithTheCasesTolerance) {
  const std::string megatron = R"(
for s in 1 2 3; do
  echo " [2024-05-01 10:00:00] iteration        $s/       3 | consumed samples:   96 | elapsed time per iteration (ms): 1234.5 | learning rate: 1.500000E-04 | lm loss: ${LOSS:-1.0234}56E+01 | loss scale: 1.0 | grad norm: 12.345 |"
done
)";
  fs::path c = ScriptCase("m", megatron, "megatron",
                          "[policy]\nloss = { rtol = 1e-4 }\nstep_ms = \"ignore\"\n");
  ASSERT_EQ(Lockstep("smoke --update -q " + c.string()).exit_code, 0);
  ScriptCase("m", "LOSS=1.0234\n" + megatron, "megatron",
             "[policy]\nloss = { rtol = 1e-4 }\nstep_ms = \"ignore\"\n");
  EXPECT_EQ(Lockstep("smoke -q " + c.string()).exit_code, 0);
  ScriptCase("m", "LOSS=1.0334\n" + megatron, "megatron",
             "[policy]\nloss = { rtol = 1e-4 }\nstep_ms = \"ignore\"\n");
  CommandRun run = Lockstep("smoke -q " + c.string());
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_TRUE(Contains(run.output, "diverged at step 1"));
}

// A torchtitan log as it really looks (colours, [rank0]: prefixes), its loss
// changed by 2e-5 at step 7: the gate fails there, honestly: no batch digest,
// so data or numerics; a decimal distance, not ULPs; no bisect steps.
TEST_F(SmokeE2E, TextLogsGetAnHonestVerdict) {
  const std::string titan = R"(
for s in 1 2 3 4 5 6 7 8; do
  loss=$(echo "8 - $s / 10" | bc -l | cut -c1-7)
  if [ "$s" = 7 ] && [ -n "$SHIFT" ]; then loss=$(echo "$loss + 0.00002" | bc -l); fi
  printf '[rank0]:\033[32m[titan] 2025-01-01 12:00:00,000\033[39m - root - INFO - \033[31mstep: %2d  \033[32mloss: %8.5f  \033[33mmemory: 12.34GiB(15.67%%)\033[39m\n' $s $loss
done
)";
  fs::path c = ScriptCase("titan", titan, "torchtitan");
  ASSERT_EQ(Lockstep("smoke --update -q " + c.string()).exit_code, 0);
  ScriptCase("titan", "SHIFT=1\n" + titan, "torchtitan");
  CommandRun run = Lockstep("smoke -q " + c.string());
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_TRUE(Contains(run.output, "diverged at step 7: loss differs by 2e-05"));
  EXPECT_TRUE(Contains(run.output, "data or numerics: this log has no batch digest"));
  EXPECT_TRUE(Contains(run.output, "record the run with lockstep's Python recorder"));
  const std::string verdict = run.output.substr(
      run.output.find("FAIL"), run.output.find("checks:") - run.output.find("FAIL"));
  EXPECT_FALSE(Contains(verdict, "ULP").operator bool()) << verdict;
  EXPECT_FALSE(Contains(run.output, "bisect steps").operator bool()) << run.output;
  EXPECT_TRUE(Contains(run.output, "step 7 loss                      -"))
      << "no ULPs in the table either";
}

// Megatron's memory report is gated: its max allocated is a metric.
TEST_F(SmokeE2E, MegatronMaxAllocatedMemoryIsGated) {
  const std::string megatron = R"(
for s in 1 2 3; do
  echo " [2024-05-01 10:00:00] iteration        $s/       3 | consumed samples:   96 | elapsed time per iteration (ms): 1234.5 | learning rate: 1.500000E-04 | lm loss: 1.023456E+01 | loss scale: 1.0 | grad norm: 12.345 |"
  if [ "$s" = 1 ]; then echo "[Rank 0] (after 1 iterations) memory (MB) | allocated: 1024.5 | max allocated: ${MAX:-2048.25} | reserved: 3000.0 | max reserved: 3000.0"; fi
done
)";
  const std::string policy = "[policy]\nstep_ms = \"ignore\"\n";
  fs::path c = ScriptCase("mem", megatron, "megatron", policy);
  ASSERT_EQ(Lockstep("smoke --update -q " + c.string()).exit_code, 0);
  EXPECT_TRUE(Contains(Read(Golden("mem")), "mem_max_allocated_bytes = 2147745792"));
  EXPECT_EQ(Lockstep("smoke -q " + c.string()).exit_code, 0);
  ScriptCase("mem", "MAX=2100.0\n" + megatron, "megatron", policy);
  CommandRun run = Lockstep("smoke -q " + c.string());
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_TRUE(
      Contains(run.output, "diverged at step 1: tracked peak memory grew by 51.8 MiB (memory)"));
}

TEST_F(SmokeE2E, DamagedGoldenOrCaseIsExitTwo) {
  fs::path c = TrainerCase("g");
  ASSERT_EQ(Lockstep("smoke --update -q " + c.string()).exit_code, 0);
  std::string text = Read(Golden("g"));
  Write(Golden("g"), text.substr(0, text.size() / 2));
  CommandRun run = Lockstep("smoke -q " + c.string());
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_TRUE(Contains(run.output, "g.golden.toml"));
  EXPECT_TRUE(Contains(run.output, "--update"));
  EXPECT_EQ(Lockstep("smoke -q " + (dir_ / "missing.toml").string()).exit_code, 2);
  fs::path quiet = ScriptCase("q", "echo training...", "torchtitan");
  run = Lockstep("smoke --update -q " + quiet.string());
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_TRUE(Contains(run.output, "printed no step line the torchtitan parser recognises"));
  EXPECT_FALSE(fs::exists(Golden("q")));
  fs::path bad = ScriptCase("x", "echo nothing", "regex", "regex = \"loss=(?<loss>[0-9.]+)\"\n");
  run = Lockstep("smoke -q " + bad.string());
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_TRUE(Contains(run.output, "step"));
}

}  // namespace
}  // namespace lockstep
