// lockstep: did this change alter training? The subcommands, one file each.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <new>
#include <stdexcept>
#include <string>

#include "cli/command.h"
#include "core/toml_fields.h"

namespace lockstep::cli {

std::string SelfPath() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "lockstep";
}

int RefuseUnknownCommand(const CLI::App& app, int argc, char** argv) {
  const CLI::App* at = &app;
  std::string path = "lockstep";
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    if (word.empty() || word[0] == '-') return 0;  // options: CLI11 judges them
    // Hidden commands (empty group) run when named but are never suggested.
    std::vector<std::string> names, shown;
    for (const CLI::App* sub : at->get_subcommands([](const CLI::App*) { return true; })) {
      names.push_back(sub->get_name());
      if (!sub->get_group().empty()) shown.push_back(sub->get_name());
    }
    if (names.empty()) return 0;  // a command's positional arguments
    if (std::find(names.begin(), names.end(), word) == names.end()) {
      std::cerr << fmt::format("{}: unknown command '{}'; did you mean {}? (commands: {})\n", path,
                               word, lockstep::NearestName(word, shown), fmt::join(shown, ", "));
      return 2;
    }
    at = at->get_subcommand(word);
    path += " " + word;
  }
  return 0;
}

}  // namespace lockstep::cli

int main(int argc, char** argv) {
  using namespace lockstep::cli;
  CLI::App app{
      "lockstep: answers \"did this change alter training?\" with a number.\n"
      "Bit-exact training fingerprints, pinned data, golden comparison and bisection.\n"
      "Exit codes: 0 pass, 1 regression, 2 bad usage or input, 3 crash, 124 hang,\n"
      "128 + N interrupted by signal N (130 for Ctrl-C).",
      "lockstep"};
  app.set_version_flag("--version", "lockstep " LOCKSTEP_VERSION);
  app.require_subcommand(1);
  app.footer("Run `lockstep COMMAND --help` for a command's flags and an example.");
  int exit_code = 0;

  RegisterSmoke(app, exit_code);
  RegisterTrain(app, exit_code);
  RegisterGolden(app, exit_code);
  RegisterBisect(app, exit_code);

  CLI::App* data = app.add_subcommand(
      "data", "Pinned, blended training data: synthesize, build, import, verify, inspect, preview");
  data->require_subcommand(1);
  data->footer(
      "Example, the embedded default data end to end:\n"
      "  lockstep data synth --out out/data\n"
      "  lockstep data verify --manifest out/data/manifest.toml\n"
      "  lockstep data preview --manifest out/data/manifest.toml --steps 1:3");
  RegisterDataSynth(*data, exit_code);
  RegisterDataBuild(*data, exit_code);
  RegisterDataImport(*data, exit_code);
  RegisterDataVerify(*data, exit_code);
  RegisterDataInspect(*data, exit_code);
  RegisterDataPreview(*data, exit_code);
  RegisterEnv(app, exit_code);

  if (int code = RefuseUnknownCommand(app, argc, argv); code != 0) return code;
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help, --version
  } catch (const CLI::Error& e) {
    app.exit(e);  // prints the usage problem
    return 2;
  } catch (const std::bad_alloc&) {
    // Expected failures are Statuses; running out of memory is not a
    // programming error either, so it is reported, not aborted on.
    return Report(lockstep::Status::BadInput(
        "out of memory: this run needs more memory than the machine gave it; lower model.n_embd, "
        "model.n_layer, data.seq_len or train.micro_batch, or use a larger machine"));
  } catch (const std::length_error& e) {
    return Report(lockstep::Status::BadInput(std::string("a size too large to allocate (") +
                                             e.what() + "): lower the config's sizes"));
  }
  return exit_code;
}
