// Bad inputs end to end, one row per class of the contract "the gate never
// passes what it did not check": each row runs lockstep as a user would and
// asserts the exit code, the file/key/line named in the message, and that no
// golden and no report was changed or left behind.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/atomic_file.h"
#include "core/test_util.h"
#include "tests/run_lockstep.h"

namespace lockstep {
namespace {

using ::lockstep::testing::CommandRun;
using ::lockstep::testing::Contains;
using ::lockstep::testing::FreshTempDir;
using ::lockstep::testing::Lockstep;
namespace fs = std::filesystem;

void Write(const fs::path& p, const std::string& text) {
  ASSERT_TRUE(WriteFileAtomically(p.string(), text).ok());
}
std::string Read(const fs::path& p) {
  return *ReadFile(p.string());
}

// Every regular file below `dir` with its contents.
std::map<std::string, std::string> Snapshot(const fs::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) files[e.path().string()] = Read(e.path());
  }
  return files;
}

struct Row {
  std::string name;  // the class it stands for
  std::function<std::string(const fs::path&)>
      args;  // prepares inputs in `protected_dir`'s sibling; returns args
  int exit_code;
  std::vector<std::string> fragments;  // each must appear in the output
};

class BadInputE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = FreshTempDir();
    kept_ = dir_ / "kept";  // goldens: nothing may change them
    work_ = dir_ / "work";  // each row's own inputs
    fs::create_directories(kept_);
    // A 5-step case of lockstep's trainer with its golden.
    Write(kept_ / "t.toml", "config = \"" LOCKSTEP_SOURCE_DIR
                            "/trainer/configs/smoke.toml\"\nsteps = 5\n"
                            "set = [\"eval.every=0\"]\ngolden = \"t.golden.toml\"\n");
    CommandRun update = Lockstep("smoke --update -q " + (kept_ / "t.toml").string());
    ASSERT_EQ(update.exit_code, 0) << update.output;
  }
  fs::path dir_, kept_, work_;
};

// The golden of `t`, edited by `edit`, under another name, with a case for it.
std::string DamagedGoldenCase(const fs::path& kept, const fs::path& work,
                              const std::function<std::string(std::string)>& edit) {
  Write(work / "g.toml", edit(Read(kept / "t.golden.toml")));
  Write(work / "c.toml", "config = \"" LOCKSTEP_SOURCE_DIR
                         "/trainer/configs/smoke.toml\"\nsteps = 5\n"
                         "set = [\"eval.every=0\"]\ngolden = \"g.toml\"\n");
  return "smoke -q " + (work / "c.toml").string();
}

// Drops the step lines of the golden's steps after `keep`.
std::string KeepSteps(std::string golden, int keep) {
  const std::size_t from = golden.find("{ step = " + std::to_string(keep + 1) + ",");
  const std::size_t end = golden.rfind("]");
  return golden.erase(from, end - from);
}

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  const std::size_t at = s.find(from);
  return at == std::string::npos ? s : s.replace(at, from.size(), to);
}

// An external trainer printing record-stream lines, one step with a nan loss.
std::string NanCase(const fs::path& work, const std::string& flags) {
  Write(work / "nan.sh",
        "echo '{\"type\":\"header\"}'\n"
        "echo '{\"step\":1,\"loss\":\"0x1.6p+2\"}'\n"
        "echo '{\"step\":2,\"loss\":\"nan\"}'\n");
  Write(work / "nan.toml", "command = [\"sh\", \"" + (work / "nan.sh").string() +
                               "\"]\nparser = \"jsonl\"\ngolden = \"nan.golden.toml\"\n");
  return "smoke -q " + flags + " " + (work / "nan.toml").string();
}

TEST_F(BadInputE2E, EveryClassIsRefusedNamingWhereAndChangesNothing) {
  const std::string smoke_toml = LOCKSTEP_SOURCE_DIR "/trainer/configs/smoke.toml";
  const std::vector<Row> rows = {
      // 1. Loading is strict and total.
      {"case: a string where an integer belongs",
       [](const fs::path& w) {
         Write(w / "c.toml", "config = \"" LOCKSTEP_SOURCE_DIR
                             "/trainer/configs/smoke.toml\"\nthreads = \"2\"\n"
                             "golden = \"g.toml\"\n");
         return "smoke -q " + (w / "c.toml").string();
       },
       2,
       {"c.toml:2: threads = \"2\" (string): must be an integer from 1 to 256"}},
      {"config: an integer that would be narrowed",
       [&](const fs::path&) {
         return "train -q --config " + smoke_toml + " --set train.steps=4294967299";
       },
       2,
       {"train.steps = 4294967299 is out of range"}},
      {"config: a directory",
       [](const fs::path& w) { return "train -q --config " + w.string(); },
       2,
       {"is a directory, not a regular file"}},
      {"config: a non-finite float",
       [&](const fs::path&) { return "train -q --config " + smoke_toml + " --set train.lr=inf"; },
       2,
       {"train.lr = inf must be a finite number"}},
      {"golden: cut to 3 of the case's 5 steps",
       [&](const fs::path& w) {
         return DamagedGoldenCase(kept_, w, [](std::string g) { return KeepSteps(g, 3); });
       },
       2,
       {"g.toml: damaged golden: it holds 3 steps but the case runs 5", "--update"}},
      {"golden: a malformed hex float",
       [&](const fs::path& w) {
         return DamagedGoldenCase(kept_, w,
                                  [](std::string g) { return Replace(g, "p+2\"", "pz2\""); });
       },
       2,
       {"g.toml: damaged golden: step 1: `loss`", "is not a hex float"}},
      {"golden: a step without grad_norm",
       [&](const fs::path& w) {
         return DamagedGoldenCase(kept_, w, [](std::string g) {
           const std::size_t step = g.find("{ step = 2,");
           const std::size_t at = g.find(", grad_norm = ", step);
           return g.erase(at, g.find(", lr = ", at) - at);
         });
       },
       2,
       {"step 2 has no `grad_norm`, which other steps have"}},
      {"golden: a repeated step",
       [&](const fs::path& w) {
         return DamagedGoldenCase(
             kept_, w, [](std::string g) { return Replace(g, "{ step = 3,", "{ step = 2,"); });
       },
       2,
       {"step 2 appears twice"}},
      {"regex parser without a loss group",
       [](const fs::path& w) {
         Write(w / "c.toml",
               "command = [\"true\"]\nparser = \"regex\"\nregex = 'step (?<step>\\d+)'\ngolden = "
               "\"g\"\n");
         return "smoke -q " + (w / "c.toml").string();
       },
       2,
       {"c.toml: regex", "has no (?<loss>...) group"}},
      {"golden diff of two files that are not record streams",
       [](const fs::path& w) {
         Write(w / "a.jsonl", "not json\n");
         return "golden diff " + (w / "a.jsonl").string() + " " + (w / "a.jsonl").string();
       },
       2,
       {"a.jsonl:1: not a JSON object"}},
      // 2. Nothing written that cannot be read back.
      {"--update on a run with a nan loss",
       [](const fs::path& w) { return NanCase(w, "--update"); },
       3,
       {"crash at step 2: loss is nan", "left as it was"}},
      {"a nan loss compared: a crash, not ULPs",
       [&](const fs::path& w) {
         const std::string args = NanCase(w, "");
         Write(w / "nan.golden.toml", Read(kept_ / "t.golden.toml"));
         return args;
       },
       3,
       {"crash at step 2: loss is nan"}},
      {"a report that cannot be written",
       [&](const fs::path&) {
         return "smoke -q --json /proc/lockstep/r.json " + (kept_ / "t.toml").string();
       },
       2,
       {"/proc/lockstep: cannot create directory"}},
      // 5. Processes.
      {"--timeout nan",
       [&](const fs::path&) { return "smoke -q --timeout nan " + (kept_ / "t.toml").string(); },
       2,
       {"--timeout", "finite number of seconds above 0"}},
      {"--timeout 0",
       [&](const fs::path&) { return "smoke -q --timeout 0 " + (kept_ / "t.toml").string(); },
       2,
       {"finite number of seconds above 0"}},
      {"--retries -1",
       [&](const fs::path&) { return "smoke -q --retries -1 " + (kept_ / "t.toml").string(); },
       2,
       {"--retries"}},
      {"a regex that backtracks without end",
       [&](const fs::path& w) {
         // 2^40 ways to split the loss before the `!` that never comes.
         Write(w / "rx.sh", "echo 'step 1 loss " + std::string(40, 'a') + "'\n");
         Write(w / "rx.toml", "command = [\"sh\", \"" + (w / "rx.sh").string() +
                                  "\"]\nparser = \"regex\"\n"
                                  "regex = 'step (?<step>\\d+) loss (?<loss>([^ ]+)*)!'\n"
                                  "golden = \"rx.golden.toml\"\n");
         return "smoke -q --update --timeout 2 " + (w / "rx.toml").string();
       },
       2,
       {"rx.toml: the regex parser spent more than 2 s on line 1", "rewrite `regex`"}},
      // 6. Memory.
      {"a model that cannot fit",
       [&](const fs::path&) {
         return "train -q --config " + smoke_toml +
                " --set model.n_embd=1000000 --set model.n_head=1";
       },
       2,
       {"needs at least", "GiB per rank", "lower model.n_embd (1000000)"}},
      // 7. Command line.
      {"an unknown command",
       [](const fs::path&) { return std::string("smok"); },
       2,
       {"unknown command 'smok'; did you mean smoke?"}},
      {"--checkpoint without --checkpoint-every",
       [&](const fs::path& w) {
         return "train -q --config " + smoke_toml + " --checkpoint " + (w / "ck").string();
       },
       2,
       {"--checkpoint-every"}},
  };
  const auto kept_before = Snapshot(kept_);
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    fs::remove_all(work_);
    fs::create_directories(work_);
    const auto inputs = Snapshot(work_);
    const std::string args = row.args(work_);
    const auto prepared = Snapshot(work_);
    CommandRun run = Lockstep(args);
    EXPECT_EQ(run.exit_code, row.exit_code) << args << "\n" << run.output;
    for (const std::string& f : row.fragments) EXPECT_TRUE(Contains(run.output, f)) << args;
    EXPECT_EQ(Snapshot(kept_), kept_before) << "a golden changed";
    EXPECT_EQ(Snapshot(work_), prepared)
        << "the row left or changed a file (golden, report, checkpoint)";
  }
}

}  // namespace
}  // namespace lockstep
