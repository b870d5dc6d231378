// StepRowFromJson on every fuzzed line that is JSON (parsed without
// exceptions, as the record-stream and jsonl readers do).
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "golden/metric_text.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const nlohmann::json line = nlohmann::json::parse(data, data + size, nullptr, false);
  if (line.is_discarded()) return 0;
  std::optional<lockstep::golden::StepRow> row = lockstep::golden::StepRowFromJson(line);
  if (row) {
    for (const auto& [name, value] : row->metrics) (void)value.ToString();
  }
  return 0;
}
