// The command line as a user first meets it: every command's --help shows an
// example, and a mistyped command is answered with the commands there are.
#include <gtest/gtest.h>

#include <string>

#include "core/test_util.h"
#include "tests/run_lockstep.h"

namespace lockstep {
namespace {

using ::lockstep::testing::CommandRun;
using ::lockstep::testing::Contains;
using ::lockstep::testing::Lockstep;

// The README promises an example in every command's help.
TEST(CliHelpTest, EveryCommandHelpShowsAnExample) {
  for (const char* command :
       {"train", "smoke", "env", "golden", "golden show", "golden diff", "golden check", "bisect",
        "bisect commits", "bisect steps", "data", "data synth", "data verify", "data preview",
        "data inspect", "data build", "data import"}) {
    SCOPED_TRACE(command);
    CommandRun help = Lockstep(std::string(command) + " --help");
    EXPECT_EQ(help.exit_code, 0) << help.output;
    EXPECT_TRUE(Contains(help.output, "Example")) << help.output;
  }
}

// `bisect judge` is called by git bisect run, not by people: it runs when
// named, but is neither listed nor suggested for a mistyped command.
TEST(CliHelpTest, HiddenCommandsRunButAreNeverSuggested) {
  CommandRun typo = Lockstep("bisect judg");
  EXPECT_EQ(typo.exit_code, 2) << typo.output;
  EXPECT_TRUE(Contains(typo.output, "unknown command 'judg'")) << typo.output;
  EXPECT_TRUE(Contains(typo.output, "(commands: commits, steps)")) << typo.output;
  EXPECT_FALSE(Contains(typo.output, "judge")) << typo.output;

  CommandRun named = Lockstep("bisect judge --help");
  EXPECT_EQ(named.exit_code, 0) << named.output;
  EXPECT_TRUE(Contains(named.output, "--state")) << named.output;
}

}  // namespace
}  // namespace lockstep
