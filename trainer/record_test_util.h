// For the trainer's tests: a record stream as it is on disk.
#ifndef LOCKSTEP_TRAINER_RECORD_TEST_UTIL_H_
#define LOCKSTEP_TRAINER_RECORD_TEST_UTIL_H_

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace lockstep::trainer {

// Every line of the record stream at `path`, header first, parsed.
inline std::vector<nlohmann::json> ReadRecordLines(const std::string& path) {
  std::vector<nlohmann::json> lines;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

}  // namespace lockstep::trainer

#endif  // LOCKSTEP_TRAINER_RECORD_TEST_UTIL_H_
