#include "smoke/suite.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/atomic_file.h"
#include "core/interrupt.h"
#include "core/report.h"
#include "smoke/log_parser.h"
#include "smoke/markup.h"

namespace lockstep::smoke {
namespace {

namespace fs = std::filesystem;
using golden::Diagnosis;

std::string Decimal(const golden::StepRow& row, const char* metric) {
  const golden::MetricValue* m = row.Find(metric);
  if (m == nullptr) return "-";
  if (m->kind == golden::MetricValue::Kind::kFloat) return fmt::format("{:.6f}", m->f);
  return m->ToString();
}

// The mark of one live step against its golden step: "=" every strictly
// compared metric bit-identical, "~" within policy, "X" out of policy, "?" no
// golden step.
std::string Mark(const golden::StepRow& run, const golden::RunRecord& g, const golden::Policies& p,
                 bool* diverged) {
  // Goldens hold steps 1, 2, ... in order: look at the expected place first.
  const golden::StepRow* gs = nullptr;
  const std::size_t at = static_cast<std::size_t>(run.step - 1);
  if (run.step >= 1 && at < g.steps.size() && g.steps[at].step == run.step) {
    gs = &g.steps[at];
  } else {
    for (const auto& s : g.steps) {
      if (s.step == run.step) gs = &s;
    }
  }
  if (gs == nullptr) return "?";
  bool identical = true;
  for (const auto& [name, gv] : gs->metrics) {
    const golden::MetricPolicy policy = p.For(name);
    if (policy.kind == golden::MetricPolicy::Kind::kIgnore) continue;
    const golden::MetricValue* rv = run.Find(name);
    if (rv == nullptr || !golden::Within(gv, *rv, policy)) {
      *diverged = true;
      return "X";
    }
    // rss and other tolerance metrics always wobble: "=" is about the
    // metrics compared bit for bit (or by ULPs).
    const bool strict = policy.kind == golden::MetricPolicy::Kind::kExact ||
                        policy.kind == golden::MetricPolicy::Kind::kUlps;
    if (strict && !(gv == *rv)) identical = false;
  }
  return identical ? "=" : "~";
}

// Reads the lines a growing record file gained since the last call.
class RecordTail {
 public:
  explicit RecordTail(std::string path) : path_(std::move(path)) {}
  std::vector<nlohmann::json> Poll() {
    std::vector<nlohmann::json> lines;
    std::ifstream in(path_);
    if (!in) return lines;
    in.seekg(static_cast<std::streamoff>(offset_));
    std::string line;
    while (std::getline(in, line)) {
      if (in.eof()) break;  // no newline yet: the writer is mid-line
      offset_ += line.size() + 1;
      nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_discarded()) lines.push_back(std::move(j));
    }
    return lines;
  }

 private:
  std::string path_;
  std::size_t offset_ = 0;
};

// A check's word in the terminal's compact line and the summary.
const char* CheckWord(golden::CheckOutcome o) {
  switch (o) {
    case golden::CheckOutcome::kPass:
      return "ok";
    case golden::CheckOutcome::kWarn:
      return "warn";
    case golden::CheckOutcome::kFail:
      return "FAIL";
    case golden::CheckOutcome::kOff:
      return "off";
    case golden::CheckOutcome::kNotApplicable:
      return "n/a";
  }
  return "?";
}

// "health check loss_scale failed", "health checks frozen, spike failed",
// or "" if none did; each check's own line says why.
std::string FailedChecks(const std::vector<golden::CheckResult>& checks) {
  std::vector<std::string> names;
  for (const golden::CheckResult& r : checks) {
    if (r.outcome == golden::CheckOutcome::kFail) names.push_back(r.check);
  }
  if (names.empty()) return "";
  return fmt::format("health check{} {} failed", names.size() == 1 ? "" : "s",
                     fmt::join(names, ", "));
}

// The case failed its comparison or its run, not only a health check.
bool CaseItselfFailed(const CaseResult& r) {
  if (r.outcome == CaseOutcome::kPass || r.outcome == CaseOutcome::kUpdated) return false;
  return !(r.outcome == CaseOutcome::kRegression && r.comparison.diagnosis == Diagnosis::kPass);
}

// JUnit testcases for a case's health checks: a failure element for fail,
// system-out for warn, skipped for off and n/a.
std::string CheckTestcases(const CaseResult& r) {
  std::string x;
  for (const golden::CheckResult& k : r.checks) {
    std::string text = k.summary;
    for (const std::string& d : k.detail) text += "\n" + d;
    x += fmt::format("    <testcase classname=\"lockstep.smoke.checks\" name=\"{}/{}\" time=\"0\"",
                     EscapeMarkup(r.name), EscapeMarkup(k.check));
    switch (k.outcome) {
      case golden::CheckOutcome::kPass:
        x += "/>\n";
        continue;
      case golden::CheckOutcome::kFail:
        x += fmt::format(">\n      <failure type=\"{}\" message=\"{}\">{}</failure>\n",
                         EscapeMarkup(k.check), EscapeMarkup(k.summary), EscapeMarkup(text));
        break;
      case golden::CheckOutcome::kWarn:
        x += ">\n      <system-out>WARN: " + EscapeMarkup(text) + "</system-out>\n";
        break;
      case golden::CheckOutcome::kOff:
      case golden::CheckOutcome::kNotApplicable:
        x += fmt::format(">\n      <skipped message=\"{}: {}\"/>\n",
                         golden::CheckOutcomeName(k.outcome), EscapeMarkup(k.summary));
        break;
    }
    x += "    </testcase>\n";
  }
  return x;
}

// Which case's exit code the suite exits with: the most severe.
int Severity(int exit_code) {
  if (exit_code > 128) return 5;  // interrupted: nothing after it ran
  switch (static_cast<ExitCode>(exit_code)) {
    case ExitCode::kBadInput:
      return 4;
    case ExitCode::kCrash:
      return 3;
    case ExitCode::kHang:
      return 2;
    case ExitCode::kFailed:
      return 1;
    default:
      return 0;
  }
}

std::vector<std::string> TrainerCommand(const SmokeCase& c, const SmokeOptions& o,
                                        const std::string& record) {
  std::vector<std::string> argv = {o.lockstep_binary, "train",
                                   "--config",        c.config,
                                   "--set",           fmt::format("train.steps={}", c.steps),
                                   "--set",           fmt::format("numerics.threads={}", c.threads),
                                   "--set",           "numerics.profile=" + c.profile};
  for (const std::string& s : c.overrides) {
    argv.push_back("--set");
    argv.push_back(s);
  }
  argv.push_back("--record");
  argv.push_back(record);
  return argv;
}

}  // namespace

std::vector<std::string> UnderMpirun(int world_size, std::vector<std::string> argv) {
  if (world_size <= 1) return argv;
  std::vector<std::string> mpi = {"mpirun", "-np", std::to_string(world_size)};
  if (static_cast<unsigned>(world_size) > std::thread::hardware_concurrency())
    mpi.push_back("--oversubscribe");
  if (::geteuid() == 0) mpi.push_back("--allow-run-as-root");
  mpi.insert(mpi.end(), argv.begin(), argv.end());
  return mpi;
}

// "crash at step 7: loss is nan" for the first step whose values are not
// finite; nullopt when every step's are.
std::optional<std::string> FirstNonFiniteStep(const golden::RunRecord& run) {
  for (const golden::StepRow& row : run.steps) {
    if (std::optional<std::string> why = golden::NonFinite(row)) {
      return fmt::format("crash at step {}: {}", row.step, *why);
    }
  }
  return std::nullopt;
}

std::vector<std::string> CaseCommand(const SmokeCase& c, const SmokeOptions& o,
                                     const std::string& record) {
  return UnderMpirun(c.world_size, c.external() ? c.command : TrainerCommand(c, o, record));
}

namespace {

// One case from its first attempt to its verdict. RunCase is Run(): each
// step below is one method, sharing the case's state.
class CaseRun {
 public:
  CaseRun(const SmokeCase& c, const SmokeOptions& o, std::ostream& out)
      : c_(c), o_(o), out_(out), start_(std::chrono::steady_clock::now()) {
    result_.name = c.name;
  }

  CaseResult Run() {
    PrintHeading();
    if (std::optional<std::string> bad = LoadReferences())
      return Finish(CaseOutcome::kBadInput, *bad);
    for (int attempt = 1;; ++attempt) {
      if (std::optional<CaseResult> ended = RunAttempt(attempt)) return *ended;
      if (!ShouldRetry(attempt)) break;
      WaitBeforeRetry(attempt);
    }
    const Attempt& last = result_.attempts.back();
    // Health checks on a run that finished: a crash, a hang or a refused
    // config has said enough.
    if (last.classification == AttemptClass::kPass ||
        last.classification == AttemptClass::kMismatch) {
      result_.checks = golden::RunHealthChecks(result_.run, c_.checks, same_loss_ref_);
    }
    return o_.update ? ConcludeUpdate(last) : Conclude(last);
  }

 private:
  // An external command's threads and steps are its own business.
  void PrintHeading() {
    out_ << fmt::format("-- {}  ({}{}{}, golden {})\n", c_.name,
                        c_.external() ? "command, parser " + c_.parser : c_.profile + " profile",
                        c_.world_size > 1 ? fmt::format(", {} ranks", c_.world_size) : "",
                        c_.external() ? std::string()
                                      : fmt::format(", {} thread{}, {} steps", c_.threads,
                                                    c_.threads == 1 ? "" : "s", c_.steps),
                        c_.golden);
  }

  CaseResult Finish(CaseOutcome outcome, std::string message, bool checks_failed = false) {
    result_.outcome = outcome;
    result_.exit_code = ExitCodeFor(outcome, checks_failed, InterruptScope::Signal());
    result_.message = std::move(message);
    result_.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    return result_;
  }

  // The golden, checks.loss_scale.same_loss_as's golden and the log format,
  // all read before anything runs; the message when one is unusable.
  std::optional<std::string> LoadReferences() {
    if (!o_.update || fs::exists(c_.golden)) {
      Result<golden::RunRecord> g = golden::LoadGolden(c_.golden);
      if (g.ok() && !c_.external()) {
        // A golden that covers fewer steps than the case runs would pass them unchecked.
        Status covers = golden::CheckGoldenSteps(*g, c_.steps, c_.golden);
        if (!covers.ok()) g = covers;
      }
      if (!g.ok()) {
        if (!o_.update) return g.status().message();
      } else {
        result_.golden = std::move(g).value();
        have_golden_ = true;
      }
    }
    if (!c_.checks.loss_scale.same_loss_as.empty() &&
        c_.checks.loss_scale.policy != golden::CheckPolicy::kOff) {
      Result<golden::RunRecord> ref = golden::LoadGolden(c_.checks.loss_scale.same_loss_as);
      if (!ref.ok()) {
        return fmt::format("{}: checks.loss_scale.same_loss_as: {}", c_.path,
                           ref.status().message());
      }
      same_loss_ = std::move(ref).value();
      same_loss_ref_ = &same_loss_;
    }
    Result<LogFormat> format = ParseLogFormat(c_.parser);
    if (!format.ok()) return c_.path + ": " + format.status().message();
    format_ = *format;
    return std::nullopt;
  }

  // Runs the case once and classifies the attempt; a result when the case
  // ends here (bad input, interrupted).
  std::optional<CaseResult> RunAttempt(int number) {
    Attempt a;
    a.number = number;
    const std::string work = o_.work_dir.empty() ? fs::temp_directory_path().string() : o_.work_dir;
    const std::string record =
        (fs::path(work) / fmt::format("lockstep-smoke-{}-{}-{}.jsonl", c_.name, ::getpid(), number))
            .string();
    fs::remove(record);
    Result<golden::RunRecord> run = Execute(a, record);
    if (!run.ok()) {
      fs::remove(record);
      if (run.status().code() == Status::Code::kInterrupted) {
        result_.attempts.push_back(a);
        return Finish(CaseOutcome::kInterrupted, run.status().message());
      }
      return Finish(CaseOutcome::kBadInput, run.status().message());
    }
    a.steps_reached = static_cast<int>(run->steps.size());
    result_.run = *run;
    if (c_.external() && run->steps.empty() && !a.process.hung && a.process.exit_code == 0) {
      return Finish(
          CaseOutcome::kBadInput,
          fmt::format(
              "{}: the command finished but printed no step line the {} parser recognises: is this "
              "the right `parser` (jsonl, torchtitan, megatron, regex) for its log?\n{}",
              c_.path, c_.parser, a.process.tail));
    }
    a.classification = Classify(a.process, *run);
    KeepRecord(a.classification, *run, record);
    result_.attempts.push_back(a);
    return std::nullopt;
  }

  // The trainer under the watchdog, its steps read as they come (printed
  // live with their match marks); the run as recorded.
  Result<golden::RunRecord> Execute(Attempt& a, const std::string& record) {
    Result<LineParser> parser = LineParser::Create(format_, c_.regex);
    if (!parser.ok()) return Status::BadInput(c_.path + ": " + parser.status().message());
    golden::RunRecord run;
    bool diverged = false;
    RecordTail tail(record);
    auto on_step = [&](const golden::StepRow& row) {
      run.steps.push_back(row);
      if (!o_.live) return;
      const std::string mark =
          o_.update && !have_golden_ ? "" : Mark(row, result_.golden, c_.policies, &diverged);
      out_ << fmt::format("  step {:>4}  loss {:>10}  grad_norm {:>10}  {}\n", row.step,
                          Decimal(row, "loss"), Decimal(row, "grad_norm"), mark)
           << std::flush;
    };
    std::atomic<long> lines_read{0};
    auto on_line = [&](std::string_view line) {
      ++lines_read;
      if (c_.external()) {
        if (auto row = parser->Feed(line)) on_step(*row);
        return;
      }
      for (const nlohmann::json& j : tail.Poll()) {
        if (golden::JsonText(j, "type") == "header") {
          run.header = golden::HeaderFromJson(j);
        } else if (auto row = golden::StepRowFromJson(j)) {
          on_step(*row);
        }
      }
    };
    WatchOptions wo;
    wo.idle_timeout = o_.timeout;
    wo.grace = o_.grace;
    wo.working_dir = !c_.external()            ? ""
                     : !o_.command_dir.empty() ? o_.command_dir
                                               : fs::path(c_.path).parent_path().string();
    wo.cancel = o_.cancel;
    // The parser stuck on one line (a user's regex backtracking) cannot be
    // interrupted: the case's processes are ended, and so is lockstep.
    wo.on_stuck = [&](bool cancelled) {
      const Status why =
          cancelled
              ? Status::Interrupted(
                    fmt::format("interrupted by {} while the {} parser was matching line {} of "
                                "the command's output; the case's processes were ended",
                                InterruptScope::SignalName(), c_.parser, lines_read.load()),
                    InterruptScope::Signal())
              : Status::BadInput(fmt::format(
                    "{}: the {} parser spent more than {:g} s on line {} of the command's output "
                    "without finishing; the case's processes were ended.{}",
                    c_.path, c_.parser, o_.timeout, lines_read.load(),
                    c_.parser == "regex"
                        ? " std::regex backtracks exponentially on nested unbounded quantifiers "
                          "such as `([^ ]+)*` or `.**`: rewrite `regex` without them"
                        : ""));
      out_ << std::flush;
      std::_Exit(Report(why));
    };
    Result<ProcessOutcome> process = RunWatched(CaseCommand(c_, o_, record), wo, on_line);
    if (!process.ok()) return Status::BadInput(c_.path + ": " + process.status().message());
    a.process = *process;
    if (a.process.cancelled) {
      return Status::Interrupted(
          fmt::format(
              "interrupted by {}: the case's processes were ended (SIGTERM, then SIGKILL after "
              "{:.0f} s); golden {} left as it was",
              InterruptScope::SignalName(), o_.grace, c_.golden),
          InterruptScope::Signal());
    }
    on_line("");  // the record lines written after the last stdout line
    if (!c_.external() && fs::exists(record)) {
      Result<golden::RunRecord> full = golden::LoadRecordStream(record);
      if (full.ok()) run = std::move(full).value();
    }
    if (c_.external() && parser->header()) run.header = golden::HeaderFromJson(*parser->header());
    if (c_.external()) parser->AddLateMetrics(run.steps);
    run.header.case_name = c_.name;
    return run;
  }

  AttemptClass Classify(const ProcessOutcome& process, const golden::RunRecord& run) {
    if (process.hung) return AttemptClass::kHang;
    if (process.exit_code == ToInt(ExitCode::kBadInput)) return AttemptClass::kConfig;
    if (process.exit_code != 0) return AttemptClass::kCrash;
    if (std::optional<std::string> crash = FirstNonFiniteStep(run)) {
      // Non-finite values are a crash, never a golden and never a comparison in ULPs.
      result_.comparison.diagnosis = Diagnosis::kCrash;
      result_.comparison.summary = *crash;
      return AttemptClass::kCrash;
    }
    if (o_.update) return AttemptClass::kPass;
    result_.comparison = golden::Compare(result_.golden, run, c_.policies);
    switch (result_.comparison.diagnosis) {
      case Diagnosis::kPass:
        return AttemptClass::kPass;
      case Diagnosis::kConfig:
        return AttemptClass::kConfig;
      case Diagnosis::kCrash:
        return AttemptClass::kCrash;
      default:
        return AttemptClass::kMismatch;
    }
  }

  // A divergence is kept for `lockstep bisect steps`; every other record
  // goes. Another trainer's run, parsed from its output, is kept in the
  // golden format (which bisect steps reads too) when it is a record stream
  // (python/lockstep's Recorder, which can trace a step); a text log's
  // trainer cannot be traced.
  void KeepRecord(AttemptClass classification, const golden::RunRecord& run,
                  const std::string& record) {
    if (classification == AttemptClass::kMismatch && c_.external() && c_.parser == "jsonl") {
      const std::string kept = fs::path(record).replace_extension(".toml").string();
      if (golden::SaveGolden(run, kept).ok()) result_.record_path = kept;
    } else if (classification == AttemptClass::kMismatch && fs::exists(record)) {
      result_.record_path = record;
    } else {
      fs::remove(record);
    }
  }

  // Crashes and hangs are retried (never a mismatch), up to --retries, but
  // not after two attempts in a row that reached no step.
  bool ShouldRetry(int attempt) {
    const Attempt& a = result_.attempts.back();
    no_step_streak_ = a.steps_reached == 0 ? no_step_streak_ + 1 : 0;
    if (a.classification != AttemptClass::kCrash && a.classification != AttemptClass::kHang)
      return false;
    if (attempt > o_.retries) return false;
    if (no_step_streak_ >= 2) {
      out_ << "  two attempts in a row reached no step: a config problem, not a flaky node; no "
              "more retries\n";
      return false;
    }
    return true;
  }

  void WaitBeforeRetry(int attempt) {
    const Attempt& a = result_.attempts.back();
    const double backoff = std::min(60.0, o_.backoff_base * (1 << std::min(attempt - 1, 6)));
    out_ << fmt::format(
        "  attempt {} {} ({}); retrying in {:.0f} s\n", attempt, Name(a.classification),
        a.process.hung ? "watchdog fired" : fmt::format("exit {}", a.process.exit_code), backoff);
    // A deliberate backoff, nothing to await; a cancel ends it.
    const auto resume_at =
        std::chrono::steady_clock::now() + std::chrono::duration<double>(backoff);
    while (std::chrono::steady_clock::now() < resume_at && !(o_.cancel && o_.cancel->load())) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  // --update: the golden is recorded from a run that finished, never from
  // non-finite values; a failed health check still fails the gate.
  CaseResult ConcludeUpdate(const Attempt& last) {
    const std::string failed_checks = FailedChecks(result_.checks);
    if (std::optional<std::string> crash = FirstNonFiniteStep(result_.run)) {
      return Finish(CaseOutcome::kCrash,
                    fmt::format("{}; golden {} left as it was (non-finite values are never "
                                "recorded, not even with --force)",
                                *crash, c_.golden));
    }
    if (last.classification != AttemptClass::kPass && !o_.force) {
      return Finish(
          last.classification == AttemptClass::kConfig ? CaseOutcome::kBadInput
          : last.classification == AttemptClass::kHang ? CaseOutcome::kHang
                                                       : CaseOutcome::kCrash,
          fmt::format(
              "the run {} (exit {}); golden {} left as it was (--force records it anyway)\n{}",
              Name(last.classification), last.process.exit_code, c_.golden, last.process.tail));
    }
    Status st = golden::SaveGolden(result_.run, c_.golden);
    if (!st.ok()) return Finish(CaseOutcome::kBadInput, st.message());
    return Finish(CaseOutcome::kUpdated,
                  fmt::format("recorded {} steps to {}{}", result_.run.steps.size(), c_.golden,
                              failed_checks.empty() ? "" : "; " + failed_checks),
                  /*checks_failed=*/!failed_checks.empty());
  }

  // The gate: the last attempt's class, the health checks, and what to do next.
  CaseResult Conclude(const Attempt& last) {
    const std::string failed_checks = FailedChecks(result_.checks);
    switch (last.classification) {
      case AttemptClass::kHang:
        result_.comparison.diagnosis = Diagnosis::kHang;
        return Finish(CaseOutcome::kHang,
                      fmt::format("hang: no output for {:.0f} s; the process group was killed "
                                  "(SIGTERM, then SIGKILL after {:.0f} s). "
                                  "Last finished step: {}.\n{}",
                                  o_.timeout, o_.grace, last.steps_reached, last.process.tail));
      case AttemptClass::kConfig:
        if (result_.comparison.diagnosis == Diagnosis::kConfig) {
          return Finish(CaseOutcome::kBadInput,
                        result_.comparison.summary + "\n" + result_.comparison.detail);
        }
        return Finish(
            CaseOutcome::kBadInput,
            fmt::format("the trainer rejected the case's config (exit 2):\n{}", last.process.tail));
      case AttemptClass::kCrash: {
        result_.comparison.diagnosis = Diagnosis::kCrash;
        std::string how = last.process.signal ? fmt::format("signal {} ({})", last.process.signal,
                                                            strsignal(last.process.signal))
                                              : fmt::format("exit code {}", last.process.exit_code);
        if (last.process.exit_code == 0) how = result_.comparison.summary;
        return Finish(CaseOutcome::kCrash, fmt::format("crash: {}; last finished step: {}.\n{}",
                                                       how, last.steps_reached, last.process.tail));
      }
      case AttemptClass::kMismatch:
        return Finish(CaseOutcome::kRegression,
                      result_.comparison.summary +
                          (failed_checks.empty() ? "" : "; " + failed_checks) + "\n" +
                          result_.comparison.detail + LocaliseHint());
      case AttemptClass::kPass:
        break;
    }
    if (!failed_checks.empty())
      return Finish(CaseOutcome::kRegression, result_.comparison.summary + "; " + failed_checks);
    return Finish(CaseOutcome::kPass, result_.comparison.summary);
  }

  // The bisect steps command for a diverged run that was kept.
  std::string LocaliseHint() const {
    if (result_.record_path.empty()) return "";
    if (c_.external()) {
      return fmt::format(
          "\nLocalise it: lockstep bisect steps {} {} --case {}\n(add --dir-a with a checkout of "
          "the trainer that recorded the golden)",
          c_.golden, result_.record_path, c_.path);
    }
    return fmt::format(
        "\nLocalise it: lockstep bisect steps {} {}\n(add --binary-a with the lockstep build that "
        "recorded the golden, if it was another)",
        c_.golden, result_.record_path);
  }

  const SmokeCase& c_;
  const SmokeOptions& o_;
  std::ostream& out_;
  const std::chrono::steady_clock::time_point start_;
  CaseResult result_;
  bool have_golden_ = false;
  golden::RunRecord same_loss_;
  const golden::RunRecord* same_loss_ref_ = nullptr;
  LogFormat format_ = LogFormat::kJsonl;
  int no_step_streak_ = 0;
};

}  // namespace

CaseResult RunCase(const SmokeCase& c, const SmokeOptions& o, std::ostream& out) {
  return CaseRun(c, o, out).Run();
}

SuiteResult RunSuite(const std::vector<SmokeCase>& cases, const SmokeOptions& o,
                     std::ostream& out) {
  SuiteResult suite;
  for (const SmokeCase& c : cases) {
    CaseResult r = RunCase(c, o, out);
    const char* verdict = r.exit_code != 0                  ? "FAIL"
                          : r.outcome == CaseOutcome::kPass ? "PASS"
                                                            : "UPDATED";
    // The message's first line beside the verdict, the rest indented below it.
    const std::size_t eol = std::min(r.message.find('\n'), r.message.size());
    out << fmt::format("  {}  {}  ({:.1f} s)\n", verdict, r.message.substr(0, eol), r.seconds);
    for (std::size_t at = eol; at < r.message.size();) {
      const std::size_t next = std::min(r.message.find('\n', at + 1), r.message.size());
      out << "        " << r.message.substr(at + 1, next - at - 1) << "\n";
      at = next;
    }
    for (const golden::CheckResult& k : r.checks) {
      if (k.outcome != golden::CheckOutcome::kFail && k.outcome != golden::CheckOutcome::kWarn)
        continue;
      out << fmt::format("  check {}: {}  {}\n", k.check,
                         k.outcome == golden::CheckOutcome::kFail ? "FAIL" : "WARN", k.summary);
      for (const std::string& d : k.detail) out << "      " << d << "\n";
    }
    if (!r.checks.empty()) {
      std::vector<std::string> words;
      for (const golden::CheckResult& k : r.checks)
        words.push_back(k.check + " " + CheckWord(k.outcome));
      out << fmt::format("  checks: {}\n", fmt::join(words, ", "));
    }
    if (!r.comparison.env_diff.empty() && r.outcome != CaseOutcome::kPass) {
      out << "  environment, golden -> this run:\n";
      for (const std::string& d : r.comparison.env_diff) out << "    " << d << "\n";
    }
    if (Severity(r.exit_code) > Severity(suite.exit_code)) suite.exit_code = r.exit_code;
    const bool interrupted = r.outcome == CaseOutcome::kInterrupted;
    suite.cases.push_back(std::move(r));
    if (interrupted) break;
  }
  return suite;
}

void PrintSummary(const SuiteResult& s, std::ostream& out) {
  out << fmt::format("\n{:<16} {:<11} {:>6}  {:<24} {:>9} {:>10} {:>8}\n", "case", "result",
                     "steps", "first divergence", "max ULPs", "max rel", "time");
  for (const CaseResult& r : s.cases) {
    std::string first = "-";
    if (r.comparison.first_divergent_step) {
      first = fmt::format("step {} {}", *r.comparison.first_divergent_step,
                          r.comparison.diffs.empty() ? golden::DiagnosisName(r.comparison.diagnosis)
                                                     : r.comparison.diffs.front().metric);
    } else if (CaseItselfFailed(r)) {
      first = golden::DiagnosisName(r.comparison.diagnosis);
    } else {
      for (const golden::CheckResult& k : r.checks) {
        if (k.outcome == golden::CheckOutcome::kFail && first == "-") first = "check " + k.check;
      }
    }
    // Rounded decimals have no ULPs: "-" rather than a 0 that would look exact.
    const bool no_ulps = !r.comparison.ulps_measured && r.comparison.max_rel > 0;
    out << fmt::format("{:<16} {:<11} {:>6}  {:<24} {:>9} {:>10.3g} {:>6.1f} s\n", r.name,
                       Name(r.outcome), r.run.steps.size(), first,
                       no_ulps ? "-" : std::to_string(r.comparison.max_ulps), r.comparison.max_rel,
                       r.seconds);
  }
  int passed = 0;
  for (const CaseResult& r : s.cases) passed += r.exit_code == 0;
  out << fmt::format("{} passed, {} failed\n", passed, static_cast<int>(s.cases.size()) - passed);
}

Status WriteJsonReport(const SuiteResult& s, const std::string& path) {
  nlohmann::ordered_json j;
  j["exit_code"] = s.exit_code;
  for (const CaseResult& r : s.cases) {
    nlohmann::ordered_json c;
    c["case"] = r.name;
    c["outcome"] = Name(r.outcome);
    c["exit_code"] = r.exit_code;
    c["diagnosis"] = golden::DiagnosisName(r.comparison.diagnosis);
    if (r.comparison.first_divergent_step)
      c["first_divergent_step"] = *r.comparison.first_divergent_step;
    for (const auto& d : r.comparison.diffs) {
      nlohmann::ordered_json dj = {{"metric", d.metric}, {"golden", d.golden}, {"run", d.run}};
      if (d.ulps) dj["ulps"] = *d.ulps;
      if (d.abs) dj["abs"] = *d.abs;
      if (d.rel) dj["rel"] = *d.rel;
      c["diffs"].push_back(dj);
    }
    c["steps"] = r.run.steps.size();
    c["max_ulps"] = r.comparison.max_ulps;
    c["max_rel"] = r.comparison.max_rel;
    c["message"] = r.message;
    if (!r.record_path.empty()) c["record"] = r.record_path;
    c["env_diff"] = r.comparison.env_diff;
    c["config_diff"] = r.comparison.config_diff;
    c["checks"] = nlohmann::ordered_json::array();
    for (const golden::CheckResult& k : r.checks) {
      c["checks"].push_back({{"check", k.check},
                             {"outcome", golden::CheckOutcomeName(k.outcome)},
                             {"summary", k.summary},
                             {"detail", k.detail}});
    }
    c["seconds"] = r.seconds;
    for (const Attempt& a : r.attempts) {
      c["attempts"].push_back({{"attempt", a.number},
                               {"classification", Name(a.classification)},
                               {"exit_code", a.process.exit_code},
                               {"signal", a.process.signal},
                               {"steps_reached", a.steps_reached},
                               {"seconds", a.process.seconds}});
    }
    j["cases"].push_back(c);
  }
  return WriteFileAtomically(path, j.dump(2) + "\n");
}

Status WriteJUnitReport(const SuiteResult& s, const std::string& path) {
  // One testcase per case (its run and comparison) and one per health check
  // (failure for fail, system-out for warn, skipped for off and n/a).
  int failures = 0, errors = 0, skipped = 0;
  std::size_t tests = 0;
  double total = 0;
  for (const CaseResult& r : s.cases) {
    failures += r.outcome == CaseOutcome::kRegression && CaseItselfFailed(r);
    errors += r.outcome != CaseOutcome::kRegression && r.outcome != CaseOutcome::kPass &&
              r.outcome != CaseOutcome::kUpdated;
    total += r.seconds;
    tests += 1 + r.checks.size();
    for (const golden::CheckResult& k : r.checks) {
      failures += k.outcome == golden::CheckOutcome::kFail;
      skipped += k.outcome == golden::CheckOutcome::kOff ||
                 k.outcome == golden::CheckOutcome::kNotApplicable;
    }
  }
  std::string x = fmt::format(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"lockstep smoke\" "
      "tests=\"{}\" "
      "failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3f}\">\n  <testsuite name=\"smoke\" "
      "tests=\"{}\" "
      "failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3f}\">\n",
      tests, failures, errors, skipped, total, tests, failures, errors, skipped, total);
  for (const CaseResult& r : s.cases) {
    x += fmt::format("    <testcase classname=\"lockstep.smoke\" name=\"{}\" time=\"{:.3f}\"",
                     EscapeMarkup(r.name), r.seconds);
    if (!CaseItselfFailed(r)) {
      x += "/>\n";
      x += CheckTestcases(r);
      continue;
    }
    const char* tag = r.outcome == CaseOutcome::kRegression ? "failure" : "error";
    x += fmt::format(
        ">\n      <{} type=\"{}\" message=\"{}\">{}</{}>\n    </testcase>\n", tag,
        golden::DiagnosisName(r.comparison.diagnosis),
        EscapeMarkup(r.comparison.summary.empty() ? std::string(Name(r.outcome))
                                                  : r.comparison.summary),
        EscapeMarkup(
            r.message +
            (r.comparison.env_diff.empty()
                 ? ""
                 : "\nenvironment:\n" + fmt::format("{}", fmt::join(r.comparison.env_diff, "\n")))),
        tag);
    x += CheckTestcases(r);
  }
  x += "  </testsuite>\n</testsuites>\n";
  return WriteFileAtomically(path, x);
}

}  // namespace lockstep::smoke
