#include "trainer/train_config.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>
#include <sstream>
#include <toml.hpp>
#include <variant>

#include "core/atomic_file.h"
#include "core/digest.h"
#include "core/toml_fields.h"

namespace lockstep::trainer {
namespace {

using Target = std::variant<int*, double*, std::string*, std::uint64_t*>;

struct Binding {
  const char* key;  // "section.name"
  Target target;
};

// Every config key and where its value goes; data.schedule is parsed apart.
std::vector<Binding> Bindings(TrainConfig& c, std::string& norm, std::string& profile,
                              std::string& compute, std::string& master, double& init_std) {
  return {
      {"model.vocab_size", &c.model.vocab_size},
      {"model.n_layer", &c.model.n_layer},
      {"model.n_embd", &c.model.n_embd},
      {"model.n_head", &c.model.n_head},
      {"model.norm", &norm},
      {"model.init_std", &init_std},
      {"train.steps", &c.steps},
      {"train.global_batch", &c.global_batch},
      {"train.micro_batch", &c.micro_batch},
      {"train.lr", &c.lr},
      {"train.min_lr", &c.min_lr},
      {"train.warmup_steps", &c.warmup_steps},
      {"train.weight_decay", &c.weight_decay},
      {"train.beta1", &c.beta1},
      {"train.beta2", &c.beta2},
      {"train.eps", &c.eps},
      {"train.grad_clip", &c.grad_clip},
      {"train.seed", &c.seed},
      {"numerics.profile", &profile},
      {"numerics.threads", &c.threads},
      {"numerics.reduction", &c.reduction},
      {"numerics.compute", &compute},
      {"numerics.master", &master},
      {"data.manifest", &c.manifest},
      {"data.seq_len", &c.seq_len},
      {"data.schedule", static_cast<std::string*>(nullptr)},
      {"data.eval_manifest", &c.eval_manifest},
      {"eval.every", &c.eval_every},
      {"eval.tokens", &c.eval_tokens},
      {"eval.prompts", &c.eval_prompts},
  };
}

// Parses the right-hand side of --set as a TOML value; a bare word that is
// not TOML (openblas, rmsnorm) is taken as a string.
toml::value ParseOverrideValue(const std::string& text) {
  if (!CheckTomlNesting(text, "--set").ok()) return toml::value(text);  // then a type error
  std::istringstream in("x = " + text);
  try {
    toml::value v = toml::parse(in, "--set");
    return v.at("x");
  } catch (const std::exception&) {
    return toml::value(text);
  }
}

Status ApplyOverride(toml::value& root, const std::string& assignment) {
  auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) {
    return Status::BadInput(
        fmt::format("--set \"{}\": expected KEY=VALUE, e.g. --set model.n_layer=4", assignment));
  }
  std::string key = assignment.substr(0, eq);
  toml::value* node = &root;
  std::size_t start = 0;
  for (;;) {
    std::size_t dot = key.find('.', start);
    std::string part =
        key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    auto& table = node->as_table();
    if (dot == std::string::npos) {
      table[part] = ParseOverrideValue(assignment.substr(eq + 1));
      return Status::Ok();
    }
    if (table.count(part) == 0) table[part] = toml::table{};
    node = &table[part];
    if (!node->is_table()) {
      return Status::BadInput(fmt::format("--set {}: \"{}\" is not a table", key, part));
    }
    start = dot + 1;
  }
}

Status Assign(const toml::value& v, const Binding& b, const std::string& where) {
  auto wrong = [&](const char* want) {
    return Status::BadInput(
        fmt::format("{}: {} must be {}, got {}", where, b.key, want, toml::stringize(v.type())));
  };
  if (auto* p = std::get_if<int*>(&b.target)) {
    // Never narrowed: 4294967299 is not 3.
    if (!v.is_integer()) return wrong("an integer");
    if (v.as_integer() < std::numeric_limits<int>::min() ||
        v.as_integer() > std::numeric_limits<int>::max()) {
      return Status::BadInput(fmt::format("{}: {} = {} is out of range: at most {}", where, b.key,
                                          v.as_integer(), std::numeric_limits<int>::max()));
    }
    **p = static_cast<int>(v.as_integer());
  } else if (auto* p = std::get_if<std::uint64_t*>(&b.target)) {
    if (!v.is_integer() || v.as_integer() < 0) return wrong("a non-negative integer");
    **p = static_cast<std::uint64_t>(v.as_integer());
  } else if (auto* p = std::get_if<double*>(&b.target)) {
    if (v.is_integer()) {
      **p = static_cast<double>(v.as_integer());
    } else if (v.is_floating()) {
      if (!std::isfinite(v.as_floating())) {
        return Status::BadInput(
            fmt::format("{}: {} = {} must be a finite number", where, b.key, v.as_floating()));
      }
      **p = v.as_floating();
    } else {
      return wrong("a number");
    }
  } else if (auto* p = std::get_if<std::string*>(&b.target)) {
    if (!v.is_string()) return wrong("a string");
    **p = v.as_string().str;
  }
  return Status::Ok();
}

nlohmann::json ScheduleToJson(const toml::value& v, const std::string& origin, Status* status) {
  nlohmann::json out = nlohmann::json::array();
  if (!v.is_array()) {
    *status =
        Status::BadInput(origin + ": data.schedule must be an array of tables ([[data.schedule]])");
    return out;
  }
  for (const toml::value& seg : v.as_array()) {
    if (!seg.is_table() || !seg.contains("from_step") || !seg.at("from_step").is_integer() ||
        !seg.contains("weights") || !seg.at("weights").is_table()) {
      *status = Status::BadInput(origin +
                                 ": each [[data.schedule]] needs from_step = N and weights = "
                                 "{ corpus = w, ... }");
      return out;
    }
    nlohmann::json weights = nlohmann::json::object();
    for (const auto& [name, w] : seg.at("weights").as_table()) {
      if (!w.is_floating() && !w.is_integer()) {
        *status = Status::BadInput(
            fmt::format("{}: data.schedule weight of {} must be a number", origin, name));
        return out;
      }
      weights[name] = w.is_floating() ? w.as_floating() : static_cast<double>(w.as_integer());
    }
    out.push_back({{"from_step", seg.at("from_step").as_integer()}, {"weights", weights}});
  }
  return out;
}

Status Validate(const TrainConfig& c) {
  auto bad = [&](std::string msg) { return Status::BadInput(c.origin + ": " + msg); };
  const GptConfig& m = c.model;
  if (m.vocab_size < 2)
    return bad(fmt::format("model.vocab_size = {} must be at least 2", m.vocab_size));
  if (m.n_layer < 1) return bad(fmt::format("model.n_layer = {} must be at least 1", m.n_layer));
  if (m.n_embd < 1 || m.n_head < 1) return bad("model.n_embd and model.n_head must be at least 1");
  if (m.n_embd % m.n_head != 0) {
    std::string divisors;
    for (int h = 1; h <= m.n_embd && divisors.size() < 24; ++h) {
      if (m.n_embd % h == 0) divisors += (divisors.empty() ? "" : ", ") + std::to_string(h);
    }
    return bad(fmt::format(
        "model.n_head = {} does not divide model.n_embd = {}: every head needs n_embd / n_head "
        "channels; use one of {}",
        m.n_head, m.n_embd, divisors));
  }
  if (c.steps < 1) return bad(fmt::format("train.steps = {} must be at least 1", c.steps));
  if (c.micro_batch < 1 || c.global_batch < 1) {
    return bad("train.global_batch and train.micro_batch must be at least 1");
  }
  if (c.micro_batch > c.global_batch) {
    return bad(fmt::format(
        "train.micro_batch = {} is more than train.global_batch = {}: a micro-batch is part of "
        "the batch; set micro_batch <= global_batch",
        c.micro_batch, c.global_batch));
  }
  if (c.threads < 1 || c.threads > 256) {
    return bad(fmt::format("numerics.threads = {} must be between 1 and 256", c.threads));
  }
  if (!(c.lr >= 0) || !(c.min_lr >= 0)) return bad("train.lr and train.min_lr must be >= 0");
  if (c.warmup_steps < 0) return bad("train.warmup_steps must be >= 0");
  if (!(c.beta1 >= 0 && c.beta1 < 1) || !(c.beta2 >= 0 && c.beta2 < 1)) {
    return bad("train.beta1 and train.beta2 must be in [0, 1)");
  }
  if (!(c.eps > 0)) return bad("train.eps must be > 0");
  if (!(c.weight_decay >= 0)) return bad("train.weight_decay must be >= 0 (0 turns it off)");
  if (!(c.grad_clip >= 0)) return bad("train.grad_clip must be >= 0 (0 disables clipping)");
  if (!(m.init_std > 0)) return bad("model.init_std must be > 0");
  if (c.seq_len < 0) return bad("data.seq_len must be >= 0 (0 = the manifest's)");
  if (c.reduction != "deterministic" && c.reduction != "nondeterministic") {
    return bad(
        fmt::format("numerics.reduction = \"{}\": use \"deterministic\" (same bits on any "
                    "number of ranks) or \"nondeterministic\" (MPI_Allreduce)",
                    c.reduction));
  }
  if (c.eval_every < 0) {
    return bad(fmt::format("eval.every = {} must be >= 0 (0 turns the held-out evaluation off)",
                           c.eval_every));
  }
  if (c.eval_tokens < 2) {
    return bad(
        fmt::format("eval.tokens = {} must be at least 2: held-out tokens per corpus, e.g. "
                    "eval.tokens = 4096",
                    c.eval_tokens));
  }
  if (c.eval_prompts < 0) {
    return bad(fmt::format("eval.prompts = {} must be >= 0 (0 = no accuracy)", c.eval_prompts));
  }
  if (c.eval_every > 0 && c.manifest != "embedded" && c.eval_manifest.empty()) {
    return bad(fmt::format(
        "eval.every = {} needs held-out text, and data.manifest = \"{}\" is a path: set "
        "data.eval_manifest = \"PATH\" to a manifest with the same corpus names whose shards hold "
        "held-out text, or set eval.every = 0",
        c.eval_every, c.manifest));
  }
  return Status::Ok();
}

}  // namespace

std::uint64_t TrainConfig::Digest() const {
  // The thread count and the micro-batch size change no bit of the run (that
  // is the point), so they are not part of the config's identity: a run with
  // 2 threads or micro_batch 1 compares against a golden recorded with 1 and 2.
  nlohmann::json identity = resolved;
  identity["numerics"].erase("threads");
  identity["train"].erase("micro_batch");
  std::string text = identity.dump();
  return Xxh3_64(text.data(), text.size());
}

Result<TrainConfig> ParseTrainConfig(const std::string& text, const std::string& origin,
                                     const std::string& base_dir,
                                     const std::vector<std::string>& overrides) {
  Result<toml::value> parsed = ParseTomlText(text, origin);
  if (!parsed.ok()) return parsed.status();
  toml::value root = std::move(parsed).value();
  for (const std::string& o : overrides) {
    LOCKSTEP_RETURN_IF_ERROR(CheckUtf8(o, "--set " + o.substr(0, o.find('='))));
    LOCKSTEP_RETURN_IF_ERROR(ApplyOverride(root, o));
  }

  TrainConfig c;
  c.origin = origin;
  c.base_dir = base_dir;
  std::string norm = "layernorm", profile = "portable", compute = "fp32", master = "fp32";
  double init_std = c.model.init_std;
  std::vector<Binding> bindings = Bindings(c, norm, profile, compute, master, init_std);
  std::vector<std::string> valid;
  for (const Binding& b : bindings) valid.push_back(b.key);

  for (const auto& [section, table] : root.as_table()) {
    if (!table.is_table()) {
      return Status::BadInput(
          fmt::format("{}: unknown top-level key \"{}\"; keys live in [model], [train], "
                      "[numerics], [data], [eval]",
                      origin, section));
    }
    for (const auto& [name, value] : table.as_table()) {
      std::string key = section + "." + name;
      auto it = std::find_if(bindings.begin(), bindings.end(),
                             [&](const Binding& b) { return key == b.key; });
      if (it == bindings.end()) {
        return Status::BadInput(fmt::format("{}: unknown key \"{}\"; did you mean \"{}\"?", origin,
                                            key, NearestName(key, valid)));
      }
      if (key == "data.schedule") {
        Status st;
        nlohmann::json schedule = ScheduleToJson(value, origin, &st);
        if (!st.ok()) return st;
        c.schedule = schedule;
        continue;
      }
      LOCKSTEP_RETURN_IF_ERROR(Assign(value, *it, TomlWhere(value, origin)));
    }
  }
  c.model.init_std = static_cast<float>(init_std);
  if (norm == "layernorm") {
    c.model.norm = Norm::kLayerNorm;
  } else if (norm == "rmsnorm") {
    c.model.norm = Norm::kRmsNorm;
  } else {
    return Status::BadInput(
        fmt::format("{}: model.norm = \"{}\": use \"layernorm\" or \"rmsnorm\"", origin, norm));
  }
  if (profile == "portable") {
    c.profile = Profile::kPortable;
  } else if (profile == "openblas") {
    c.profile = Profile::kOpenBlas;
  } else {
    return Status::BadInput(fmt::format(
        "{}: numerics.profile = \"{}\": use \"portable\" (same bits on every machine) or "
        "\"openblas\" (fast, bit-exact on one machine)",
        origin, profile));
  }
  const struct {
    const char* key;
    const std::string& name;
    Precision* target;
    const char* bf16_means;
  } precisions[] = {
      {"numerics.compute", compute, &c.compute,
       "rounds the inputs of every matrix product to bf16"},
      {"numerics.master", master, &c.master, "keeps the parameters as bf16 values"},
  };
  for (const auto& p : precisions) {
    if (p.name == "fp32" || p.name == "bf16") {
      *p.target = p.name == "fp32" ? Precision::kFp32 : Precision::kBf16;
    } else {
      return Status::BadInput(fmt::format("{}: {} = \"{}\": use \"fp32\" or \"bf16\" (\"bf16\" {})",
                                          origin, p.key, p.name, p.bf16_means));
    }
  }
  LOCKSTEP_RETURN_IF_ERROR(Validate(c));

  c.resolved = {
      {"model",
       {{"vocab_size", c.model.vocab_size},
        {"n_layer", c.model.n_layer},
        {"n_embd", c.model.n_embd},
        {"n_head", c.model.n_head},
        {"norm", norm},
        {"init_std", init_std}}},
      {"train",
       {{"steps", c.steps},
        {"global_batch", c.global_batch},
        {"micro_batch", c.micro_batch},
        {"lr", c.lr},
        {"min_lr", c.min_lr},
        {"warmup_steps", c.warmup_steps},
        {"weight_decay", c.weight_decay},
        {"beta1", c.beta1},
        {"beta2", c.beta2},
        {"eps", c.eps},
        {"grad_clip", c.grad_clip},
        {"seed", c.seed}}},
      {"numerics",
       {{"profile", profile},
        {"threads", c.threads},
        {"reduction", c.reduction},
        {"compute", compute},
        {"master", master}}},
      {"data",
       {{"manifest", c.manifest}, {"seq_len", c.seq_len}, {"eval_manifest", c.eval_manifest}}},
      {"eval", {{"every", c.eval_every}, {"tokens", c.eval_tokens}, {"prompts", c.eval_prompts}}},
  };
  if (c.schedule) c.resolved["data"]["schedule"] = *c.schedule;
  return c;
}

double MinimumTrainingBytes(const TrainConfig& c, int seq_len, int ranks) {
  const double V = c.model.vocab_size, T = seq_len, C = c.model.n_embd, L = c.model.n_layer;
  const double params = V * C + T * C + L * (12 * C * C + 13 * C) + 2 * C;
  // The largest rank block, the sequences a micro-batch holds, and the
  // partial sums the tree keeps open over the block (one per level).
  const int block = (c.global_batch + ranks - 1) / std::max(ranks, 1);
  const int sequences = std::min(c.micro_batch, block);
  const int levels = std::bit_width(static_cast<unsigned>(block));
  const double logits = static_cast<double>(sequences) * T * V;
  // Parameters, AdamW's m and v, one gradient per sequence, the tree's
  // partial sums, and on several ranks the whole sum gathered back.
  const double copies = 3 + sequences + levels + (ranks > 1 ? 1 : 0);
  return 4.0 * (copies * params + 2 * logits);
}

Status CheckFitsInMemory(const TrainConfig& c, int seq_len, int ranks) {
  const double need = MinimumTrainingBytes(c, seq_len, ranks);
  const double have = static_cast<double>(::sysconf(_SC_PHYS_PAGES)) *
                      static_cast<double>(::sysconf(_SC_PAGE_SIZE));
  if (have <= 0 || need <= have) return Status::Ok();
  return Status::BadInput(fmt::format(
      "{}: this config needs at least {:.3g} GiB per rank (parameters, AdamW state, a gradient "
      "per sequence of a micro-batch, the reduction's partial sums and one micro-batch's "
      "logits) and this machine has {:.3g} GiB: lower model.n_embd ({}), model.n_layer ({}), "
      "model.vocab_size ({}), data.seq_len ({}) or train.micro_batch ({})",
      c.origin, need / 1073741824.0, have / 1073741824.0, c.model.n_embd, c.model.n_layer,
      c.model.vocab_size, seq_len, c.micro_batch));
}

Result<TrainConfig> LoadTrainConfig(const std::string& path,
                                    const std::vector<std::string>& overrides) {
  Result<std::string> text = ReadFile(path);
  if (!text.ok()) {
    return Status::BadInput(
        text.status().message() +
        " (pass --config FILE; trainer/configs/smoke.toml is the default smoke config)");
  }
  return ParseTrainConfig(*text, path, std::filesystem::path(path).parent_path().string(),
                          overrides);
}

}  // namespace lockstep::trainer
