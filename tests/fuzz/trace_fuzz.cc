// LoadTrace with a fuzzed trace index, then ReadTraceValues for every tensor
// whose values it says are kept. The input is DIR/rank0.jsonl, or, split at a
// line "--rank1--", rank0.jsonl then rank1.jsonl; DIR/rank0.bin and
// DIR/rank1.bin are fixed files of 16 float32 values each.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "tests/fuzz/fuzz_util.h"
#include "trainer/tensor_trace.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::filesystem::path dir = [] {
    const std::filesystem::path d = lockstep::fuzz::ScratchDir("trace");
    std::vector<float> values(16);
    for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i) * 0.5f - 3.0f;
    const std::string bytes(reinterpret_cast<const char*>(values.data()),
                            values.size() * sizeof(float));
    lockstep::fuzz::WriteBytes(d / "rank0.bin", bytes);
    lockstep::fuzz::WriteBytes(d / "rank1.bin", bytes);
    return d;
  }();
  const auto [rank0, rank1] =
      lockstep::fuzz::SplitOnce(lockstep::fuzz::AsText(data, size), "\n--rank1--\n");
  lockstep::fuzz::WriteBytes(dir / "rank0.jsonl", rank0);
  std::error_code ec;
  if (rank1.empty()) {
    std::filesystem::remove(dir / "rank1.jsonl", ec);
  } else {
    lockstep::fuzz::WriteBytes(dir / "rank1.jsonl", rank1);
  }
  lockstep::Result<std::vector<lockstep::trainer::TracedTensor>> trace =
      lockstep::trainer::LoadTrace(dir.string());
  if (!trace.ok()) {
    if (trace.status().message().empty())
      lockstep::fuzz::Fail("LoadTrace failed without a message");
    return 0;
  }
  for (lockstep::trainer::TracedTensor& t : *trace) {
    if (!t.has_values) continue;
    // LoadTrace checked that offset + count floats lie inside the .bin file
    // (64 bytes here): anything larger got past that check.
    if (t.count > 16 || t.offset > 16) {
      lockstep::fuzz::Fail("LoadTrace accepted " + t.name + " with offset " +
                           std::to_string(t.offset) + " and count " + std::to_string(t.count) +
                           " for a 16-float .bin file");
    }
    lockstep::Status st = lockstep::trainer::ReadTraceValues(dir.string(), &t);
    if (st.ok() && t.values.size() != t.count)
      lockstep::fuzz::Fail("ReadTraceValues read the wrong count");
  }
  return 0;
}
