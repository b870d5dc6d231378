#include "golden/compare.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <bit>
#include <cmath>

#include "core/hexfloat.h"
#include "core/json_diff.h"

namespace lockstep::golden {
namespace {

// The order in which the diagnosis looks at a step's differences: what went
// in (the batch), what came out (loss, gradient), what was kept (parameters),
// what it cost (memory); any other metric after these.
int Significance(const std::string& metric) {
  static constexpr std::string_view kOrder[] = {"batch_digest",
                                                "tokens",
                                                "loss",
                                                "grad_norm",
                                                "lr",
                                                "grad_zeros",
                                                "param_digest",
                                                "mem_peak_bytes",
                                                "mem_max_allocated_bytes",
                                                "rss_peak_bytes"};
  for (std::size_t i = 0; i < std::size(kOrder); ++i) {
    if (metric == kOrder[i]) return static_cast<int>(i);
  }
  return static_cast<int>(std::size(kOrder));
}

// Maps a float's bits to a line where adjacent floats are adjacent integers.
template <typename Bits, typename F>
std::int64_t Ordered(F v) {
  using Signed = std::make_signed_t<Bits>;
  Signed b = static_cast<Signed>(std::bit_cast<Bits>(v));
  return b < 0 ? static_cast<std::int64_t>(std::numeric_limits<Signed>::min()) - b : b;
}

double Rel(double golden, double run) {
  if (golden == run) return 0;
  return std::abs(run - golden) / std::max(std::abs(golden), 1e-300);
}

bool IsFloat(const MetricValue* m) {
  return m && m->kind == MetricValue::Kind::kFloat;
}

std::string Bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB"};
  int u = 0;
  while (std::abs(b) >= 1024 && u < 3) {
    b /= 1024;
    ++u;
  }
  return fmt::format("{:.1f} {}", b, units[u]);
}

// Which corpora's data changed, from the headers' per-corpus digests.
std::string ChangedCorpora(const RunHeader& g, const RunHeader& r) {
  std::vector<std::string> changed;
  for (const auto& [name, digest] : g.corpora.items()) {
    if (!r.corpora.contains(name)) {
      changed.push_back(name + " (gone)");
    } else if (r.corpora[name] != digest) {
      changed.push_back(name);
    }
  }
  for (const auto& [name, digest] : r.corpora.items()) {
    if (!g.corpora.contains(name)) changed.push_back(name + " (new)");
  }
  return fmt::format("{}", fmt::join(changed, ", "));
}

}  // namespace

std::string MetricPolicy::ToString() const {
  switch (kind) {
    case Kind::kExact:
      return "exact";
    case Kind::kUlps:
      return fmt::format("ulps <= {}", ulps);
    case Kind::kTolerance:
      return fmt::format("rtol {} atol {}", rtol, atol);
    case Kind::kIgnore:
      return "ignore";
  }
  return "?";
}

MetricPolicy ExactPolicy() {
  return {};
}
MetricPolicy IgnorePolicy() {
  MetricPolicy p;
  p.kind = MetricPolicy::Kind::kIgnore;
  return p;
}
MetricPolicy UlpsPolicy(std::int64_t ulps) {
  MetricPolicy p;
  p.kind = MetricPolicy::Kind::kUlps;
  p.ulps = ulps;
  return p;
}
MetricPolicy TolerancePolicy(double rtol, double atol) {
  MetricPolicy p;
  p.kind = MetricPolicy::Kind::kTolerance;
  p.rtol = rtol;
  p.atol = atol;
  return p;
}

MetricPolicy Policies::For(const std::string& metric) const {
  auto it = per_metric.find(metric);
  if (it != per_metric.end()) return it->second;
  if (metric == "rss_peak_bytes") return TolerancePolicy(0.25, 0);
  if (metric == "step_ms") return IgnorePolicy();
  return ExactPolicy();
}

const char* DiagnosisName(Diagnosis d) {
  switch (d) {
    case Diagnosis::kPass:
      return "pass";
    case Diagnosis::kConfig:
      return "config";
    case Diagnosis::kData:
      return "data";
    case Diagnosis::kNumerics:
      return "numerics";
    case Diagnosis::kDataOrNumerics:
      return "data-or-numerics";
    case Diagnosis::kState:
      return "state";
    case Diagnosis::kMemory:
      return "memory";
    case Diagnosis::kCrash:
      return "crash";
    case Diagnosis::kHang:
      return "hang";
  }
  return "?";
}

std::int64_t UlpDistance(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return a == b ? 0 : std::numeric_limits<std::int64_t>::max();
  if (static_cast<double>(static_cast<float>(a)) == a &&
      static_cast<double>(static_cast<float>(b)) == b) {
    return std::abs(Ordered<std::uint32_t>(static_cast<float>(a)) -
                    Ordered<std::uint32_t>(static_cast<float>(b)));
  }
  std::int64_t x = Ordered<std::uint64_t>(a), y = Ordered<std::uint64_t>(b);
  return x > y ? x - y : y - x;
}

bool Within(const MetricValue& g, const MetricValue& r, const MetricPolicy& p) {
  if (p.kind == MetricPolicy::Kind::kIgnore) return true;
  if (g.kind != r.kind) {
    // A float compared with a count (decimal logs): compare as numbers.
    if (g.kind == MetricValue::Kind::kText || r.kind == MetricValue::Kind::kText) return false;
  }
  auto num = [](const MetricValue& m) {
    return m.kind == MetricValue::Kind::kInt ? static_cast<double>(m.i) : m.f;
  };
  if (g.kind == MetricValue::Kind::kText) return g.s == r.s;
  const double a = num(g), b = num(r);
  switch (p.kind) {
    case MetricPolicy::Kind::kExact:
      return std::bit_cast<std::uint64_t>(a) == std::bit_cast<std::uint64_t>(b) ||
             (a == b && a != 0);
    case MetricPolicy::Kind::kUlps:
      return UlpDistance(a, b) <= p.ulps;
    case MetricPolicy::Kind::kTolerance:
      return std::abs(a - b) <= p.atol + p.rtol * std::abs(a);
    case MetricPolicy::Kind::kIgnore:
      return true;
  }
  return false;
}

std::optional<std::string> NonFinite(const StepRow& row) {
  const MetricValue* status = row.Find("status");
  if (status && status->kind == MetricValue::Kind::kText && status->s != "ok") {
    const MetricValue* cause = row.Find("cause");
    return cause ? cause->s : "non-finite values";
  }
  for (const char* name : {"loss", "grad_norm"}) {
    const MetricValue* m = row.Find(name);
    if (m && m->kind == MetricValue::Kind::kFloat && !std::isfinite(m->f)) {
      return fmt::format("{} is {}", name, HexFloat(m->f));
    }
  }
  return std::nullopt;
}

namespace {

// A run that cannot be compared with its golden at all: another config, or
// a golden without steps.
std::optional<Comparison> NotComparable(const RunRecord& golden, const RunRecord& run) {
  Comparison c;
  if (!golden.header.config_digest.empty() && !run.header.config_digest.empty() &&
      golden.header.config_digest != run.header.config_digest) {
    c.diagnosis = Diagnosis::kConfig;
    c.config_diff = JsonDiff(golden.header.config, run.header.config);
    c.summary = fmt::format("config differs from the golden's (digest {} -> {}): not compared",
                            golden.header.config_digest, run.header.config_digest);
    c.detail = c.config_diff.empty()
                   ? "The config digests differ but the recorded configs agree key by key; the "
                     "golden may come from another lockstep version. Re-record it with --update."
                   : fmt::format(
                         "Keys that differ (golden -> run):\n  {}\nRe-record the golden "
                         "with --update if the change is intended.",
                         fmt::join(c.config_diff, "\n  "));
    return c;
  }
  if (golden.steps.empty()) {
    c.diagnosis = Diagnosis::kConfig;
    c.summary = "the reference has no steps: nothing was compared";
    c.detail = "Record the reference again (lockstep smoke CASE --update for a golden).";
    return c;
  }
  return std::nullopt;
}

// The metrics of one step that differ beyond their policy, the telling
// metric first (reports show diffs.front() as "first divergence"); the
// largest ULP and relative distances seen go into `c`.
std::vector<MetricDiff> DiffStep(const StepRow& g, const StepRow& r, const Policies& policies,
                                 Comparison& c) {
  std::vector<MetricDiff> diffs;
  // A core metric the run records and the golden lacks is a difference too.
  for (const char* name : kCoreMetrics) {
    const MetricValue* rv = r.Find(name);
    if (rv == nullptr || g.Find(name) != nullptr ||
        policies.For(name).kind == MetricPolicy::Kind::kIgnore)
      continue;
    diffs.push_back(
        MetricDiff{name, "(missing)", rv->ToString(), std::nullopt, std::nullopt, std::nullopt});
  }
  for (const auto& [name, gv] : g.metrics) {
    const MetricPolicy policy = policies.For(name);
    if (policy.kind == MetricPolicy::Kind::kIgnore) continue;
    const MetricValue* rv = r.Find(name);
    MetricDiff d{name,         gv.ToString(), rv ? rv->ToString() : "(missing)",
                 std::nullopt, std::nullopt,  std::nullopt};
    if (IsFloat(&gv) && IsFloat(rv)) {
      // ULPs of a rounded decimal mean nothing: text logs get absolute and
      // relative differences.
      if (gv.exact && rv->exact) {
        d.ulps = UlpDistance(gv.f, rv->f);
        c.max_ulps = std::max(c.max_ulps, *d.ulps);
        c.ulps_measured = true;
      } else {
        d.abs = std::abs(rv->f - gv.f);
      }
      d.rel = Rel(gv.f, rv->f);
      c.max_rel = std::max(c.max_rel, *d.rel);
    } else if (rv && gv.kind == MetricValue::Kind::kInt && rv->kind == MetricValue::Kind::kInt) {
      d.rel = Rel(static_cast<double>(gv.i), static_cast<double>(rv->i));
    }
    if (rv == nullptr || !Within(gv, *rv, policy)) diffs.push_back(d);
  }
  std::stable_sort(diffs.begin(), diffs.end(), [](const MetricDiff& x, const MetricDiff& y) {
    return Significance(x.metric) < Significance(y.metric);
  });
  return diffs;
}

const MetricDiff* Find(const std::vector<MetricDiff>& diffs, const char* metric) {
  auto it = std::find_if(diffs.begin(), diffs.end(),
                         [&](const MetricDiff& d) { return d.metric == metric; });
  return it == diffs.end() ? nullptr : &*it;
}

void DiagnoseData(const RunRecord& golden, const RunRecord& run, std::int64_t step, Comparison& c) {
  c.diagnosis = Diagnosis::kData;
  const bool manifest_changed = golden.header.manifest_digest != run.header.manifest_digest;
  std::string corpora = ChangedCorpora(golden.header, run.header);
  c.summary = fmt::format("diverged at step {}: the batch differs (data)", step);
  c.detail = manifest_changed
                 ? fmt::format("The data manifest changed (digest {} -> {}){}.",
                               golden.header.manifest_digest, run.header.manifest_digest,
                               corpora.empty() ? "" : "; changed corpora: " + corpora)
                 : "Same manifest, yet other tokens at this step: the sampler or the loader "
                   "changed (order, split, or a shard read differently).";
}

// loss, grad_norm or lr moved: numerics when both records have the batch
// digest that rules out data.
void DiagnoseLoss(const StepRow& g, const StepRow& r, const RunHeader& run_header,
                  const MetricDiff& d, Comparison& c) {
  const std::string by =
      d.ulps ? fmt::format("by {} ULP{}", *d.ulps, *d.ulps == 1 ? "" : "s")
             : fmt::format("by {:.3g} (relative {:.3g})", d.abs.value_or(0), d.rel.value_or(0));
  const bool batch_checked = g.Find("batch_digest") != nullptr && r.Find("batch_digest") != nullptr;
  if (!batch_checked) {
    c.diagnosis = Diagnosis::kDataOrNumerics;
    c.summary = fmt::format(
        "diverged at step {}: {} differs {}; data or numerics: this log has no batch digest",
        r.step, d.metric, by);
    c.detail = fmt::format(
        "{}: golden {} run {}. Without a batch digest the batch could not be checked; "
        "record the run with lockstep's Python recorder (python/lockstep) to tell data "
        "from numerics, with exact values instead of rounded decimals.",
        d.metric, d.golden, d.run);
    return;
  }
  // What bisect steps can re-run: lockstep's own trainer, or a PyTorch loop
  // whose Recorder can trace a step.
  const std::string localise =
      run_header.profile == "portable" || run_header.profile == "openblas"
          ? " `lockstep bisect steps GOLDEN RUN` names the first tensor that differs."
      : run_header.profile == "pytorch"
          ? " `lockstep bisect steps GOLDEN RUN --case CASE` names the first module output that "
            "differs."
          : "";
  c.diagnosis = Diagnosis::kNumerics;
  c.summary = fmt::format("diverged at step {}: same batch, {} differs {} (numerics)", r.step,
                          d.metric, by);
  c.detail = fmt::format(
      "{}: golden {} run {} (relative {:.3g}). The same tokens gave other "
      "arithmetic: a BLAS, compiler, MPI or kernel change.{}",
      d.metric, d.golden, d.run, d.rel.value_or(0), localise);
}

void DiagnoseMemory(const StepRow& g, const StepRow& r, const std::vector<MetricDiff>& diffs,
                    Comparison& c) {
  c.diagnosis = Diagnosis::kMemory;
  const bool tracked = Find(diffs, "mem_peak_bytes") || Find(diffs, "mem_max_allocated_bytes");
  const char* metric = Find(diffs, "mem_peak_bytes") ? "mem_peak_bytes"
                       : tracked                     ? "mem_max_allocated_bytes"
                                                     : "rss_peak_bytes";
  const MetricValue* gv = g.Find(metric);
  const MetricValue* rv = r.Find(metric);
  const double delta = rv && gv ? static_cast<double>(rv->i) - static_cast<double>(gv->i) : 0;
  c.summary = fmt::format("diverged at step {}: {} {} by {} (memory)", r.step,
                          tracked ? "tracked peak memory" : "peak RSS",
                          delta >= 0 ? "grew" : "shrank", Bytes(std::abs(delta)));
  c.detail = fmt::format("{}: golden {} run {}: {}", metric, gv ? gv->ToString() : "?",
                         rv ? rv->ToString() : "?",
                         tracked ? "something holds tensors longer, or allocates more, than before."
                                 : "the process's resident set (from the OS, not deterministic) "
                                   "moved beyond the case's policy.");
}

// The first divergent step's diagnosis, from the metrics that differ: data
// before numerics before state before memory (comparison.h).
void Diagnose(const RunRecord& golden, const RunRecord& run, const StepRow& g, const StepRow& r,
              bool first_row, const std::optional<std::string>& nonfinite,
              const std::vector<MetricDiff>& diffs, Comparison& c) {
  const auto has = [&](const char* m) { return Find(diffs, m) != nullptr; };
  if (nonfinite) {
    c.diagnosis = Diagnosis::kCrash;
    c.summary = fmt::format("crash at step {}: {}", r.step, *nonfinite);
    c.detail = "The run recorded a non-finite loss or gradient norm and stopped.";
  } else if (has("batch_digest") || has("tokens")) {
    DiagnoseData(golden, run, r.step, c);
  } else if (has("loss") || has("grad_norm") || has("lr")) {
    const MetricDiff* d = has("loss")        ? Find(diffs, "loss")
                          : has("grad_norm") ? Find(diffs, "grad_norm")
                                             : Find(diffs, "lr");
    DiagnoseLoss(g, r, run.header, *d, c);
  } else if (has("grad_zeros")) {
    // The parameters before this step agreed (the step before did), so a
    // different count of zero gradient elements is the backward pass.
    c.diagnosis = Diagnosis::kNumerics;
    const MetricDiff& d = *Find(diffs, "grad_zeros");
    c.summary = fmt::format(
        "diverged at step {}: same batch, loss and gradient norm, but grad_zeros {} instead of "
        "{}: the gradient differs (numerics)",
        r.step, d.run, d.golden);
    c.detail =
        "The parameters entering this step agreed, the gradient did not: its norm can agree "
        "while its elements differ. A backward kernel or the reduction over the batch's sequences "
        "or "
        "ranks changed. `lockstep bisect steps GOLDEN RUN` names the first tensor that differs.";
  } else if (has("param_digest") && first_row && r.step == 1) {
    // Before the first update there is no optimizer state that could differ.
    c.diagnosis = Diagnosis::kNumerics;
    c.summary = fmt::format(
        "diverged at step 1: same batch, loss and gradient norm, parameters differ after the "
        "first update (numerics)");
    c.detail =
        "A fresh run has no optimizer state before step 1, so the backward pass or the "
        "update computed other bits: a gradient's elements (its norm can agree while they "
        "differ), the reduction over the batch's sequences or ranks, clipping or AdamW's "
        "arithmetic. "
        "`lockstep bisect steps GOLDEN RUN` names the first tensor that differs.";
  } else if (has("param_digest")) {
    c.diagnosis = Diagnosis::kState;
    c.summary =
        fmt::format("diverged at step {}: same batch and loss, parameters differ (state)", r.step);
    c.detail =
        "The loss and the gradient norm agreed but the update did not: a gradient "
        "(its norm can agree while its elements differ), the optimizer, its state, "
        "clipping or a parameter that is not trained any more. `lockstep bisect steps "
        "GOLDEN RUN` names the first tensor that differs.";
  } else if (has("mem_peak_bytes") || has("mem_max_allocated_bytes") || has("rss_peak_bytes")) {
    DiagnoseMemory(g, r, diffs, c);
  } else {
    c.diagnosis = Diagnosis::kNumerics;
    c.summary = fmt::format("diverged at step {}: {} differs", r.step, diffs.front().metric);
    c.detail = fmt::format("{}: golden {} run {}", diffs.front().metric, diffs.front().golden,
                           diffs.front().run);
  }
}

// Every common step agreed: a run shorter or longer than its golden, or a pass.
void CompareLengths(const RunRecord& golden, const RunRecord& run, Comparison& c) {
  if (run.steps.size() < golden.steps.size()) {
    c.diagnosis = Diagnosis::kCrash;
    c.first_divergent_step = run.steps.empty() ? 1 : run.steps.back().step + 1;
    c.summary = fmt::format("the run stopped after {} of {} steps (crash)", run.steps.size(),
                            golden.steps.size());
    c.detail = run.steps.empty() ? "No step finished."
                                 : fmt::format("Last finished step: {}.", run.steps.back().step);
    return;
  }
  if (run.steps.size() > golden.steps.size()) {
    c.diagnosis = Diagnosis::kConfig;
    c.first_divergent_step = run.steps[golden.steps.size()].step;
    c.summary = fmt::format(
        "the run has {} steps, the golden only {}: steps past the golden's were not compared",
        run.steps.size(), golden.steps.size());
    c.detail = "Re-record the golden with --update to cover every step the case runs.";
    return;
  }
  c.summary = fmt::format("bit-exact over {} steps", c.steps_compared);
  if (c.max_ulps > 0)
    c.summary =
        fmt::format("within policy over {} steps (max {} ULPs)", c.steps_compared, c.max_ulps);
}

}  // namespace

Comparison Compare(const RunRecord& golden, const RunRecord& run, const Policies& policies) {
  if (std::optional<Comparison> not_comparable = NotComparable(golden, run)) {
    not_comparable->golden_steps = static_cast<std::int64_t>(golden.steps.size());
    not_comparable->env_diff = JsonDiff(golden.header.env, run.header.env);
    return *not_comparable;
  }
  Comparison c;
  c.golden_steps = static_cast<std::int64_t>(golden.steps.size());
  c.env_diff = JsonDiff(golden.header.env, run.header.env);
  const std::size_t n = std::min(golden.steps.size(), run.steps.size());
  for (std::size_t i = 0; i < n; ++i) {
    const StepRow& g = golden.steps[i];
    const StepRow& r = run.steps[i];
    if (g.step != r.step) {
      c.diagnosis = Diagnosis::kConfig;
      c.first_divergent_step = std::min(g.step, r.step);
      c.summary = fmt::format("the run's step {} stands where the golden has step {}: not compared",
                              r.step, g.step);
      c.detail =
          "The two record other steps (a changed log frequency, or a run that skipped or repeated "
          "a step). Re-record the golden with --update if the change is intended.";
      return c;
    }
    ++c.steps_compared;
    std::vector<MetricDiff> diffs = DiffStep(g, r, policies, c);
    const std::optional<std::string> nonfinite = NonFinite(r);
    if (diffs.empty() && !nonfinite) continue;
    c.first_divergent_step = r.step;
    c.diffs = diffs;
    Diagnose(golden, run, g, r, i == 0, nonfinite, diffs, c);
    return c;
  }
  CompareLengths(golden, run, c);
  return c;
}

}  // namespace lockstep::golden
