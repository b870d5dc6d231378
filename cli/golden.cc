// lockstep golden: show, diff and check golden files and record streams.
#include <fmt/format.h>

#include <iostream>

#include "cli/command.h"
#include "golden/compare.h"

namespace lockstep::cli {
namespace {

// A golden file (.toml) or a record stream (anything else).
Result<golden::RunRecord> LoadRun(const std::string& path) {
  return path.ends_with(".toml") ? golden::LoadGolden(path) : golden::LoadRecordStream(path);
}

std::string Cell(const golden::StepRow* row, const char* metric) {
  if (row == nullptr) return "-";
  const golden::MetricValue* m = row->Find(metric);
  if (m == nullptr) return "-";
  return m->kind == golden::MetricValue::Kind::kFloat ? fmt::format("{:.7g}", m->f) : m->ToString();
}

int PrintComparison(const golden::Comparison& c) {
  std::cout << golden::DiagnosisName(c.diagnosis) << ": " << c.summary << "\n";
  if (!c.detail.empty() && c.diagnosis != golden::Diagnosis::kPass) std::cout << c.detail << "\n";
  for (const auto& d : c.diffs) {
    std::cout << fmt::format(
        "  {:<15} golden {:<22} run {:<22}{}\n", d.metric, d.golden, d.run,
        d.ulps  ? fmt::format(" {} ULPs", *d.ulps)
        : d.abs ? fmt::format(" off by {:.3g} (relative {:.3g})", *d.abs, d.rel.value_or(0))
                : "");
  }
  if (!c.env_diff.empty()) {
    std::cout << "environment, golden -> run:\n";
    for (const auto& e : c.env_diff) std::cout << "  " << e << "\n";
  }
  switch (c.diagnosis) {
    case golden::Diagnosis::kPass:
      return 0;
    case golden::Diagnosis::kConfig:
      return 2;
    case golden::Diagnosis::kCrash:
      return 3;
    default:
      return 1;
  }
}

// lockstep golden show FILE
int Show(const std::string& path) {
  Result<golden::RunRecord> r = LoadRun(path);
  if (!r.ok()) return Report(r.status());
  const auto& h = r->header;
  std::cout << fmt::format(
      "{}\n  case            {}\n  config digest   {}\n  manifest digest {}\n"
      "  profile         {}\n  tool version    {}\n",
      path, h.case_name, h.config_digest, h.manifest_digest, h.profile, h.tool_version);
  for (const auto& [k, v] : h.env.items()) {
    std::cout << fmt::format("  env.{:<12} {}\n", k,
                             v.is_string() ? v.get<std::string>() : v.dump());
  }
  std::cout << fmt::format("{:>6}  {:>12}  {:>12}  {:>12}  {:<16}  {:<16}  {:>12}\n", "step",
                           "loss", "grad_norm", "lr", "batch_digest", "param_digest", "mem_peak");
  for (const auto& s : r->steps) {
    std::cout << fmt::format("{:>6}  {:>12}  {:>12}  {:>12}  {:<16}  {:<16}  {:>12}\n", s.step,
                             Cell(&s, "loss"), Cell(&s, "grad_norm"), Cell(&s, "lr"),
                             Cell(&s, "batch_digest"), Cell(&s, "param_digest"),
                             Cell(&s, "mem_peak_bytes"));
  }
  return 0;
}

// lockstep golden diff A B
int Diff(const std::string& a, const std::string& b) {
  Result<golden::RunRecord> ra = LoadRun(a), rb = LoadRun(b);
  if (!ra.ok() || !rb.ok()) return Report(!ra.ok() ? ra.status() : rb.status());
  golden::Comparison c = golden::Compare(*ra, *rb, {});
  const std::int64_t stop = c.first_divergent_step.value_or(INT64_MAX);
  std::cout << fmt::format("{:>6}  {:>14} {:>14}  {:>12} {:>12}  {}\n", "step", "loss A", "loss B",
                           "grad_norm A", "grad_norm B", "");
  const std::size_t n = std::max(ra->steps.size(), rb->steps.size());
  for (std::size_t i = 0; i < n; ++i) {
    const golden::StepRow* x = i < ra->steps.size() ? &ra->steps[i] : nullptr;
    const golden::StepRow* y = i < rb->steps.size() ? &rb->steps[i] : nullptr;
    const std::int64_t step = x ? x->step : y->step;
    if (step > stop) break;
    std::cout << fmt::format("{:>6}  {:>14} {:>14}  {:>12} {:>12}  {}\n", step, Cell(x, "loss"),
                             Cell(y, "loss"), Cell(x, "grad_norm"), Cell(y, "grad_norm"),
                             step == stop ? "<- first divergence" : "");
  }
  return PrintComparison(c);
}

// lockstep golden check RUN GOLDEN
int Check(const std::string& run, const std::string& gold) {
  Result<golden::RunRecord> r = LoadRun(run);
  Result<golden::RunRecord> g = golden::LoadGolden(gold);
  if (!r.ok() || !g.ok()) return Report(!r.ok() ? r.status() : g.status());
  return PrintComparison(golden::Compare(*g, *r, {}));
}

}  // namespace

void RegisterGolden(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("golden", "Show, diff and check golden files and record streams");
  cmd->require_subcommand(1);
  cmd->footer(
      "Examples:\n"
      "  lockstep golden show golden/cases/tiny.toml\n"
      "  lockstep golden diff golden/cases/tiny.toml out/run.jsonl\n"
      "  lockstep golden check out/run.jsonl golden/cases/tiny.toml\n"
      "Files ending in .toml are goldens; others are record streams (lockstep train --record).");

  auto show_path = std::make_shared<std::string>();
  auto* show =
      cmd->add_subcommand("show", "Print a golden's (or record stream's) header and steps");
  show->add_option("FILE", *show_path, "Golden file or record stream")->required();
  show->footer("Example:\n  lockstep golden show golden/cases/tiny.toml");
  show->callback([=, &exit_code] { exit_code = Show(*show_path); });

  auto a = std::make_shared<std::string>(), b = std::make_shared<std::string>();
  auto* diff =
      cmd->add_subcommand("diff", "Side by side, per metric, up to and at the first divergence");
  diff->add_option("A", *a, "Golden or record stream (the reference)")->required();
  diff->add_option("B", *b, "Golden or record stream")->required();
  diff->footer(
      "Example:\n  lockstep golden diff golden/cases/tiny.toml out/runs/tiny.jsonl\n"
      "Exit codes: 0 pass, 1 a regression (the diagnosis names its kind), 2 bad input or a\n"
      "config diagnosis, 3 the run crashed.");
  diff->callback([=, &exit_code] { exit_code = Diff(*a, *b); });

  auto run = std::make_shared<std::string>(), gold = std::make_shared<std::string>();
  auto* check =
      cmd->add_subcommand("check", "Compare a run with a golden under the default policies");
  check->add_option("RUN", *run, "Record stream (or golden) of the run")->required();
  check->add_option("GOLDEN", *gold, "Golden file")->required();
  check->footer(
      "Example:\n  lockstep golden check out/runs/tiny.jsonl golden/cases/tiny.toml\n"
      "Exit codes: 0 pass, 1 a regression (the diagnosis names its kind), 2 bad input or a\n"
      "config diagnosis, 3 the run crashed.");
  check->callback([=, &exit_code] { exit_code = Check(*run, *gold); });
}

}  // namespace lockstep::cli
