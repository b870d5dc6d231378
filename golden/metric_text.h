// Reading metric values from text: numbers as trainers print them, and
// record-stream JSON lines as StepRows. Shared by the golden reader and the
// smoke log parsers, so a value reads the same wherever it comes from.
#ifndef LOCKSTEP_GOLDEN_METRIC_TEXT_H_
#define LOCKSTEP_GOLDEN_METRIC_TEXT_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

#include "golden/step_row.h"

namespace lockstep::golden {

// "0x1.8p+1", "-0X1P-3": a C99 hex float, which is exact.
bool IsHexFloatText(std::string_view s);
// A decimal (or hex) number, optional sign and exponent, thousands commas in
// the integer part ("1,234,567.5"); nullopt otherwise.
std::optional<double> ParseNumber(std::string_view text);
// A non-negative integer and nothing else.
std::optional<std::uint64_t> ParseUint(std::string_view text);
// A step number: an integer ("12", "1,234") or an integral number ("12.0").
std::optional<std::int64_t> ParseStep(std::string_view text);

// A record-stream line as a StepRow: hex-float strings (and "nan"/"inf") are
// exact floats; counts (tokens, *_bytes) integers; digests, status and cause
// text; step_ms and decimal numbers inexact floats; *_dec keys skipped. Other
// keys: integers, hex floats, or text; object-valued keys (unchanged_detail)
// go to StepRow::detail, never compared. nullopt without a valid "step".
std::optional<StepRow> StepRowFromJson(const nlohmann::json& line);

}  // namespace lockstep::golden

#endif  // LOCKSTEP_GOLDEN_METRIC_TEXT_H_
