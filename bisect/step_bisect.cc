#include "bisect/step_bisect.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <toml.hpp>
#include <tuple>

#include "core/atomic_file.h"
#include "core/interrupt.h"
#include "core/watchdog.h"
#include "smoke/log_parser.h"
#include "smoke/smoke_case.h"
#include "smoke/suite.h"

namespace lockstep::bisect {
namespace fs = std::filesystem;

namespace {

// The values that say whether two steps computed the same thing.
constexpr const char* kStepKeys[] = {"batch_digest", "loss", "grad_norm", "param_digest"};

Result<golden::RunRecord> LoadRun(const std::string& path) {
  if (path.ends_with(".toml")) return golden::LoadGolden(path);
  return golden::LoadRecordStream(path);
}

Result<toml::value> JsonToToml(const nlohmann::json& j, const std::string& key) {
  switch (j.type()) {
    case nlohmann::json::value_t::object: {
      toml::table t;
      for (const auto& [k, v] : j.items()) {
        if (v.is_null()) continue;
        Result<toml::value> tv = JsonToToml(v, key.empty() ? k : key + "." + k);
        if (!tv.ok()) return tv.status();
        t.emplace(k, std::move(tv).value());
      }
      return toml::value(std::move(t));
    }
    case nlohmann::json::value_t::array: {
      toml::array a;
      for (const auto& v : j) {
        Result<toml::value> tv = JsonToToml(v, key);
        if (!tv.ok()) return tv.status();
        a.push_back(std::move(tv).value());
      }
      return toml::value(std::move(a));
    }
    case nlohmann::json::value_t::string:
      return toml::value(j.get<std::string>());
    case nlohmann::json::value_t::boolean:
      return toml::value(j.get<bool>());
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
      return toml::value(j.get<std::int64_t>());
    case nlohmann::json::value_t::number_float:
      return toml::value(j.get<double>());
    default:
      return Status::BadInput(fmt::format("config key {} has no TOML form", key));
  }
}

// One side of the comparison, re-run to `step` with its trace.
struct Side {
  char label = 'A';   // or 'B'
  char option = 'a';  // its options' suffix: --binary-a, --config-a
  std::string run_path;
  golden::RunRecord run;
  std::string binary;
  std::string config;  // a TOML file to run
  int world_size = 1;
  std::string dir;        // its re-run records and traces
  std::string trace_dir;  // the trace with values
  // Another trainer: the command that re-runs it, where, and how to read
  // the record it prints.
  bool external = false;
  std::vector<std::string> command;
  std::string command_dir;
  std::string parser = "jsonl", regex;
};

// What re-runs `side` when it is another trainer: its --command-x (sh -c),
// else the case's command; in its --dir-x, else the case's directory.
Status PrepareExternal(Side& side, const std::optional<smoke::SmokeCase>& c,
                       const std::string& command, const std::string& dir) {
  side.external = true;
  if (!command.empty()) {
    side.command = {"/bin/sh", "-c", command};
  } else if (c) {
    side.command = c->command;
  } else {
    return Status::BadInput(fmt::format(
        "side {}: nothing re-runs it; give --command-{} CMD (or --case CASE for both sides)",
        side.label, side.option));
  }
  if (c) {
    side.parser = c->parser;
    side.regex = c->regex;
  }
  side.command_dir = !dir.empty() ? fs::absolute(dir).string()
                     : c          ? fs::path(c->path).parent_path().string()
                                  : fs::current_path().string();
  if (!fs::is_directory(side.command_dir)) {
    return Status::BadInput(fmt::format("--dir-{} {}: not a directory", side.option, dir));
  }
  return Status::Ok();
}

Status PrepareConfig(Side& side, const std::string& override_config) {
  if (!override_config.empty()) {
    side.config = fs::absolute(override_config).string();
    return Status::Ok();
  }
  const nlohmann::json& config = side.run.header.config;
  if (side.run.header.profile == "pytorch") {
    return Status::BadInput(fmt::format(
        "{}: a PyTorch run (python/lockstep's Recorder), not lockstep's trainer: re-run it with "
        "its command, --case CASE (a smoke case whose command runs it) or --command-{} CMD",
        side.run_path, side.option));
  }
  if (!config.is_object() || config.empty()) {
    return Status::BadInput(fmt::format(
        "{}: the header has no config to re-run: another trainer's log? Re-run it with --case "
        "CASE or --command-{} CMD; for lockstep's trainer pass --config-{} FILE",
        side.run_path, side.option, side.option));
  }
  const nlohmann::json manifest =
      config.contains("data") ? config["data"].value("manifest", "") : "";
  if (manifest.is_string() && manifest != "embedded" &&
      !fs::path(manifest.get<std::string>()).is_absolute()) {
    return Status::BadInput(fmt::format(
        "{}: data.manifest = \"{}\" is relative to a config file this record does not name; pass "
        "--config-{} FILE (the config that recorded it)",
        side.run_path, manifest.get<std::string>(), side.option));
  }
  Result<toml::value> t = JsonToToml(config, "");
  if (!t.ok()) return Status::BadInput(side.run_path + ": " + t.status().message());
  std::ostringstream text;
  text << "# The config of " << side.run_path << ", as its header recorded it.\n" << *t;
  side.config = (fs::path(side.dir) / "config.toml").string();
  return WriteFileAtomically(side.config, text.str());
}

int WorldSize(const golden::RunRecord& run) {
  const nlohmann::json& env = run.header.env;
  if (!env.is_object() || !env.contains("world_size")) return 1;
  const nlohmann::json& w = env["world_size"];
  if (w.is_number_integer()) return std::max(1, w.get<int>());
  if (w.is_string()) return std::max(1, std::atoi(w.get<std::string>().c_str()));
  return 1;
}

// Re-runs `side` to `step` with a trace in side.dir/<trace_name> that keeps
// the values `values` (trainer::TraceValues syntax); returns the trace's
// directory. `check_record`: say whether the re-run reproduced the record.
// Checks the re-run's record against the one it stands for: a warning when it
// does not reproduce it up to `step`.
void CheckReproduced(const Side& side, const golden::RunRecord& rerun, std::int64_t step,
                     std::ostream& out) {
  std::string what;
  if (std::optional<std::int64_t> s = FirstDivergentStep(side.run, rerun, &what); s && *s <= step) {
    out << fmt::format(
        "  warning: the re-run of {} differs from {} at step {} ({}): this {} or machine is not "
        "the one that recorded it; the trace shows the re-run\n",
        side.label, side.run_path, *s, what, side.external ? "checkout" : "binary");
  }
}

// Re-runs `side` to `step` with a trace in side.dir/<trace_name> that keeps
// the values `values` (trainer::TraceValues syntax); returns the trace's
// directory. `check_record`: say whether the re-run reproduced the record.
Result<std::string> ReRun(const Side& side, std::int64_t step, const std::string& values,
                          const std::string& trace_name, std::string_view purpose,
                          bool check_record, double timeout, std::ostream& out) {
  const std::string record = (fs::path(side.dir) / (trace_name + ".jsonl")).string();
  const std::string trace = (fs::path(side.dir) / trace_name).string();
  std::error_code ec;
  fs::remove_all(trace, ec);  // no rank files left from an earlier re-run
  WatchOptions wo;
  wo.idle_timeout = timeout;
  wo.cancel = &InterruptScope::Flag();  // a re-run is ended with lockstep, not orphaned
  std::vector<std::string> argv;
  if (side.external) {
    argv = side.command;
    wo.working_dir = side.command_dir;
    wo.env = {"LOCKSTEP_TRACE_STEP=" + std::to_string(step), "LOCKSTEP_TRACE_DIR=" + trace,
              "LOCKSTEP_TRACE_VALUES=" + values};
    const std::string shown = argv.size() == 3 && argv[0] == "/bin/sh"
                                  ? fmt::format("sh -c '{}'", argv[2])
                                  : fmt::format("{}", fmt::join(argv, " "));
    out << fmt::format("re-running {} with step {} traced ({}): {} (in {}, {})\n", side.label, step,
                       purpose, shown, side.command_dir, fmt::join(wo.env, " "));
  } else {
    argv = {side.binary,          "train",        "--config",           side.config, "--stop-at",
            std::to_string(step), "--trace-step", std::to_string(step), "--trace",   trace,
            "--trace-values",     values,         "--record",           record,      "--quiet"};
    argv = smoke::UnderMpirun(side.world_size, std::move(argv));
    out << fmt::format("re-running {} to step {} ({}): {}\n", side.label, step, purpose,
                       fmt::join(argv, " "));
  }
  out << std::flush;
  std::string output;
  std::optional<smoke::LineParser> parser;
  if (side.external) {
    Result<smoke::LogFormat> format = smoke::ParseLogFormat(side.parser);
    if (!format.ok()) return format.status();
    Result<smoke::LineParser> p = smoke::LineParser::Create(*format, side.regex);
    if (!p.ok()) return p.status();
    parser.emplace(std::move(p).value());
  }
  golden::RunRecord printed;  // what an external re-run printed
  Result<ProcessOutcome> outcome = RunWatched(argv, wo, [&](std::string_view line) {
    output += std::string(line) + "\n";
    if (parser) {
      if (std::optional<golden::StepRow> row = parser->Feed(line)) printed.steps.push_back(*row);
    }
  });
  if (!outcome.ok()) return outcome.status();
  if (outcome->cancelled) {
    return Status::Interrupted(
        fmt::format("interrupted: the re-run of side {} was ended", side.label),
        InterruptScope::Signal());
  }
  if (outcome->exit_code != 0) {
    return Status::BadInput(fmt::format(
        "re-running side {} ({}) failed with exit {}:\n{}Check {}", side.label, side.run_path,
        outcome->exit_code, output,
        side.external ? fmt::format("--command-{} and --dir-{} (or the case's command)",
                                    side.option, side.option)
                      : fmt::format("--binary-{} and --config-{}", side.option, side.option)));
  }
  if (side.external && !fs::exists(fs::path(trace) / "rank0.jsonl")) {
    return Status::BadInput(fmt::format(
        "re-running side {} wrote no trace in {}: does the trainer record with lockstep's Recorder "
        "given model= and optimizer= (or call lockstep.trace(model, optimizer)), and does it reach "
        "step {}? Its last lines:\n{}",
        side.label, trace, step, outcome->tail));
  }
  if (check_record && side.external) {
    parser->AddLateMetrics(printed.steps);
    if (printed.steps.empty()) {
      out << fmt::format(
          "  note: the re-run of {} printed no step line the {} parser reads: not checked against "
          "{}\n",
          side.label, side.parser, side.run_path);
    } else {
      CheckReproduced(side, printed, step, out);
    }
  } else if (check_record) {
    Result<golden::RunRecord> rerun = golden::LoadRecordStream(record);
    if (!rerun.ok()) return rerun.status();
    CheckReproduced(side, *rerun, step, out);
  }
  out << fmt::format("  {:.1f} s\n", outcome->seconds);
  return trace;
}

std::string Where(const TensorDiff& d) {
  return d.micro_batch < 0 ? d.phase : fmt::format("{} (micro-batch {})", d.phase, d.micro_batch);
}

void PrintTable(const std::vector<TensorDiff>& rows, std::ostream& out) {
  out << fmt::format("  {:<24} {:<24} {:>17} {:>12} {:>10}\n", "where", "tensor", "elements differ",
                     "max |a-b|", "rel diff");
  for (const TensorDiff& d : rows) {
    const std::string differ = d.shape_differs ? "shape differs"
                               : d.digest_only ? "digest differs"
                                               : fmt::format("{}/{}", d.differing, d.count);
    const std::string name = d.name_b.empty() ? d.name : d.name + " (B: " + d.name_b + ")";
    out << fmt::format("  {:<24} {:<24} {:>17} {:>12.3g} {:>10.3g}\n", Where(d), name, differ,
                       d.max_abs_diff, d.rel_diff);
  }
}

// Both sides: their runs, and how each is re-run (its binary and world size,
// or another trainer's command).
Status LoadSides(const StepBisectOptions& options, Side& a, Side& b) {
  a.label = 'A';
  a.run_path = options.run_a;
  b.label = 'B';
  b.option = 'b';
  b.run_path = options.run_b;
  for (Side* side : {&a, &b}) {
    Result<golden::RunRecord> run = LoadRun(side->run_path);
    if (!run.ok()) return run.status();
    side->run = std::move(run).value();
    side->world_size = WorldSize(side->run);
  }
  // mpirun resolves a relative program against its own idea of the
  // directory; a path with a slash is made absolute here.
  auto program = [](const std::string& p) {
    return p.find('/') == std::string::npos ? p : fs::absolute(p).string();
  };
  a.binary = program(options.binary_a);
  b.binary = program(options.binary_b);
  const bool external =
      !options.case_path.empty() || !options.command_a.empty() || !options.command_b.empty();
  if (!external) {
    if (!options.dir_a.empty() || !options.dir_b.empty()) {
      return Status::BadInput(
          "--dir-a/-b are where another trainer's command runs: give --case or --command-a/-b");
    }
    return Status::Ok();
  }
  if (!options.config_a.empty() || !options.config_b.empty()) {
    return Status::BadInput(
        "--config-a/-b re-run lockstep's trainer; another trainer's command (--case, "
        "--command-a/-b) takes its own arguments");
  }
  std::optional<smoke::SmokeCase> trainer_case;
  if (!options.case_path.empty()) {
    Result<smoke::SmokeCase> c = smoke::LoadSmokeCase(options.case_path);
    if (!c.ok()) return c.status();
    if (!c->external()) {
      return Status::BadInput(fmt::format(
          "--case {}: a case of lockstep's trainer (it has a config, no command); for it, "
          "leave out --case: each side is re-run from its record's header",
          options.case_path));
    }
    trainer_case = std::move(c).value();
  }
  LOCKSTEP_RETURN_IF_ERROR(PrepareExternal(a, trainer_case, options.command_a, options.dir_a));
  return PrepareExternal(b, trainer_case, options.command_b, options.dir_b);
}

// WORK/a and WORK/b, emptied, with the config each side re-runs; returns WORK.
Result<std::string> PrepareWorkDirs(const StepBisectOptions& options, Side& a, Side& b) {
  std::string work = options.work_dir;
  if (work.empty()) {
    work =
        (fs::temp_directory_path() / fmt::format("lockstep-bisect-steps-{}", ::getpid())).string();
  }
  work = fs::absolute(work).string();  // an external trainer runs in a directory of its own
  a.dir = (fs::path(work) / "a").string();
  b.dir = (fs::path(work) / "b").string();
  for (Side* side : {&a, &b}) {
    std::error_code ec;
    fs::remove_all(side->dir, ec);
    fs::create_directories(side->dir, ec);
    if (ec)
      return Status::BadInput(fmt::format("{}: cannot create it: {}", side->dir, ec.message()));
    if (!side->external) {
      LOCKSTEP_RETURN_IF_ERROR(
          PrepareConfig(*side, side == &a ? options.config_a : options.config_b));
    }
  }
  return work;
}

// Re-runs `side` and loads the trace it wrote (see ReRun).
Result<std::vector<trainer::TracedTensor>> TraceSide(Side& side, std::int64_t step,
                                                     const std::string& values,
                                                     const std::string& trace_name,
                                                     std::string_view purpose, bool check_record,
                                                     double timeout, std::ostream& out) {
  Result<std::string> dir =
      ReRun(side, step, values, trace_name, purpose, check_record, timeout, out);
  if (!dir.ok()) return dir.status();
  side.trace_dir = *dir;
  return trainer::LoadTrace(*dir);
}

// The names whose values the second pass keeps, per side (B's differ where
// a tensor was renamed): the first `rows` distinct tensors that differ.
void ShownNames(const std::vector<TensorDiff>& differ, int rows, std::vector<std::string>* a,
                std::vector<std::string>* b) {
  for (std::size_t i = 0; i < differ.size() && std::ssize(*a) < rows; ++i) {
    if (std::find(a->begin(), a->end(), differ[i].name) != a->end()) continue;
    a->push_back(differ[i].name);
    b->push_back(differ[i].name_b.empty() ? differ[i].name : differ[i].name_b);
  }
}

// Fills in the values of the tensors whose digests differ, and only those: a
// whole trace may not fit in memory.
Status ReadDifferingValues(const Side& a, const Side& b, const std::vector<Renamed>& renamed,
                           std::vector<trainer::TracedTensor>& trace_a,
                           std::vector<trainer::TracedTensor>& trace_b) {
  using Key = std::tuple<int, std::string, std::string>;
  std::map<Key, trainer::TracedTensor*> in_b;
  for (trainer::TracedTensor& t : trace_b) in_b[{t.micro_batch, t.phase, t.name}] = &t;
  std::map<Key, std::string> b_name;
  for (const Renamed& r : renamed) b_name[{r.micro_batch, r.phase, r.name_a}] = r.name_b;
  for (trainer::TracedTensor& t : trace_a) {
    auto name = b_name.find({t.micro_batch, t.phase, t.name});
    auto it = in_b.find({t.micro_batch, t.phase, name == b_name.end() ? t.name : name->second});
    if (it == in_b.end() || it->second->digest == t.digest || it->second->count != t.count)
      continue;
    if (!t.has_values || !it->second->has_values) continue;
    LOCKSTEP_RETURN_IF_ERROR(trainer::ReadTraceValues(a.trace_dir, &t));
    LOCKSTEP_RETURN_IF_ERROR(trainer::ReadTraceValues(b.trace_dir, it->second));
  }
  return Status::Ok();
}

void PrintRenamed(const std::vector<Renamed>& renamed, std::ostream& out) {
  if (renamed.empty()) return;
  out << "\nrenamed between A and B (matched by position, compared as one):\n";
  for (const Renamed& r : renamed) {
    out << fmt::format(
        "  {:<24} {} -> {}\n",
        r.micro_batch < 0 ? r.phase : fmt::format("{} (micro-batch {})", r.phase, r.micro_batch),
        r.name_a, r.name_b);
  }
}

// The answer: the first divergent tensor, what came before it, how it spreads.
void PrintFirstTensor(const StepBisectResult& result, int rows, std::ostream& out) {
  const TensorDiff& first = result.tensors.front();
  if (first.shape_differs) {
    out << fmt::format(
        "\nfirst divergent tensor: step {}, {}: {} has a different shape ({} elements in A)\n",
        *result.step, Where(first), first.name, first.count);
    // Two layouts (ranks, micro-batches) cut the batch differently: their
    // step-wide tensors still compare.
    auto same_shape =
        std::find_if(result.tensors.begin(), result.tensors.end(),
                     [](const TensorDiff& d) { return !d.shape_differs && d.micro_batch < 0; });
    if (first.micro_batch >= 0 && same_shape != result.tensors.end()) {
      out << fmt::format(
          "  (the sides cut the batch differently; the first step-wide tensor that differs: {} "
          "{})\n",
          Where(*same_shape), same_shape->name);
    }
  } else if (first.digest_only) {  // only when a side is not deterministic
    out << fmt::format(
        "\nfirst divergent tensor: step {}, {}: {} (digests differ; values not traced)\n",
        *result.step, Where(first), first.name);
  } else {
    out << fmt::format(
        "\nfirst divergent tensor: step {}, {}: {}, max abs diff {:.3g}, first differing element "
        "index {} (of {}; {} differ)\n",
        *result.step, Where(first), first.name, first.max_abs_diff, first.first_index.value_or(0),
        first.count, first.differing);
  }
  const std::size_t identical = result.identical_before;
  out << fmt::format(
      "the {} tensor{} before it, in the order the step computes them, are bit-identical\n\n",
      identical, identical == 1 ? "" : "s");
  const std::size_t compared_after = result.traced - identical - 1;
  out << fmt::format("how it spreads: {} of the {} tensors after it differ too{}\n",
                     result.tensors.size() - 1, compared_after,
                     result.tensors.size() > 1 ? "; the first of them:" : "");
  std::vector<TensorDiff> shown(
      result.tensors.begin(),
      result.tensors.begin() + std::min<std::ptrdiff_t>(rows, std::ssize(result.tensors)));
  PrintTable(shown, out);
  if (result.tensors.size() > shown.size()) {
    const TensorDiff& last = result.tensors.back();
    out << fmt::format("  ... and {} more, the last: {} {}\n", result.tensors.size() - shown.size(),
                       Where(last), last.name);
  }
}

}  // namespace

std::optional<std::int64_t> FirstDivergentStep(const golden::RunRecord& a,
                                               const golden::RunRecord& b, std::string* what,
                                               std::vector<std::string>* keys) {
  std::map<std::int64_t, const golden::StepRow*> by_step;
  for (const golden::StepRow& row : b.steps) by_step[row.step] = &row;
  for (const golden::StepRow& row : a.steps) {
    auto it = by_step.find(row.step);
    if (it == by_step.end()) continue;
    std::vector<std::string> differ, differing_keys;
    for (const char* key : kStepKeys) {
      const golden::MetricValue* x = row.Find(key);
      const golden::MetricValue* y = it->second->Find(key);
      if (x == nullptr || y == nullptr || *x == *y) continue;
      differ.push_back(fmt::format("{} {} vs {}", key, x->ToString(), y->ToString()));
      differing_keys.push_back(key);
    }
    if (!differ.empty()) {
      if (what != nullptr) *what = fmt::format("{}", fmt::join(differ, ", "));
      if (keys != nullptr) *keys = std::move(differing_keys);
      return row.step;
    }
  }
  return std::nullopt;
}

std::vector<TensorDiff> FirstDivergentTensor(const std::vector<trainer::TracedTensor>& a,
                                             const std::vector<trainer::TracedTensor>& b,
                                             std::size_t* identical_before,
                                             std::vector<Renamed>* renamed) {
  using Key = std::tuple<int, std::string, std::string>;  // (micro-batch, phase, name)
  std::map<Key, const trainer::TracedTensor*> by_name;
  std::map<std::tuple<int, std::string, int>, const trainer::TracedTensor*> by_position;
  std::set<Key> in_a;
  for (const trainer::TracedTensor& t : b) {
    by_name[{t.micro_batch, t.phase, t.name}] = &t;
    by_position[{t.micro_batch, t.phase, t.seq}] = &t;
  }
  for (const trainer::TracedTensor& t : a) in_a.insert({t.micro_batch, t.phase, t.name});
  std::vector<TensorDiff> out;
  std::size_t same_before = 0;
  for (const trainer::TracedTensor& x : a) {
    const trainer::TracedTensor* match = nullptr;
    if (auto it = by_name.find({x.micro_batch, x.phase, x.name}); it != by_name.end()) {
      match = it->second;
    } else if (auto p = by_position.find({x.micro_batch, x.phase, x.seq});
               p != by_position.end() &&
               !in_a.contains({p->second->micro_batch, p->second->phase, p->second->name})) {
      match = p->second;  // a name only B has, where A has a name only A has
      if (renamed != nullptr) renamed->push_back({x.phase, x.micro_batch, x.name, match->name});
    }
    if (match == nullptr) continue;
    const trainer::TracedTensor& y = *match;
    TensorDiff d;
    d.phase = x.phase;
    d.micro_batch = x.micro_batch;
    d.name = x.name;
    if (y.name != x.name) d.name_b = y.name;
    d.count = x.count;
    if (x.count != y.count) {
      d.shape_differs = true;
    } else if (x.digest != y.digest && (x.values.size() != x.count || y.values.size() != y.count)) {
      d.digest_only = true;
    } else if (x.digest != y.digest) {
      double diff2 = 0, norm2 = 0;
      for (std::size_t i = 0; i < x.count; ++i) {
        const float u = x.values[i], v = y.values[i];
        norm2 += static_cast<double>(u) * u;
        if (std::bit_cast<std::uint32_t>(u) == std::bit_cast<std::uint32_t>(v)) continue;
        ++d.differing;
        if (!d.first_index) d.first_index = i;
        const double delta = static_cast<double>(u) - static_cast<double>(v);
        diff2 += delta * delta;
        d.max_abs_diff = std::max(d.max_abs_diff, std::fabs(delta));
      }
      // Same float32 values, other bytes: a dtype that converts to float32 without loss
      // (bf16 vs its float32 copy) still differs as stored.
      if (d.differing == 0) d.digest_only = true;
      d.rel_diff = norm2 > 0 ? std::sqrt(diff2 / norm2) : (diff2 > 0 ? INFINITY : 0);
    }
    if (d.same()) {
      if (out.empty()) ++same_before;
      continue;
    }
    out.push_back(d);
  }

  if (identical_before != nullptr) *identical_before = same_before;
  return out;
}

nlohmann::ordered_json StepBisectToJson(const StepBisectResult& result) {
  auto tensor = [](const TensorDiff& d) {
    nlohmann::ordered_json j = {{"phase", d.phase},
                                {"micro_batch", d.micro_batch},
                                {"name", d.name},
                                {"name_b", d.name_b.empty() ? d.name : d.name_b},
                                {"count", d.count},
                                {"shape_differs", d.shape_differs},
                                {"digest_only", d.digest_only}};
    if (!d.shape_differs && !d.digest_only) {
      j["differing"] = d.differing;
      if (d.first_index) j["first_index"] = *d.first_index;
      j["max_abs_diff"] = d.max_abs_diff;
      j["rel_diff"] = d.rel_diff;
    }
    return j;
  };
  nlohmann::ordered_json j;
  j["exit_code"] = result.exit_code;
  j["step"] = result.step ? nlohmann::ordered_json(*result.step) : nlohmann::ordered_json(nullptr);
  if (result.step) j["step_differs"] = result.step_differs;
  j["batch_differs"] = result.batch_differs;
  j["renamed"] = nlohmann::ordered_json::array();
  for (const Renamed& r : result.renamed) {
    j["renamed"].push_back(
        {{"phase", r.phase}, {"micro_batch", r.micro_batch}, {"a", r.name_a}, {"b", r.name_b}});
  }
  if (!result.tensors.empty()) {
    j["first_tensor"] = tensor(result.tensors.front());
    j["identical_before"] = result.identical_before;
    j["traced"] = result.traced;
    j["spread"] = nlohmann::ordered_json::array();
    for (std::size_t i = 1; i < result.tensors.size(); ++i)
      j["spread"].push_back(tensor(result.tensors[i]));
  }
  j["not_deterministic"] = nlohmann::ordered_json::array();
  for (char side : result.not_deterministic) j["not_deterministic"].push_back(std::string(1, side));
  if (!result.work_dir.empty()) j["work_dir"] = result.work_dir;
  return j;
}

namespace {

// Pass 1: each side re-run to `step` with the digest of every tensor traced.
Status TraceDigests(Side& a, Side& b, std::int64_t step, const StepBisectOptions& options,
                    std::ostream& out, std::vector<trainer::TracedTensor> digests[2]) {
  for (int i = 0; i < 2; ++i) {
    Result<std::vector<trainer::TracedTensor>> trace =
        TraceSide(i == 0 ? a : b, step, "none", "trace-digests", "digests of every tensor",
                  /*check_record=*/true, options.timeout, out);
    if (!trace.ok()) return trace.status();
    digests[i] = std::move(trace).value();
  }
  return Status::Ok();
}

// Pass 2: each side re-run again, keeping the values of the tensors the
// report shows. A side whose second run traced other digests than its first
// is not deterministic: said, and listed in the result.
Status TraceValues(Side& a, Side& b, std::int64_t step, const std::vector<TensorDiff>& differ,
                   const StepBisectOptions& options,
                   const std::vector<trainer::TracedTensor> digests[2], StepBisectResult& result,
                   std::ostream& out, std::vector<trainer::TracedTensor> traces[2]) {
  std::vector<std::string> names[2];
  ShownNames(differ, options.spread_rows, &names[0], &names[1]);
  for (int i = 0; i < 2; ++i) {
    Side& side = i == 0 ? a : b;
    Result<std::vector<trainer::TracedTensor>> trace = TraceSide(
        side, step, fmt::format("{}", fmt::join(names[i], ",")), "trace",
        fmt::format("values of {} tensor{}", names[i].size(), names[i].size() == 1 ? "" : "s"),
        /*check_record=*/false, options.timeout, out);
    if (!trace.ok()) return trace.status();
    traces[i] = std::move(trace).value();
    std::vector<TensorDiff> moved = FirstDivergentTensor(digests[i], traces[i], nullptr);
    if (!moved.empty()) {
      result.not_deterministic.push_back(side.label);
      out << fmt::format(
          "  warning: {} is not deterministic: its two re-runs to step {} traced different bits, "
          "first in {} {} ({} of its tensors differ); the comparison below uses the second "
          "re-run\n",
          side.label, step, Where(moved.front()), moved.front().name, moved.size());
    }
  }
  return Status::Ok();
}

}  // namespace

Result<StepBisectResult> BisectSteps(const StepBisectOptions& options, std::ostream& out) {
  InterruptScope interrupts;  // Ctrl-C or a CI cancel ends the re-runs too
  InterruptScope::Reset();
  Side a, b;
  LOCKSTEP_RETURN_IF_ERROR(LoadSides(options, a, b));

  // The step: from the records alone.
  StepBisectResult result;
  std::string& what = result.step_differs;
  std::vector<std::string> keys;
  result.step = FirstDivergentStep(a.run, b.run, &what, &keys);
  if (!result.step) {
    out << fmt::format(
        "{} and {} agree on all common steps ({} vs {} steps): nothing to localise\n", a.run_path,
        b.run_path, a.run.steps.size(), b.run.steps.size());
    return result;
  }
  const std::int64_t step = *result.step;
  out << fmt::format("first divergent step: {} ({})\n", step, what);
  if (std::find(keys.begin(), keys.end(), "batch_digest") != keys.end()) {
    result.batch_differs = true;
    result.exit_code = 0;
    out << fmt::format(
        "\nthe batch of step {} differs: the two runs trained on different data (token ids, or "
        "their order), so no tensor of the step can agree; nothing to re-run. Look at the data "
        "path: the manifest and shards (lockstep data verify), the sampler, the loader's "
        "order{}\n",
        step, step > 1 ? fmt::format("; steps 1..{} agree", step - 1) : "");
    return result;
  }
  Result<std::string> work = PrepareWorkDirs(options, a, b);
  if (!work.ok()) return work.status();
  result.work_dir = *work;

  // Pass 1: digests of every tensor, which say which tensors differ.
  std::vector<trainer::TracedTensor> digests[2];
  LOCKSTEP_RETURN_IF_ERROR(TraceDigests(a, b, step, options, out, digests));
  std::vector<TensorDiff> differ =
      FirstDivergentTensor(digests[0], digests[1], nullptr, &result.renamed);
  if (differ.empty()) {
    out << fmt::format(
        "the traces of step {} agree in all {} tensors: the re-runs did not reproduce the "
        "divergence (see the warnings above); traces in {}\n",
        step, digests[0].size(), *work);
    return result;
  }

  // Pass 2: the values of the tensors the report shows.
  std::vector<trainer::TracedTensor> traces[2];
  LOCKSTEP_RETURN_IF_ERROR(TraceValues(a, b, step, differ, options, digests, result, out, traces));
  LOCKSTEP_RETURN_IF_ERROR(ReadDifferingValues(a, b, result.renamed, traces[0], traces[1]));

  // The tensor.
  result.tensors = FirstDivergentTensor(traces[0], traces[1], &result.identical_before);
  result.traced = traces[0].size();
  PrintRenamed(result.renamed, out);
  if (result.tensors.empty()) {
    out << fmt::format(
        "the second re-runs of step {} agree in all {} tensors, the first did not: see the "
        "warnings above; traces in {}\n",
        step, traces[0].size(), *work);
    return result;
  }
  PrintFirstTensor(result, options.spread_rows, out);
  out << fmt::format("\ntraces and re-run records: {}\n", *work);
  result.exit_code = 0;
  return result;
}

}  // namespace lockstep::bisect
