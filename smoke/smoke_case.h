// SmokeCase: one case of the smoke suite, read from smoke/cases/NAME.toml.
//
//   description = "the smoke config, portable profile, 1 thread"
//   config = "../../trainer/configs/smoke.toml"   # lockstep's trainer ...
//   set = ["train.lr=0.003"]                      #   ... with overrides
//   steps = 50
//   threads = 1
//   world_size = 1
//   profile = "portable"
//   golden = "../../golden/cases/tiny.toml"       # paths relative to this file
//   [policy]                                      # per metric; defaults in golden/compare.h
//   loss = "exact"            # or "ignore", { ulps = 4 }, { rtol = 1e-3, atol = 0 }
//   [checks.frozen]                               # health checks (golden/health.h); each
//   policy = "fail"           # "fail" (default), "warn" or "off"; steps = 5
//   [checks.loss_scale]       # band = [0.75, 1.5], vocab_size = 257,
//   same_loss_as = "../../golden/cases/tiny.toml" #   a golden, relative to this file
//   [checks.spike]            # factor = 3, window = 10, min_history = 5
//   [checks.learning]         # margin = 0.05
//
// or any trainer whose log lockstep can read:
//
//   command = ["torchrun", "--nproc_per_node=1", "train.py"]
//   parser = "torchtitan"     # jsonl | torchtitan | megatron | regex
//   regex = '...(?<step>\d+)...(?<loss>[0-9.]+)'   # parser = "regex" only
#ifndef LOCKSTEP_SMOKE_SMOKE_CASE_H_
#define LOCKSTEP_SMOKE_SMOKE_CASE_H_

#include <string>
#include <vector>

#include "core/status.h"
#include "golden/compare.h"
#include "golden/health.h"

namespace lockstep::smoke {

struct SmokeCase {
  std::string name;  // the file's stem
  std::string path;  // the case file
  std::string description;
  // lockstep's trainer:
  std::string config;  // resolved path, "" for an external command
  std::vector<std::string> overrides;
  int steps = 50;
  int threads = 1;
  int world_size = 1;
  std::string profile = "portable";
  // another trainer:
  std::vector<std::string> command;
  std::string parser = "jsonl";
  std::string regex;
  // both:
  std::string golden;  // resolved path
  golden::Policies policies;
  golden::HealthOptions checks;  // same_loss_as resolved

  bool external() const { return !command.empty(); }
};

// Reads one case file. BadInput names the file and the key for unknown keys
// (checks and their keys too), wrong types or values, a missing config, or
// neither `config` nor `command`.
Result<SmokeCase> LoadSmokeCase(const std::string& path);

// Every *.toml in `dir`, sorted by name.
Result<std::vector<SmokeCase>> LoadSmokeSuite(const std::string& dir);

}  // namespace lockstep::smoke

#endif  // LOCKSTEP_SMOKE_SMOKE_CASE_H_
