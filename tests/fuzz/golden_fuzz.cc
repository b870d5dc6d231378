// ParseGolden on a fuzzed golden file; a golden that parses must round-trip:
// GoldenToToml, then ParseGolden again succeeds with the same steps and
// metrics (what SaveGolden promises: "nothing is written that could not be
// read back as the same record"). Build with -DLOCKSTEP_FUZZ_NO_ROUNDTRIP to
// check only that parsing does not crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "golden/run_record.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(lockstep::fuzz::AsText(data, size));
  lockstep::Result<lockstep::golden::RunRecord> record =
      lockstep::golden::ParseGolden(text, "fuzz.toml");
  if (!record.ok()) {
    if (record.status().message().empty())
      lockstep::fuzz::Fail("ParseGolden failed without a message");
    return 0;
  }
  const std::string written = lockstep::golden::GoldenToToml(*record);
#ifndef LOCKSTEP_FUZZ_NO_ROUNDTRIP
  lockstep::Result<lockstep::golden::RunRecord> back =
      lockstep::golden::ParseGolden(written, "written.toml");
  if (!back.ok()) {
    lockstep::fuzz::Fail("GoldenToToml of a parsed golden does not parse: " +
                         back.status().message() + "\n--- written:\n" + written);
  }
  if (back->steps.size() != record->steps.size()) {
    lockstep::fuzz::Fail("round trip changed the number of steps\n--- written:\n" + written);
  }
  for (std::size_t i = 0; i < record->steps.size(); ++i) {
    const lockstep::golden::StepRow& a = record->steps[i];
    const lockstep::golden::StepRow& b = back->steps[i];
    if (a.step != b.step || a.metrics != b.metrics) {
      lockstep::fuzz::Fail("round trip changed step " + std::to_string(a.step) +
                           "\n--- written:\n" + written);
    }
  }
#endif
  return 0;
}
