// LoadRecordStream on a fuzzed record stream (JSON Lines: a header line, then
// step lines), written to a file in a per-process scratch directory.
#include <cstddef>
#include <cstdint>

#include <nlohmann/json.hpp>

#include "golden/run_record.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

// FINDING: LoadRecordStream reads the first line's "type" with
// json::value("type", "") and HeaderFromJson reads config_digest,
// manifest_digest, profile and version the same way: a value that is not a
// string throws nlohmann type_error 302 out of a Result-returning function
// (std::terminate in `lockstep smoke`, `golden`, `bisect`). Repro: {"type":1}
// and {"type":"header","profile":1}, regressions/record_stream/. Until that
// is fixed, inputs whose first line has such a key are skipped.
bool HitsNonStringHeaderKey(std::string_view text) {
#ifdef LOCKSTEP_FUZZ_KEEP_KNOWN_FINDINGS
  (void)text;
  return false;
#else
  const nlohmann::json first = nlohmann::json::parse(text.substr(0, text.find('\n')), nullptr, false);
  if (first.is_discarded() || !first.is_object()) return false;
  for (const char* key : {"type", "config_digest", "manifest_digest", "profile", "version"}) {
    if (first.contains(key) && !first[key].is_string()) return true;
  }
  return false;
#endif
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (HitsNonStringHeaderKey(lockstep::fuzz::AsText(data, size))) return 0;  // FINDING: above
  static const std::filesystem::path path = lockstep::fuzz::ScratchDir("record_stream") / "record.jsonl";
  lockstep::fuzz::WriteBytes(path, lockstep::fuzz::AsText(data, size));
  lockstep::Result<lockstep::golden::RunRecord> r = lockstep::golden::LoadRecordStream(path.string());
  if (!r.ok() && r.status().message().empty()) lockstep::fuzz::Fail("LoadRecordStream failed without a message");
  return 0;
}
