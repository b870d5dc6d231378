// LoadTrace with a fuzzed trace index, then ReadTraceValues for every tensor
// whose values it says are kept. The input is DIR/rank0.jsonl, or, split at a
// line "--rank1--", rank0.jsonl then rank1.jsonl; DIR/rank0.bin and
// DIR/rank1.bin are fixed files of 16 float32 values each.
#include <cstddef>
#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/fuzz/fuzz_util.h"
#include "trainer/tensor_trace.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::filesystem::path dir = [] {
    const std::filesystem::path d = lockstep::fuzz::ScratchDir("trace");
    std::vector<float> values(16);
    for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i) * 0.5f - 3.0f;
    const std::string bytes(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
    lockstep::fuzz::WriteBytes(d / "rank0.bin", bytes);
    lockstep::fuzz::WriteBytes(d / "rank1.bin", bytes);
    return d;
  }();
#ifndef LOCKSTEP_FUZZ_KEEP_KNOWN_FINDINGS
  // FINDING: LoadTrace reads "mb" and "seq" with get<int>() (and "count",
  // "offset" with get<uint64_t>()), which convert a floating JSON number
  // outside the type's range (1e300) without a check: UBSan
  // float-cast-overflow in nlohmann's from_json (tensor_trace.cc, the `mb`
  // and `seq` lines). regressions/trace/crash-seq-not-an-int. Inputs with
  // such a value are skipped until LoadTrace rejects them.
  {
    std::string_view rest = lockstep::fuzz::AsText(data, size);
    while (!rest.empty()) {
      const auto [line, after] = lockstep::fuzz::SplitOnce(rest, "\n");
      rest = after;
      const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.is_object()) continue;
      for (const char* key : {"mb", "seq", "count", "offset"}) {
        if (!j.contains(key) || !j[key].is_number()) continue;
        const double v = j[key].get<double>();
        const bool is_int = key[0] == 'm' || key[0] == 's';  // get<int>; else get<uint64_t>
        if (is_int ? !(v > -2147483649.0 && v < 2147483648.0) : !(v > -1.0 && v < 18446744073709551616.0)) return 0;
      }
    }
  }
#endif
  const auto [rank0, rank1] = lockstep::fuzz::SplitOnce(lockstep::fuzz::AsText(data, size), "\n--rank1--\n");
  lockstep::fuzz::WriteBytes(dir / "rank0.jsonl", rank0);
  std::error_code ec;
  if (rank1.empty()) {
    std::filesystem::remove(dir / "rank1.jsonl", ec);
  } else {
    lockstep::fuzz::WriteBytes(dir / "rank1.jsonl", rank1);
  }
  lockstep::Result<std::vector<lockstep::trainer::TracedTensor>> trace = lockstep::trainer::LoadTrace(dir.string());
  if (!trace.ok()) {
    if (trace.status().message().empty()) lockstep::fuzz::Fail("LoadTrace failed without a message");
    return 0;
  }
  for (lockstep::trainer::TracedTensor& t : *trace) {
    if (!t.has_values) continue;
    // LoadTrace checked that offset + count floats lie inside the .bin file
    // (64 bytes here): anything larger got past that check.
    if (t.count > 16 || t.offset > 16) {
      lockstep::fuzz::Fail("LoadTrace accepted " + t.name + " with offset " + std::to_string(t.offset) +
                           " and count " + std::to_string(t.count) + " for a 16-float .bin file");
    }
    lockstep::Status st = lockstep::trainer::ReadTraceValues(dir.string(), &t);
    if (st.ok() && t.values.size() != t.count) lockstep::fuzz::Fail("ReadTraceValues read the wrong count");
  }
  return 0;
}
