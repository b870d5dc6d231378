#include "core/json_diff.h"

#include <fmt/format.h>

#include <map>
#include <set>

namespace lockstep {
namespace {

void Flatten(const nlohmann::json& v, const std::string& prefix,
             std::map<std::string, std::string>& out) {
  if (v.is_object()) {
    for (const auto& [k, x] : v.items()) Flatten(x, prefix.empty() ? k : prefix + "." + k, out);
  } else {
    out[prefix] = v.is_string() ? v.get<std::string>() : v.dump();
  }
}

}  // namespace

std::vector<std::string> JsonDiff(const nlohmann::json& a, const nlohmann::json& b) {
  std::map<std::string, std::string> fa, fb;
  Flatten(a, "", fa);
  Flatten(b, "", fb);
  std::set<std::string> keys;
  for (const auto& [k, v] : fa) keys.insert(k);
  for (const auto& [k, v] : fb) keys.insert(k);
  std::vector<std::string> out;
  for (const std::string& k : keys) {
    auto ia = fa.find(k), ib = fb.find(k);
    std::string va = ia == fa.end() ? "(missing)" : ia->second;
    std::string vb = ib == fb.end() ? "(missing)" : ib->second;
    if (va != vb) out.push_back(fmt::format("{}: {} -> {}", k, va, vb));
  }
  return out;
}

}  // namespace lockstep
