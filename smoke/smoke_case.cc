#include "smoke/smoke_case.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <toml.hpp>

#include "core/atomic_file.h"
#include "core/toml_fields.h"
#include "smoke/log_parser.h"

namespace lockstep::smoke {
namespace {

namespace fs = std::filesystem;

const std::set<std::string> kKeys = {"description", "config",  "set",     "steps",  "threads",
                                     "world_size",  "profile", "command", "parser", "regex",
                                     "golden",      "policy",  "checks"};

std::string Resolve(const fs::path& base, const std::string& p) {
  fs::path path(p);
  return path.is_absolute() ? path.string() : (base / path).lexically_normal().string();
}

// Each health check's keys (golden/health.h has the meaning and defaults).
const std::map<std::string, std::set<std::string>> kCheckKeys = {
    {"frozen", {"policy", "steps"}},
    {"learning", {"policy", "margin"}},
    {"loss_scale", {"policy", "band", "vocab_size", "same_loss_as"}},
    {"spike", {"policy", "factor", "window", "min_history"}},
};

std::optional<double> TomlNumber(const toml::value& v) {
  if (v.is_floating()) return v.as_floating();
  if (v.is_integer()) return static_cast<double>(v.as_integer());
  return std::nullopt;
}

// [checks.NAME] tables into `out`; BadInput names the file, the key and the fix.
// One key of [checks.NAME], each with its type and range.
Status ParseCheckKey(const std::string& name, const std::string& key, const toml::value& v,
                     const std::string& path, const fs::path& base, golden::HealthOptions& out) {
  auto bad = [&](const std::string& at, const std::string& fix) {
    return Status::BadInput(fmt::format("{}: checks.{} {}", path, at, fix));
  };
  const std::string at = name + "." + key;
  if (key == "policy") {
    std::optional<golden::CheckPolicy> p;
    if (v.is_string()) p = golden::ParseCheckPolicy(v.as_string().str);
    if (!p) return bad(at, "must be \"fail\", \"warn\" or \"off\"");
    (name == "frozen"       ? out.frozen.policy
     : name == "loss_scale" ? out.loss_scale.policy
     : name == "spike"      ? out.spike.policy
                            : out.learning.policy) = *p;
  } else if (key == "steps") {
    if (!v.is_integer() || v.as_integer() < 1 || v.as_integer() > 1000000) {
      return bad(at, "must be an integer >= 1: consecutive unchanged steps, e.g. 5");
    }
    out.frozen.steps = static_cast<int>(v.as_integer());
  } else if (key == "band") {
    std::optional<double> lo, hi;
    if (v.is_array() && v.as_array().size() == 2) {
      lo = TomlNumber(v.as_array()[0]);
      hi = TomlNumber(v.as_array()[1]);
    }
    if (!lo || !hi || !(*lo > 0) || !(*lo < *hi) || !std::isfinite(*hi)) {
      return bad(at,
                 "must be [low, high], factors of ln(vocab_size) with 0 < low < high, e.g. "
                 "[0.75, 1.5]");
    }
    out.loss_scale.band_low = *lo;
    out.loss_scale.band_high = *hi;
  } else if (key == "vocab_size") {
    if (!v.is_integer() || v.as_integer() < 2)
      return bad(at, "must be an integer >= 2, e.g. 50257");
    out.loss_scale.vocab_size = v.as_integer();
  } else if (key == "same_loss_as") {
    if (!v.is_string() || v.as_string().str.empty()) {
      return bad(at, "must be a golden file's path, relative to the case file");
    }
    out.loss_scale.same_loss_as = Resolve(base, v.as_string().str);
  } else if (key == "factor") {
    std::optional<double> f = TomlNumber(v);
    if (!f || !(*f > 1) || !std::isfinite(*f)) return bad(at, "must be a number above 1, e.g. 3");
    out.spike.factor = *f;
  } else if (key == "window") {
    if (!v.is_integer() || v.as_integer() < 1 || v.as_integer() > 1000000) {
      return bad(at, "must be an integer >= 1: previous steps in the median, e.g. 10");
    }
    out.spike.window = static_cast<int>(v.as_integer());
  } else if (key == "min_history") {
    if (!v.is_integer() || v.as_integer() < 1 || v.as_integer() > 1000000) {
      return bad(at, "must be an integer >= 1 and at most window, e.g. 5");
    }
    out.spike.min_history = static_cast<int>(v.as_integer());
  } else if (key == "margin") {
    std::optional<double> m = TomlNumber(v);
    if (!m || !(*m >= 0) || !(*m < 1)) return bad(at, "must be a number in [0, 1), e.g. 0.05");
    out.learning.margin = *m;
  }
  return Status::Ok();
}

Status ParseChecks(const toml::value& checks, const std::string& path, const fs::path& base,
                   golden::HealthOptions& out) {
  auto bad = [&](const std::string& key, const std::string& fix) {
    return Status::BadInput(fmt::format("{}: checks.{} {}", path, key, fix));
  };
  if (!checks.is_table()) {
    return Status::BadInput(
        fmt::format("{}: checks must be a table: [checks.frozen] policy = \"warn\"", path));
  }
  for (const auto& [name, table] : checks.as_table()) {
    auto known = kCheckKeys.find(name);
    if (known == kCheckKeys.end()) {
      std::vector<std::string> names;
      for (const auto& [n, keys] : kCheckKeys) names.push_back(n);
      return Status::BadInput(fmt::format("{}: unknown check \"checks.{}\"; checks: {}", path, name,
                                          fmt::join(names, ", ")));
    }
    if (!table.is_table()) {
      return bad(name, fmt::format("must be a table: [checks.{}] policy = \"warn\"", name));
    }
    for (const auto& [key, v] : table.as_table()) {
      if (!known->second.count(key)) {
        return Status::BadInput(fmt::format("{}: unknown key \"checks.{}.{}\"; valid keys: {}",
                                            path, name, key, fmt::join(known->second, ", ")));
      }
      LOCKSTEP_RETURN_IF_ERROR(ParseCheckKey(name, key, v, path, base, out));
    }
  }
  if (out.spike.min_history > out.spike.window) {
    return bad("spike.min_history",
               fmt::format("({}) must be at most checks.spike.window ({}): lower it or widen "
                           "the window",
                           out.spike.min_history, out.spike.window));
  }
  return Status::Ok();
}

Result<golden::MetricPolicy> ParsePolicy(const toml::value& v, const std::string& where) {
  if (v.is_string()) {
    const std::string s = v.as_string().str;
    if (s == "exact") return golden::ExactPolicy();
    if (s == "ignore") return golden::IgnorePolicy();
  } else if (v.is_table()) {
    const auto& t = v.as_table();
    if (t.size() == 1 && t.count("ulps") && t.at("ulps").is_integer() &&
        t.at("ulps").as_integer() >= 0) {
      return golden::UlpsPolicy(t.at("ulps").as_integer());
    }
    bool ok = !t.empty();
    double rtol = 0, atol = 0;
    for (const auto& [k, x] : t) {
      if ((k != "rtol" && k != "atol") || !(x.is_floating() || x.is_integer())) ok = false;
      const double d = x.is_floating()  ? x.as_floating()
                       : x.is_integer() ? static_cast<double>(x.as_integer())
                                        : 0;
      (k == "rtol" ? rtol : atol) = d;
    }
    if (ok && rtol >= 0 && atol >= 0) return golden::TolerancePolicy(rtol, atol);
  }
  return Status::BadInput(fmt::format(
      "{}: a policy is \"exact\", \"ignore\", {{ ulps = N }} or {{ rtol = R, atol = A }}", where));
}

// What runs the case, checked: the profile, a trainer config xor another
// trainer's command (with a parser that can read its log), and that the
// config exists.
Status CheckHowItRuns(const SmokeCase& c, const TomlFields& f) {
  const std::string& path = c.path;
  auto where = [&](const std::string& key) { return fmt::format("{}: {}", path, key); };
  if (c.profile != "portable" && c.profile != "openblas") {
    return Status::BadInput(
        fmt::format("{}: profile = \"{}\": use \"portable\" or \"openblas\"", path, c.profile));
  }
  if (f.Has("config") && c.config.empty())
    return Status::BadInput(where("config") + " is empty: name a config file");
  if (f.Has("command") && c.command.empty()) {
    return Status::BadInput(where("command") + " is empty: give the program and its arguments");
  }
  if (!c.command.empty() && (f.Has("set") || f.Has("threads") || f.Has("profile"))) {
    return Status::BadInput(
        fmt::format("{}: set, threads and profile apply to lockstep's trainer (config = ...), "
                    "not to a command; pass them in the command itself",
                    path));
  }
  {
    Result<LogFormat> format = ParseLogFormat(c.parser);
    if (!format.ok()) return Status::BadInput(where("parser") + ": " + format.status().message());
    Result<LineParser> line_parser = LineParser::Create(*format, c.regex);
    if (!line_parser.ok())
      return Status::BadInput(where(c.regex.empty() ? "parser" : "regex") + ": " +
                              line_parser.status().message());
  }
  if (c.config.empty() == c.command.empty()) {
    return Status::BadInput(fmt::format(
        "{}: give either `config = \"...\"` (lockstep's trainer) or `command = [...]` (another "
        "trainer), not {}",
        path, c.config.empty() ? "neither" : "both"));
  }
  if (!c.config.empty() && !fs::exists(c.config)) {
    return Status::BadInput(fmt::format(
        "{}: config {} does not exist; fix the path (relative to the case file)", path, c.config));
  }
  return Status::Ok();
}

// [policy]: a tolerance per metric.
Status ParsePolicies(const toml::value& root, const std::string& path, SmokeCase& c) {
  auto where = [&](const std::string& key) { return fmt::format("{}: {}", path, key); };
  if (root.contains("policy")) {
    if (!root.at("policy").is_table())
      return Status::BadInput(where("policy") + " must be a table");
    for (const auto& [metric, v] : root.at("policy").as_table()) {
      Result<golden::MetricPolicy> p = ParsePolicy(v, where("policy." + metric));
      if (!p.ok()) return p.status();
      c.policies.per_metric[metric] = *p;
    }
  }
  return Status::Ok();
}

}  // namespace

Result<SmokeCase> LoadSmokeCase(const std::string& path) {
  Result<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  Result<toml::value> parsed = ParseTomlText(*text, path);
  if (!parsed.ok()) return parsed.status();
  const toml::value root = std::move(parsed).value();
  SmokeCase c;
  c.path = path;
  c.name = fs::path(path).stem().string();
  const fs::path base = fs::path(path).parent_path();
  auto where = [&](const std::string& key) { return fmt::format("{}: {}", path, key); };
  TomlFields f(root, path);
  LOCKSTEP_RETURN_IF_ERROR(f.OnlyKeys(std::vector<std::string>(kKeys.begin(), kKeys.end())));
  Result<std::string> description = f.String("description", "");
  Result<std::string> config = f.String("config", "");
  Result<std::vector<std::string>> overrides = f.Strings("set", std::vector<std::string>{});
  Result<std::int64_t> steps = f.Int("steps", 1, 1'000'000, 50);
  Result<std::int64_t> threads = f.Int("threads", 1, 256, 1);
  Result<std::int64_t> world_size = f.Int("world_size", 1, 4096, 1);
  Result<std::string> profile = f.String("profile", "portable");
  Result<std::vector<std::string>> command = f.Strings("command", std::vector<std::string>{});
  Result<std::string> parser = f.String("parser", "jsonl");
  Result<std::string> regex = f.String("regex", "");
  if (!f.Has("golden")) {
    return Status::BadInput(fmt::format(
        "{}: no `golden = \"...\"`; name the golden file (it is created by --update)", path));
  }
  Result<std::string> golden_path = f.String("golden");
  for (const Status& st :
       {description.status(), config.status(), overrides.status(), steps.status(), threads.status(),
        world_size.status(), profile.status(), command.status(), parser.status(), regex.status(),
        golden_path.status()}) {
    if (!st.ok()) return st;
  }
  c.description = *description;
  if (!config->empty()) c.config = Resolve(base, *config);
  c.overrides = *overrides;
  c.steps = static_cast<int>(*steps);
  c.threads = static_cast<int>(*threads);
  c.world_size = static_cast<int>(*world_size);
  c.profile = *profile;
  c.command = *command;
  c.parser = *parser;
  c.regex = *regex;
  if (golden_path->empty())
    return Status::BadInput(where("golden") + " is empty: name the golden file");
  c.golden = Resolve(base, *golden_path);
  LOCKSTEP_RETURN_IF_ERROR(CheckHowItRuns(c, f));
  LOCKSTEP_RETURN_IF_ERROR(ParsePolicies(root, path, c));
  if (root.contains("checks")) {
    Status st = ParseChecks(root.at("checks"), path, base, c.checks);
    if (!st.ok()) return st;
  }
  return c;
}

Result<std::vector<SmokeCase>> LoadSmokeSuite(const std::string& dir) {
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".toml") files.push_back(entry.path().string());
  }
  if (ec)
    return Status::BadInput(
        fmt::format("{}: cannot list cases: {} (pass --cases DIR)", dir, ec.message()));
  if (files.empty()) return Status::BadInput(fmt::format("{}: no case files (*.toml)", dir));
  std::sort(files.begin(), files.end());
  std::vector<SmokeCase> cases;
  for (const std::string& f : files) {
    Result<SmokeCase> c = LoadSmokeCase(f);
    if (!c.ok()) return c.status();
    cases.push_back(std::move(c).value());
  }
  return cases;
}

}  // namespace lockstep::smoke
