// LoadRecordStream on a fuzzed record stream (JSON Lines: a header line, then
// step lines), written to a file in a per-process scratch directory.
#include <cstddef>
#include <cstdint>

#include "golden/run_record.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::filesystem::path path =
      lockstep::fuzz::ScratchDir("record_stream") / "record.jsonl";
  lockstep::fuzz::WriteBytes(path, lockstep::fuzz::AsText(data, size));
  lockstep::Result<lockstep::golden::RunRecord> r =
      lockstep::golden::LoadRecordStream(path.string());
  if (!r.ok() && r.status().message().empty())
    lockstep::fuzz::Fail("LoadRecordStream failed without a message");
  return 0;
}
