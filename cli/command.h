// What every subcommand file shares: how a library Status becomes an exit
// code and a message on stderr.
#ifndef LOCKSTEP_CLI_COMMAND_H_
#define LOCKSTEP_CLI_COMMAND_H_

#include <CLI/CLI.hpp>
#include <string>

#include "core/report.h"  // Report(status): the message on stderr, the exit code
#include "core/status.h"

namespace lockstep::cli {

// This executable's path (/proc/self/exe), for the commands that run lockstep again.
std::string SelfPath();

// Each subcommand's file defines one of these: it adds the subcommand to
// `parent`, binds its flags, and on parse sets `exit_code` from one library call.
void RegisterDataSynth(CLI::App& data, int& exit_code);
void RegisterDataBuild(CLI::App& data, int& exit_code);
void RegisterDataImport(CLI::App& data, int& exit_code);
void RegisterDataVerify(CLI::App& data, int& exit_code);
void RegisterDataInspect(CLI::App& data, int& exit_code);
void RegisterDataPreview(CLI::App& data, int& exit_code);
void RegisterTrain(CLI::App& app, int& exit_code);
void RegisterEnv(CLI::App& app, int& exit_code);
void RegisterSmoke(CLI::App& app, int& exit_code);
void RegisterGolden(CLI::App& app, int& exit_code);
void RegisterBisect(CLI::App& app, int& exit_code);  // bisect.cc: the group
void RegisterBisectCommits(CLI::App& bisect, int& exit_code);
void RegisterBisectSteps(CLI::App& bisect, int& exit_code);

}  // namespace lockstep::cli

#endif  // LOCKSTEP_CLI_COMMAND_H_
