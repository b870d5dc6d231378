#include "smoke/html_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>

#include "core/atomic_file.h"
#include "smoke/markup.h"

namespace lockstep::smoke {
namespace {

struct Series {
  std::vector<std::pair<double, double>> points;  // (step, value)
};

Series Extract(const golden::RunRecord& r, const char* metric) {
  Series s;
  for (const auto& row : r.steps) {
    const golden::MetricValue* m = row.Find(metric);
    if (m == nullptr) continue;
    const double v = m->kind == golden::MetricValue::Kind::kInt ? static_cast<double>(m->i) : m->f;
    if (std::isfinite(v)) s.points.emplace_back(static_cast<double>(row.step), v);
  }
  return s;
}

// A line chart of golden (grey, dashed) and run (blue), with the first
// divergent step as a red vertical line.
std::string Chart(const std::string& title, const Series& golden, const Series& run,
                  std::optional<std::int64_t> divergence) {
  constexpr double W = 560, H = 180, L = 56, R = 12, T = 22, B = 26;
  double x0 = std::numeric_limits<double>::max(), x1 = -x0, y0 = x0, y1 = -x0;
  for (const Series* s : {&golden, &run}) {
    for (auto [x, y] : s->points) {
      x0 = std::min(x0, x);
      x1 = std::max(x1, x);
      y0 = std::min(y0, y);
      y1 = std::max(y1, y);
    }
  }
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" role=\"img\" "
      "aria-label=\"{}\"><rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>"
      "<text x=\"{}\" y=\"15\" font-size=\"13\" font-family=\"sans-serif\">{}</text>",
      W, H, EscapeMarkup(title), L, EscapeMarkup(title));
  if (x0 > x1)
    return svg + "<text x=\"60\" y=\"90\" font-family=\"sans-serif\">no data</text></svg>";
  if (x1 == x0) x1 = x0 + 1;
  if (y1 == y0) {
    y0 -= 0.5;
    y1 += 0.5;
  }
  auto px = [&](double x) { return L + (x - x0) / (x1 - x0) * (W - L - R); };
  auto py = [&](double y) { return T + (y1 - y) / (y1 - y0) * (H - T - B); };
  svg += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#999\"/>", L, H - B,
                     W - R, H - B);
  svg += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#999\"/>", L, T, L,
                     H - B);
  for (double y : {y0, (y0 + y1) / 2, y1}) {
    svg += fmt::format(
        "<text x=\"{}\" y=\"{:.1f}\" font-size=\"10\" text-anchor=\"end\" "
        "font-family=\"sans-serif\">{:.4g}</text>",
        L - 4, py(y) + 3, y);
  }
  for (double x : {x0, x1}) {
    svg += fmt::format(
        "<text x=\"{:.1f}\" y=\"{}\" font-size=\"10\" text-anchor=\"{}\" "
        "font-family=\"sans-serif\">step {:.0f}</text>",
        px(x), H - 8, x == x0 ? "start" : "end", x);
  }
  auto line = [&](const Series& s, const char* color, const char* dash, const char* cls) {
    std::string pts;
    for (auto [x, y] : s.points) pts += fmt::format("{:.1f},{:.1f} ", px(x), py(y));
    return fmt::format(
        "<polyline class=\"{}\" points=\"{}\" fill=\"none\" stroke=\"{}\" "
        "stroke-width=\"2\" stroke-dasharray=\"{}\"/>",
        cls, pts, color, dash);
  };
  svg += line(golden, "#888", "5,4", "golden");
  svg += line(run, "#1f6feb", "0", "run");
  if (divergence) {
    const double x = px(static_cast<double>(*divergence));
    svg += fmt::format(
        "<line class=\"divergence\" x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\" "
        "stroke=\"#d1242f\" stroke-width=\"2\"/><text x=\"{3:.1f}\" y=\"{4}\" font-size=\"11\" "
        "fill=\"#d1242f\" font-family=\"sans-serif\">step {5}</text>",
        x, T, H - B, x + 4, T + 12, *divergence);
  }
  svg += fmt::format(
      "<text x=\"{}\" y=\"15\" font-size=\"11\" text-anchor=\"end\" font-family=\"sans-serif\">"
      "<tspan fill=\"#888\">- - golden</tspan>  <tspan fill=\"#1f6feb\">&#8212; run</tspan></text>",
      W - R);
  return svg + "</svg>";
}

const char* CheckClass(golden::CheckOutcome o) {
  switch (o) {
    case golden::CheckOutcome::kPass:
      return "pass";
    case golden::CheckOutcome::kFail:
      return "fail";
    case golden::CheckOutcome::kWarn:
      return "warn";
    default:
      return "na";
  }
}

// The summary table's cell: the checks that did not pass, or "ok".
std::string ChecksCell(const CaseResult& r) {
  if (r.checks.empty()) return "-";
  std::string cell;
  for (const golden::CheckResult& k : r.checks) {
    if (k.outcome != golden::CheckOutcome::kFail && k.outcome != golden::CheckOutcome::kWarn)
      continue;
    cell += fmt::format("{}<span class=\"{}\">{} {}</span>", cell.empty() ? "" : ", ",
                        CheckClass(k.outcome), EscapeMarkup(k.check),
                        golden::CheckOutcomeName(k.outcome));
  }
  return cell.empty() ? "ok" : cell;
}

// One row per health check: outcome, summary and detail lines.
std::string ChecksTable(const CaseResult& r) {
  if (r.checks.empty()) return "";
  std::string html =
      "<table class=\"checks\"><tr><th>health check</th><th>outcome</th><th>summary</th></tr>\n";
  for (const golden::CheckResult& k : r.checks) {
    std::string text = EscapeMarkup(k.summary);
    for (const std::string& d : k.detail) text += "<br>" + EscapeMarkup(d);
    html += fmt::format("<tr><td>{}</td><td class=\"{}\">{}</td><td>{}</td></tr>\n",
                        EscapeMarkup(k.check), CheckClass(k.outcome),
                        golden::CheckOutcomeName(k.outcome), text);
  }
  return html + "</table>\n";
}

}  // namespace

std::string RenderHtmlReport(const SuiteResult& result) {
  int passed = 0;
  for (const CaseResult& r : result.cases) passed += r.exit_code == 0;
  std::string html = fmt::format(
      "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>lockstep smoke: {} "
      "of {} "
      "passed</title>\n<style>body{{font-family:sans-serif;margin:24px;color:#1f2328}}"
      "table{{border-collapse:collapse}}td,th{{border:1px solid #d0d7de;padding:4px "
      "10px;text-align:left}}"
      ".pass{{color:#1a7f37;font-weight:bold}}.fail{{color:#d1242f;font-weight:bold}}"
      ".warn{{color:#9a6700;font-weight:bold}}.na{{color:#6e7781}}"
      "pre{{background:#f6f8fa;padding:8px;white-space:pre-wrap}}section{{margin-top:28px}}</"
      "style></head>\n"
      "<body><h1>lockstep smoke: {} of {} passed (exit "
      "{})</h1>\n<table><tr><th>case</th><th>result</th>"
      "<th>diagnosis</th><th>steps</th><th>first divergence</th><th>max "
      "ULPs</th><th>checks</th><th>time</th></tr>\n",
      passed, result.cases.size(), passed, result.cases.size(), result.exit_code);
  for (const CaseResult& r : result.cases) {
    const bool ok = r.exit_code == 0;
    html += fmt::format(
        "<tr><td><a href=\"#{0}\">{0}</a></td><td class=\"{1}\">{2}</td><td>{3}</td><td>{4}</td>"
        "<td>{5}</td><td>{6}</td><td>{7}</td><td>{8:.1f} s</td></tr>\n",
        EscapeMarkup(r.name), ok ? "pass" : "fail", EscapeMarkup(std::string(Name(r.outcome))),
        golden::DiagnosisName(r.comparison.diagnosis), r.run.steps.size(),
        r.comparison.first_divergent_step
            ? fmt::format("step {}", *r.comparison.first_divergent_step)
            : "-",
        r.comparison.max_ulps, ChecksCell(r), r.seconds);
  }
  html += "</table>\n";
  for (const CaseResult& r : result.cases) {
    html += fmt::format("<section id=\"{0}\"><h2>{0}</h2><p>{1}</p>\n", EscapeMarkup(r.name),
                        EscapeMarkup(r.comparison.summary.empty() ? std::string(Name(r.outcome))
                                                                  : r.comparison.summary));
    for (const char* metric : {"loss", "grad_norm"}) {
      html += Chart(fmt::format("{}: {}", r.name, metric), Extract(r.golden, metric),
                    Extract(r.run, metric), r.comparison.first_divergent_step);
      html += "\n";
    }
    // Held-out loss, on the evaluation steps only: drawn when the run or its golden has it.
    Series eval_golden = Extract(r.golden, "eval_loss"), eval_run = Extract(r.run, "eval_loss");
    if (!eval_golden.points.empty() || !eval_run.points.empty()) {
      html += Chart(fmt::format("{}: eval_loss", r.name), eval_golden, eval_run,
                    r.comparison.first_divergent_step);
      html += "\n";
    }
    html += ChecksTable(r);
    if (!r.message.empty() && r.outcome != CaseOutcome::kPass)
      html += "<pre>" + EscapeMarkup(r.message) + "</pre>\n";
    if (!r.comparison.env_diff.empty()) {
      html += "<p>Environment, golden &#8594; this run:</p><pre>";
      for (const auto& d : r.comparison.env_diff) html += EscapeMarkup(d) + "\n";
      html += "</pre>\n";
    }
    html += "</section>\n";
  }
  return html + "</body></html>\n";
}

Status WriteHtmlReport(const SuiteResult& result, const std::string& dir) {
  return WriteFileAtomically((std::filesystem::path(dir) / "index.html").string(),
                             RenderHtmlReport(result));
}

}  // namespace lockstep::smoke
