// lockstep smoke: the gate. Runs the suite against its goldens.
#include <fmt/format.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "cli/command.h"
#include "core/interrupt.h"
#include "smoke/html_report.h"
#include "smoke/suite.h"

namespace lockstep::cli {
namespace {

// --timeout: a finite number of seconds above 0 (nan or inf would disable
// the watchdog, 0 would call every run a hang).
std::string FinitePositive(const std::string& text) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(v) || !(v > 0)) {
    return "must be a finite number of seconds above 0, e.g. 600";
  }
  return "";
}

// smoke/cases in the working directory, else in the source tree this binary
// was built from.
std::string DefaultCasesDir() {
  if (std::filesystem::is_directory("smoke/cases")) return "smoke/cases";
  return LOCKSTEP_SOURCE_DIR "/smoke/cases";
}

// The named cases (a name, or a path ending in .toml), or every case in `dir`.
Result<std::vector<smoke::SmokeCase>> LoadCases(const std::vector<std::string>& names,
                                                const std::string& dir) {
  if (names.empty()) return smoke::LoadSmokeSuite(dir);
  std::vector<smoke::SmokeCase> cases;
  for (const std::string& n : names) {
    std::string path =
        n.ends_with(".toml") ? n : (std::filesystem::path(dir) / (n + ".toml")).string();
    Result<smoke::SmokeCase> c = smoke::LoadSmokeCase(path);
    if (!c.ok()) return c.status();
    cases.push_back(std::move(c).value());
  }
  return cases;
}

// --runs DIR, created now: a run that cannot write its record there would
// look like a crash.
Status CreateRunsDir(const std::string& dir) {
  if (dir.empty()) return Status::Ok();
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (!ec) return Status::Ok();
  return Status::BadInput(fmt::format("--runs {}: cannot create it ({}); give a writable directory",
                                      dir, ec.message()));
}

}  // namespace

void RegisterSmoke(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand(
      "smoke",
      "Run the smoke suite: each case trains (or runs another trainer), is compared step by\n"
      "step with its golden file, and any divergence is diagnosed: data, numerics, state,\n"
      "memory, crash, hang or config. Then health checks judge the run on its own: frozen\n"
      "parameters, step-1 loss scale, loss/grad-norm spikes, and whether held-out loss fell\n"
      "(policies per case: [checks.NAME] policy = \"fail\" | \"warn\" | \"off\"; see "
      "smoke/README.md)");
  auto names = std::make_shared<std::vector<std::string>>();
  auto cases_dir = std::make_shared<std::string>();
  auto o = std::make_shared<smoke::SmokeOptions>();
  auto json = std::make_shared<std::string>();
  auto junit = std::make_shared<std::string>();
  auto report = std::make_shared<std::string>();
  auto quiet = std::make_shared<bool>(false);
  cmd->add_option("CASE", *names, "Cases to run (default: all in --cases)");
  cmd->add_option("--cases", *cases_dir, "Directory of case files [default: smoke/cases]");
  cmd->add_flag("--update", o->update,
                "Record or re-record the goldens (atomically) instead of comparing");
  cmd->add_flag("--force", o->force, "With --update: record even a run that failed");
  cmd->add_option("--json", *json,
                  "Write a JSON summary (one object per case, with every attempt)");
  cmd->add_option("--junit", *junit, "Write a JUnit XML report");
  cmd->add_option("--report", *report,
                  "Write DIR/index.html: summary and loss/grad-norm plots, run against golden");
  cmd->add_option("--timeout", o->timeout,
                  "Seconds without output before the watchdog kills a run (exit 124)")
      ->capture_default_str()
      ->check(FinitePositive);
  cmd->add_option("--retries", o->retries, "Re-run a case that crashed or hung, up to N times")
      ->capture_default_str()
      ->check(CLI::Range(0, 100));
  cmd->add_option("--retry-backoff", o->backoff_base,
                  "First retry delay in seconds, doubled each time, at most 60")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 60.0))
      ->group("");  // for tests; the default is the documented 5 s
  cmd->add_option("--runs", o->work_dir,
                  "Where runs write their record streams; a diverged case's stays there, for "
                  "lockstep bisect steps [default: $TMPDIR]");
  cmd->add_flag("-q,--quiet", *quiet, "No per-step lines");
  cmd->footer(
      "Examples:\n"
      "  lockstep smoke                      the whole suite\n"
      "  lockstep smoke tiny --junit out/junit.xml\n"
      "  lockstep smoke blend-shift --update re-record one golden\n"
      "Exit codes: 0 all pass, 1 regression or a failed health check, 2 bad case/golden/config, 3 "
      "crash, 124 hang\n"
      "(the most severe over all cases).");
  cmd->callback([=, &exit_code] {
    const std::string dir = cases_dir->empty() ? DefaultCasesDir() : *cases_dir;
    Result<std::vector<smoke::SmokeCase>> cases = LoadCases(*names, dir);
    Status runs_dir = cases.ok() ? CreateRunsDir(o->work_dir) : cases.status();
    if (!runs_dir.ok()) {
      exit_code = Report(runs_dir);
      return;
    }
    smoke::SmokeOptions options = *o;
    options.lockstep_binary = SelfPath();
    options.live = !*quiet;
    // Ctrl-C, a CI cancel (SIGTERM) or a closed terminal (SIGHUP): the
    // running case's process group is ended before lockstep exits 128 + signal.
    InterruptScope interrupts;
    options.cancel = &InterruptScope::Flag();
    std::cout << "lockstep smoke: " << cases->size() << " case" << (cases->size() == 1 ? "" : "s")
              << (names->empty() ? " from " + dir : std::string()) << "\n";
    smoke::SuiteResult result = smoke::RunSuite(*cases, options, std::cout);
    smoke::PrintSummary(result, std::cout);
    exit_code = result.exit_code;
    // A report that cannot be written is a failure of the gate: CI would
    // publish nothing, or an old report.
    for (const Status& st :
         {json->empty() ? Status::Ok() : smoke::WriteJsonReport(result, *json),
          junit->empty() ? Status::Ok() : smoke::WriteJUnitReport(result, *junit),
          report->empty() ? Status::Ok() : smoke::WriteHtmlReport(result, *report)}) {
      if (!st.ok() && exit_code <= 128) exit_code = Report(st);
    }
  });
}

}  // namespace lockstep::cli
