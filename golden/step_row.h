// StepRow: one step's fingerprint, as recorded by lockstep's trainer or parsed
// from another trainer's log: a step number and named metric values.
//
// Metric names follow the record stream (docs/design.md): loss, grad_norm, lr,
// tokens, batch_digest, param_digest, mem_peak_bytes, rss_peak_bytes,
// step_ms; logs of other trainers may bring others (e.g. "memory").
// Object-valued fields (e.g. unchanged_detail, per-tensor scales for the
// health checks in golden/health.h) are kept apart in `detail`: they explain
// a step, they are not metrics, and goldens neither store nor compare them.
#ifndef LOCKSTEP_GOLDEN_STEP_ROW_H_
#define LOCKSTEP_GOLDEN_STEP_ROW_H_

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

namespace lockstep::golden {

// A metric value: a float (exact when it came from a hex float), an integer
// count, or text (digests, statuses).
struct MetricValue {
  enum class Kind { kFloat, kInt, kText };
  Kind kind = Kind::kFloat;
  double f = 0;
  std::uint64_t i = 0;
  std::string s;
  bool exact = true;  // kFloat: false when parsed from a rounded decimal

  static MetricValue Float(double v, bool exact = true) {
    MetricValue m;
    m.kind = Kind::kFloat;
    m.f = v;
    m.exact = exact;
    return m;
  }
  static MetricValue Int(std::uint64_t v) {
    MetricValue m;
    m.kind = Kind::kInt;
    m.i = v;
    return m;
  }
  static MetricValue Text(std::string v) {
    MetricValue m;
    m.kind = Kind::kText;
    m.s = std::move(v);
    return m;
  }
  std::string ToString() const;  // hex float, integer or text
  bool operator==(const MetricValue&) const = default;
};

struct StepRow {
  std::int64_t step = 0;
  std::map<std::string, MetricValue> metrics;
  nlohmann::json detail = nlohmann::json::object();  // field name -> JSON object
  const MetricValue* Find(const std::string& name) const {
    auto it = metrics.find(name);
    return it == metrics.end() ? nullptr : &it->second;
  }
};

}  // namespace lockstep::golden

#endif  // LOCKSTEP_GOLDEN_STEP_ROW_H_
