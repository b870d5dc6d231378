#include "smoke/smoke_case.h"

#include <algorithm>
#include <filesystem>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <set>
#include <sstream>
#include <toml.hpp>

#include "core/atomic_file.h"

namespace lockstep::smoke {
namespace {

namespace fs = std::filesystem;

const std::set<std::string> kKeys = {"description", "config", "set",    "steps",  "threads",
                                     "world_size",  "profile", "command", "parser", "regex",
                                     "golden",      "policy"};

Result<golden::MetricPolicy> ParsePolicy(const toml::value& v, const std::string& where) {
  if (v.is_string()) {
    const std::string s = v.as_string().str;
    if (s == "exact") return golden::ExactPolicy();
    if (s == "ignore") return golden::IgnorePolicy();
  } else if (v.is_table()) {
    const auto& t = v.as_table();
    if (t.size() == 1 && t.count("ulps") && t.at("ulps").is_integer() && t.at("ulps").as_integer() >= 0) {
      return golden::UlpsPolicy(t.at("ulps").as_integer());
    }
    bool ok = !t.empty();
    double rtol = 0, atol = 0;
    for (const auto& [k, x] : t) {
      if ((k != "rtol" && k != "atol") || !(x.is_floating() || x.is_integer())) ok = false;
      const double d = x.is_floating() ? x.as_floating() : x.is_integer() ? static_cast<double>(x.as_integer()) : 0;
      (k == "rtol" ? rtol : atol) = d;
    }
    if (ok && rtol >= 0 && atol >= 0) return golden::TolerancePolicy(rtol, atol);
  }
  return Status::BadInput(fmt::format(
      "{}: a policy is \"exact\", \"ignore\", {{ ulps = N }} or {{ rtol = R, atol = A }}", where));
}

std::string Resolve(const fs::path& base, const std::string& p) {
  fs::path path(p);
  return path.is_absolute() ? path.string() : (base / path).lexically_normal().string();
}

}  // namespace

Result<SmokeCase> LoadSmokeCase(const std::string& path) {
  Result<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  toml::value root;
  std::istringstream in(*text);
  try {
    root = toml::parse(in, path);
  } catch (const std::exception& e) {
    return Status::BadInput(fmt::format("{}: TOML syntax error; fix the case file:\n{}", path, e.what()));
  }
  SmokeCase c;
  c.path = path;
  c.name = fs::path(path).stem().string();
  const fs::path base = fs::path(path).parent_path();
  auto where = [&](const std::string& key) { return fmt::format("{}: {}", path, key); };
  try {
    for (const auto& [key, value] : root.as_table()) {
      if (!kKeys.count(key)) {
        return Status::BadInput(fmt::format("{}: unknown key \"{}\"; valid keys: {}", path, key,
                                            fmt::join(kKeys, ", ")));
      }
    }
    c.description = toml::find_or<std::string>(root, "description", "");
    if (root.contains("config")) c.config = Resolve(base, toml::find<std::string>(root, "config"));
    c.overrides = toml::find_or<std::vector<std::string>>(root, "set", {});
    c.steps = toml::find_or<int>(root, "steps", 50);
    c.threads = toml::find_or<int>(root, "threads", 1);
    c.world_size = toml::find_or<int>(root, "world_size", 1);
    c.profile = toml::find_or<std::string>(root, "profile", "portable");
    c.command = toml::find_or<std::vector<std::string>>(root, "command", {});
    c.parser = toml::find_or<std::string>(root, "parser", "jsonl");
    c.regex = toml::find_or<std::string>(root, "regex", "");
    if (!root.contains("golden")) {
      return Status::BadInput(fmt::format(
          "{}: no `golden = \"...\"`; name the golden file (it is created by --update)", path));
    }
    c.golden = Resolve(base, toml::find<std::string>(root, "golden"));
  } catch (const std::exception& e) {
    return Status::BadInput(fmt::format("{}: {}", path, e.what()));
  }
  if (root.contains("policy")) {
    if (!root.at("policy").is_table()) return Status::BadInput(where("policy") + " must be a table");
    for (const auto& [metric, v] : root.at("policy").as_table()) {
      Result<golden::MetricPolicy> p = ParsePolicy(v, where("policy." + metric));
      if (!p.ok()) return p.status();
      c.policies.per_metric[metric] = *p;
    }
  }
  if (c.config.empty() == c.command.empty()) {
    return Status::BadInput(fmt::format(
        "{}: give either `config = \"...\"` (lockstep's trainer) or `command = [...]` (another "
        "trainer), not {}",
        path, c.config.empty() ? "neither" : "both"));
  }
  if (!c.config.empty() && !fs::exists(c.config)) {
    return Status::BadInput(fmt::format("{}: config {} does not exist; fix the path (relative to the case file)",
                                        path, c.config));
  }
  if (c.steps < 1 || c.threads < 1 || c.world_size < 1) {
    return Status::BadInput(fmt::format("{}: steps, threads and world_size must be at least 1", path));
  }
  return c;
}

Result<std::vector<SmokeCase>> LoadSmokeSuite(const std::string& dir) {
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".toml") files.push_back(entry.path().string());
  }
  if (ec) return Status::BadInput(fmt::format("{}: cannot list cases: {} (pass --cases DIR)", dir, ec.message()));
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
