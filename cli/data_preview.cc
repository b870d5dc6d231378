// lockstep data preview: what the sampler feeds each step.
#include <charconv>
#include <iostream>

#include "cli/command.h"
#include "data/data_reports.h"
#include "data/manifest.h"

namespace lockstep::cli {
namespace {

// Parses "A:B" (steps A to B-1) or "A" (step A alone).
bool ParseStepRange(const std::string& text, data::PreviewOptions& o) {
  auto colon = text.find(':');
  std::string first = text.substr(0, colon);
  auto parse = [](const std::string& s, std::uint64_t& v) {
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return ec == std::errc() && end == s.data() + s.size() && !s.empty();
  };
  if (!parse(first, o.first_step)) return false;
  if (colon == std::string::npos) {
    o.end_step = o.first_step + 1;
    return true;
  }
  return parse(text.substr(colon + 1), o.end_step);
}

}  // namespace

void RegisterDataPreview(CLI::App& data, int& exit_code) {
  auto* cmd = data.add_subcommand(
      "preview",
      "Show what the sampler feeds each step: the corpus of every slot, the batch digest\n"
      "and the detokenized head of a few samples");
  auto manifest_path = std::make_shared<std::string>();
  auto steps = std::make_shared<std::string>("1:4");
  auto o = std::make_shared<data::PreviewOptions>();
  cmd->add_option("--manifest", *manifest_path, "Manifest (TOML)")->required();
  cmd->add_option("--steps", *steps, "Steps A:B (B exclusive) or a single step")
      ->capture_default_str();
  cmd->add_option("--batch", o->global_batch, "Global batch size (samples per step)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--samples", o->samples, "Samples shown per step")->capture_default_str();
  cmd->add_option("--chars", o->chars, "Characters of each sample's text shown (detokenized)")
      ->capture_default_str();
  cmd->footer(
      "Example:\n  lockstep data preview --manifest out/data/manifest.toml --steps 1:4\n"
      "Steps count from 1, as the trainer's optimizer steps do.");
  cmd->callback([=, &exit_code] {
    if (!ParseStepRange(*steps, *o)) {
      exit_code = Report(
          Status::BadInput("--steps \"" + *steps + "\": give A:B (steps A to B-1) or one step A"));
      return;
    }
    Result<data::Manifest> manifest = data::LoadManifest(*manifest_path);
    exit_code =
        Report(manifest.ok() ? data::PreviewSteps(*manifest, *o, std::cout) : manifest.status());
  });
}

}  // namespace lockstep::cli
