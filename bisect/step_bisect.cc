#include "bisect/step_bisect.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <sstream>
#include <toml.hpp>
#include <tuple>

#include "core/atomic_file.h"
#include "core/interrupt.h"
#include "smoke/suite.h"
#include "smoke/watchdog.h"

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
};

Status PrepareConfig(Side& side, const std::string& override_config) {
  if (!override_config.empty()) {
    side.config = fs::absolute(override_config).string();
    return Status::Ok();
  }
  const nlohmann::json& config = side.run.header.config;
  if (!config.is_object() || config.empty()) {
    return Status::BadInput(fmt::format(
        "{}: the header has no config to re-run (another trainer's log?); pass --config-{} FILE",
        side.run_path, side.option));
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
Result<std::string> ReRun(const Side& side, std::int64_t step, const std::string& values,
                          const std::string& trace_name, std::string_view purpose,
                          bool check_record, double timeout, std::ostream& out) {
  const std::string record = (fs::path(side.dir) / (trace_name + ".jsonl")).string();
  const std::string trace = (fs::path(side.dir) / trace_name).string();
  std::vector<std::string> argv = {
      side.binary,          "train",        "--config",           side.config, "--stop-at",
      std::to_string(step), "--trace-step", std::to_string(step), "--trace",   trace,
      "--trace-values",     values,         "--record",           record,      "--quiet"};
  argv = smoke::UnderMpirun(side.world_size, std::move(argv));
  out << fmt::format("re-running {} to step {} ({}): {}\n", side.label, step, purpose,
                     fmt::join(argv, " "))
      << std::flush;
  std::string output;
  smoke::WatchOptions wo;
  wo.idle_timeout = timeout;
  wo.cancel = &InterruptScope::Flag();  // a re-run is ended with lockstep, not orphaned
  Result<smoke::ProcessOutcome> outcome = smoke::RunWatched(
      argv, wo, [&](std::string_view line) { output += std::string(line) + "\n"; });
  if (!outcome.ok()) return outcome.status();
  if (outcome->cancelled) {
    return Status::Interrupted(
        fmt::format("interrupted: the re-run of side {} was ended", side.label),
        InterruptScope::Signal());
  }
  if (outcome->exit_code != 0) {
    return Status::BadInput(fmt::format(
        "re-running side {} ({}) failed with exit {}:\n{}Check --binary-{} and --config-{}",
        side.label, side.run_path, outcome->exit_code, output, side.option, side.option));
  }
  if (check_record) {
    Result<golden::RunRecord> rerun = golden::LoadRecordStream(record);
    if (!rerun.ok()) return rerun.status();
    std::string what;
    if (std::optional<std::int64_t> s = FirstDivergentStep(side.run, *rerun, &what);
        s && *s <= step) {
      out << fmt::format(
          "  warning: the re-run of {} differs from {} at step {} ({}): this binary or machine is "
          "not "
          "the one that recorded it; the trace shows the re-run\n",
          side.label, side.run_path, *s, what);
    }
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
    out << fmt::format("  {:<24} {:<24} {:>17} {:>12.3g} {:>10.3g}\n", Where(d), d.name, differ,
                       d.max_abs_diff, d.rel_diff);
  }
}

}  // namespace

std::optional<std::int64_t> FirstDivergentStep(const golden::RunRecord& a,
                                               const golden::RunRecord& b, std::string* what) {
  std::map<std::int64_t, const golden::StepRow*> by_step;
  for (const golden::StepRow& row : b.steps) by_step[row.step] = &row;
  for (const golden::StepRow& row : a.steps) {
    auto it = by_step.find(row.step);
    if (it == by_step.end()) continue;
    std::vector<std::string> differ;
    for (const char* key : kStepKeys) {
      const golden::MetricValue* x = row.Find(key);
      const golden::MetricValue* y = it->second->Find(key);
      if (x == nullptr || y == nullptr || *x == *y) continue;
      differ.push_back(fmt::format("{} {} vs {}", key, x->ToString(), y->ToString()));
    }
    if (!differ.empty()) {
      if (what != nullptr) *what = fmt::format("{}", fmt::join(differ, ", "));
      return row.step;
    }
  }
  return std::nullopt;
}

std::vector<TensorDiff> FirstDivergentTensor(const std::vector<trainer::TracedTensor>& a,
                                             const std::vector<trainer::TracedTensor>& b,
                                             std::size_t* identical_before) {
  std::map<std::tuple<int, std::string, std::string>, const trainer::TracedTensor*> index;
  for (const trainer::TracedTensor& t : b) index[{t.micro_batch, t.phase, t.name}] = &t;
  std::vector<TensorDiff> out;
  std::size_t same_before = 0;
  for (const trainer::TracedTensor& x : a) {
    auto it = index.find({x.micro_batch, x.phase, x.name});
    if (it == index.end()) continue;
    const trainer::TracedTensor& y = *it->second;
    TensorDiff d;
    d.phase = x.phase;
    d.micro_batch = x.micro_batch;
    d.name = x.name;
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
    nlohmann::ordered_json j = {
        {"phase", d.phase}, {"micro_batch", d.micro_batch},     {"name", d.name},
        {"count", d.count}, {"shape_differs", d.shape_differs}, {"digest_only", d.digest_only}};
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

Result<StepBisectResult> BisectSteps(const StepBisectOptions& options, std::ostream& out) {
  InterruptScope interrupts;  // Ctrl-C or a CI cancel ends the re-runs too
  InterruptScope::Reset();
  Side a, b;
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
  StepBisectResult result;
  std::string& what = result.step_differs;
  result.step = FirstDivergentStep(a.run, b.run, &what);
  if (!result.step) {
    out << fmt::format(
        "{} and {} agree on all common steps ({} vs {} steps): nothing to localise\n", a.run_path,
        b.run_path, a.run.steps.size(), b.run.steps.size());
    return result;
  }
  out << fmt::format("first divergent step: {} ({})\n", *result.step, what);

  std::string work = options.work_dir;
  if (work.empty()) {
    work =
        (fs::temp_directory_path() / fmt::format("lockstep-bisect-steps-{}", ::getpid())).string();
  }
  result.work_dir = work;
  a.dir = (fs::path(work) / "a").string();
  b.dir = (fs::path(work) / "b").string();
  for (Side* side : {&a, &b}) {
    std::error_code ec;
    fs::remove_all(side->dir, ec);
    fs::create_directories(side->dir, ec);
    if (ec)
      return Status::BadInput(fmt::format("{}: cannot create it: {}", side->dir, ec.message()));
    LOCKSTEP_RETURN_IF_ERROR(
        PrepareConfig(*side, side == &a ? options.config_a : options.config_b));
  }

  // Pass 1: digests of every tensor, which say which tensors differ.
  std::vector<trainer::TracedTensor> digests[2];
  for (int i = 0; i < 2; ++i) {
    const Side& side = i == 0 ? a : b;
    Result<std::string> dir =
        ReRun(side, *result.step, "none", "trace-digests", "digests of every tensor",
              /*check_record=*/true, options.timeout, out);
    if (!dir.ok()) return dir.status();
    Result<std::vector<trainer::TracedTensor>> trace = trainer::LoadTrace(*dir);
    if (!trace.ok()) return trace.status();
    digests[i] = std::move(trace).value();
  }
  std::size_t identical = 0;
  std::vector<TensorDiff> differ = FirstDivergentTensor(digests[0], digests[1], &identical);
  if (differ.empty()) {
    out << fmt::format(
        "the traces of step {} agree in all {} tensors: the re-runs did not reproduce the "
        "divergence (see the warnings above); traces in {}\n",
        *result.step, digests[0].size(), work);
    return result;
  }

  // Pass 2: the values of the tensors the report shows, wherever they occur.
  std::vector<std::string> names;
  for (std::size_t i = 0; i < differ.size() && std::ssize(names) < options.spread_rows; ++i) {
    if (std::find(names.begin(), names.end(), differ[i].name) == names.end())
      names.push_back(differ[i].name);
  }
  std::vector<trainer::TracedTensor> traces[2];
  for (int i = 0; i < 2; ++i) {
    Side& side = i == 0 ? a : b;
    Result<std::string> dir =
        ReRun(side, *result.step, fmt::format("{}", fmt::join(names, ",")), "trace",
              fmt::format("values of {} tensor{}", names.size(), names.size() == 1 ? "" : "s"),
              /*check_record=*/false, options.timeout, out);
    if (!dir.ok()) return dir.status();
    Result<std::vector<trainer::TracedTensor>> trace = trainer::LoadTrace(*dir);
    if (!trace.ok()) return trace.status();
    traces[i] = std::move(trace).value();
    // The same side run twice must trace the same bits.
    std::vector<TensorDiff> moved = FirstDivergentTensor(digests[i], traces[i], nullptr);
    if (!moved.empty()) {
      result.not_deterministic.push_back(side.label);
      out << fmt::format(
          "  warning: {} is not deterministic: its two re-runs to step {} traced different bits, "
          "first "
          "in {} {} ({} of its tensors differ); the comparison below uses the second re-run\n",
          side.label, *result.step, Where(moved.front()), moved.front().name, moved.size());
    }
    side.trace_dir = *dir;
  }
  // Values only where the digests differ: a whole trace may not fit in memory.
  std::map<std::tuple<int, std::string, std::string>, trainer::TracedTensor*> in_b;
  for (trainer::TracedTensor& t : traces[1]) in_b[{t.micro_batch, t.phase, t.name}] = &t;
  for (trainer::TracedTensor& t : traces[0]) {
    auto it = in_b.find({t.micro_batch, t.phase, t.name});
    if (it == in_b.end() || it->second->digest == t.digest || it->second->count != t.count)
      continue;
    if (!t.has_values || !it->second->has_values) continue;
    LOCKSTEP_RETURN_IF_ERROR(trainer::ReadTraceValues(a.trace_dir, &t));
    LOCKSTEP_RETURN_IF_ERROR(trainer::ReadTraceValues(b.trace_dir, it->second));
  }
  result.tensors = FirstDivergentTensor(traces[0], traces[1], &identical);
  result.identical_before = identical;
  result.traced = traces[0].size();
  if (result.tensors.empty()) {
    out << fmt::format(
        "the second re-runs of step {} agree in all {} tensors, the first did not: see the "
        "warnings "
        "above; traces in {}\n",
        *result.step, traces[0].size(), work);
    return result;
  }
  const TensorDiff& first = result.tensors.front();
  if (first.shape_differs) {
    out << fmt::format(
        "\nfirst divergent tensor: step {}, {}: {} has a different shape ({} elements in A)\n",
        *result.step, Where(first), first.name, first.count);
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
  out << fmt::format(
      "the {} tensor{} before it, in the order the step computes them, are bit-identical\n\n",
      identical, identical == 1 ? "" : "s");
  const std::size_t compared_after = traces[0].size() - identical - 1;
  out << fmt::format("how it spreads: {} of the {} tensors after it differ too{}\n",
                     result.tensors.size() - 1, compared_after,
                     result.tensors.size() > 1 ? "; the first of them:" : "");
  std::vector<TensorDiff> shown(
      result.tensors.begin(),
      result.tensors.begin() +
          std::min<std::ptrdiff_t>(options.spread_rows, std::ssize(result.tensors)));
  PrintTable(shown, out);
  if (result.tensors.size() > shown.size()) {
    const TensorDiff& last = result.tensors.back();
    out << fmt::format("  ... and {} more, the last: {} {}\n", result.tensors.size() - shown.size(),
                       Where(last), last.name);
  }
  out << fmt::format("\ntraces and re-run records: {}\n", work);
  result.exit_code = 0;
  return result;
}

}  // namespace lockstep::bisect
