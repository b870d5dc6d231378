// The HTML report of a smoke run (`lockstep smoke --report DIR`): one
// self-contained page, DIR/index.html, with the summary table and per case
// SVG plots of loss and grad-norm (and eval_loss when the run has it), run
// against golden, the first divergent step marked, and a table of the
// health checks. No scripts, no external files: it opens from a CI artifact.
#ifndef LOCKSTEP_SMOKE_HTML_REPORT_H_
#define LOCKSTEP_SMOKE_HTML_REPORT_H_

#include <string>

#include "core/status.h"
#include "smoke/suite.h"

namespace lockstep::smoke {

std::string RenderHtmlReport(const SuiteResult& result);
// Writes DIR/index.html atomically (DIR is created).
Status WriteHtmlReport(const SuiteResult& result, const std::string& dir);

}  // namespace lockstep::smoke

#endif  // LOCKSTEP_SMOKE_HTML_REPORT_H_
