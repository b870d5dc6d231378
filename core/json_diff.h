// JsonDiff: what differs between two JSON documents, one line per key, for
// messages that say which config keys, environment entries or checkpoint
// identities changed.
#ifndef LOCKSTEP_CORE_JSON_DIFF_H_
#define LOCKSTEP_CORE_JSON_DIFF_H_

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace lockstep {

// Flattens nested objects into "a.b.c" -> value and lists the keys whose
// values differ as "key: a -> b" ("(missing)" for an absent side), in key order.
std::vector<std::string> JsonDiff(const nlohmann::json& a, const nlohmann::json& b);

}  // namespace lockstep

#endif  // LOCKSTEP_CORE_JSON_DIFF_H_
