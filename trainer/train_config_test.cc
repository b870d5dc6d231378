#include "trainer/train_config.h"

#include <gtest/gtest.h>

#include "core/test_util.h"

namespace lockstep::trainer {
namespace {

using ::lockstep::testing::Contains;

const char* kConfig = R"(
[model]
n_layer = 3
n_embd = 48
n_head = 4
[train]
steps = 7
global_batch = 8
micro_batch = 2
[numerics]
profile = "openblas"
threads = 2
)";

Result<TrainConfig> Parse(const std::string& text, std::vector<std::string> overrides = {}) {
  return ParseTrainConfig(text, "c.toml", "/cfg", overrides);
}

std::string ErrorOf(const std::string& text, std::vector<std::string> overrides = {}) {
  Result<TrainConfig> c = Parse(text, overrides);
  EXPECT_FALSE(c.ok());
  if (c.ok()) return "";
  EXPECT_EQ(c.status().exit_code(), 2);
  EXPECT_TRUE(Contains(c.status().message(), "c.toml"));
  return c.status().message();
}

TEST(TrainConfigTest, ReadsKeysAndKeepsDefaults) {
  Result<TrainConfig> c = Parse(kConfig);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->model.n_layer, 3);
  EXPECT_EQ(c->model.n_embd, 48);
  EXPECT_EQ(c->steps, 7);
  EXPECT_EQ(c->micro_batch, 2);
  EXPECT_EQ(c->profile, Profile::kOpenBlas);
  EXPECT_EQ(c->threads, 2);
  EXPECT_EQ(c->model.vocab_size, 257);  // default
  EXPECT_EQ(c->resolved["train"]["lr"], 3e-3);
  EXPECT_EQ(c->manifest, "embedded");
}

TEST(TrainConfigTest, SetOverridesAnyKeyWithTomlValuesOrBareWords) {
  Result<TrainConfig> c =
      Parse(kConfig, {"model.n_layer=1", "train.lr=0.5", "numerics.profile=portable",
                      "model.norm=rmsnorm", "data.manifest=\"x/m.toml\""});
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->model.n_layer, 1);
  EXPECT_EQ(c->lr, 0.5);
  EXPECT_EQ(c->profile, Profile::kPortable);
  EXPECT_EQ(c->model.norm, Norm::kRmsNorm);
  EXPECT_EQ(c->manifest, "x/m.toml");
}

TEST(TrainConfigTest, UnknownKeyNamesTheNearestValidOne) {
  EXPECT_TRUE(Contains(ErrorOf(kConfig, {"model.n_layers=2"}),
                       "unknown key \"model.n_layers\"; did you mean \"model.n_layer\"?"));
  EXPECT_TRUE(Contains(ErrorOf(std::string(kConfig) + "\n[optim]\nlr = 1\n"),
                       "did you mean \"train.lr\"?"));
  EXPECT_TRUE(Contains(ErrorOf(kConfig, {"train.stpes=3"}), "did you mean \"train.steps\"?"));
}

TEST(TrainConfigTest, StructuralProblemsAreCaughtBeforeAnyWork) {
  EXPECT_TRUE(Contains(ErrorOf(kConfig, {"model.n_head=5"}),
                       "model.n_head = 5 does not divide model.n_embd = 48"));
  EXPECT_TRUE(Contains(ErrorOf(kConfig, {"train.micro_batch=9"}),
                       "train.micro_batch = 9 is more than train.global_batch = 8"));
  EXPECT_TRUE(Contains(ErrorOf(kConfig, {"numerics.profile=cuda"}), "use \"portable\""));
  EXPECT_TRUE(Contains(ErrorOf(kConfig, {"model.n_layer=\"two\""}), "must be an integer"));
  EXPECT_TRUE(Contains(ErrorOf(kConfig, {"train.beta2=1.0"}), "beta2"));
  EXPECT_TRUE(Contains(ErrorOf("[model\nn_layer = 2\n"), "syntax error"));
  Result<TrainConfig> bad_set = Parse(kConfig, {"oops"});
  ASSERT_FALSE(bad_set.ok());
  EXPECT_EQ(bad_set.status().exit_code(), 2);
  EXPECT_TRUE(Contains(bad_set.status().message(), "--set \"oops\": expected KEY=VALUE"));
}

// No integer is narrowed and no float may be infinite or NaN: a value out of
// range is refused, not wrapped into another that trains.
TEST(TrainConfigTest, ValuesAreNeverNarrowedOrNonFinite) {
  EXPECT_TRUE(Contains(ErrorOf(kConfig, {"train.steps=4294967299"}),
                       "train.steps = 4294967299 is out of range"));
  EXPECT_TRUE(Contains(ErrorOf(kConfig, {"data.seq_len=1099511627776"}),
                       "data.seq_len = 1099511627776 is out of range"));
  EXPECT_TRUE(
      Contains(ErrorOf(kConfig, {"train.lr=inf"}), "train.lr = inf must be a finite number"));
  EXPECT_TRUE(Contains(ErrorOf(kConfig, {"train.weight_decay=nan"}),
                       "train.weight_decay = nan must be a finite number"));
  EXPECT_TRUE(
      Contains(ErrorOf(kConfig, {"train.weight_decay=-0.1"}), "train.weight_decay must be >= 0"));
  EXPECT_TRUE(
      Contains(ErrorOf("[train]\nsteps = 2.5\n"), "c.toml:2: train.steps must be an integer"));
}

TEST(TrainConfigTest, DigestIgnoresThreadsAndMicroBatchButNothingElse) {
  Result<TrainConfig> a = Parse(kConfig), b = Parse(kConfig, {"numerics.threads=4"});
  Result<TrainConfig> c = Parse(kConfig, {"train.seed=2"});
  Result<TrainConfig> d = Parse(kConfig, {"train.micro_batch=1"});
  Result<TrainConfig> e = Parse(kConfig, {"train.global_batch=4"});
  ASSERT_TRUE(a.ok() && b.ok() && c.ok() && d.ok() && e.ok());
  EXPECT_EQ(a->Digest(), b->Digest());
  EXPECT_EQ(a->Digest(), d->Digest());
  EXPECT_NE(a->Digest(), c->Digest());
  EXPECT_NE(a->Digest(), e->Digest());
}

TEST(TrainConfigTest, Bf16EmulationKeysDefaultToFp32AndAreOneBitOfIdentity) {
  Result<TrainConfig> a = Parse(kConfig);
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(a->compute, Precision::kFp32);
  EXPECT_EQ(a->master, Precision::kFp32);
  EXPECT_EQ(a->resolved["numerics"]["compute"], "fp32");
  EXPECT_EQ(a->resolved["numerics"]["master"], "fp32");
  Result<TrainConfig> compute = Parse(kConfig, {"numerics.compute=bf16"});
  Result<TrainConfig> master =
      Parse(std::string(kConfig) + "master = \"bf16\"\n");  // in [numerics]
  Result<TrainConfig> spelled =
      Parse(std::string(kConfig) + "compute = \"fp32\"\nmaster = \"fp32\"\n");
  ASSERT_TRUE(compute.ok() && master.ok() && spelled.ok());
  EXPECT_EQ(compute->compute, Precision::kBf16);
  EXPECT_EQ(compute->master, Precision::kFp32);
  EXPECT_EQ(compute->resolved["numerics"]["compute"], "bf16");
  EXPECT_EQ(master->master, Precision::kBf16);
  EXPECT_EQ(master->compute, Precision::kFp32);
  EXPECT_EQ(master->resolved["numerics"]["master"], "bf16");
  EXPECT_NE(a->Digest(), compute->Digest());
  EXPECT_NE(a->Digest(), master->Digest());
  EXPECT_NE(compute->Digest(), master->Digest());
  EXPECT_EQ(a->Digest(), spelled->Digest());  // the defaults, written out, are the same config
}

TEST(TrainConfigTest, Bf16EmulationKeysAcceptOnlyFp32OrBf16) {
  const std::string compute = ErrorOf(kConfig, {"numerics.compute=fp16"});
  EXPECT_TRUE(Contains(compute, "c.toml: numerics.compute = \"fp16\": use \"fp32\" or \"bf16\""));
  const std::string master = ErrorOf(std::string(kConfig) + "master = \"BF16\"\n");
  EXPECT_TRUE(Contains(master, "c.toml: numerics.master = \"BF16\": use \"fp32\" or \"bf16\""));
  EXPECT_TRUE(
      Contains(ErrorOf(kConfig, {"numerics.master=16"}), "numerics.master must be a string"));
  EXPECT_TRUE(Contains(ErrorOf(kConfig, {"numerics.precision=bf16"}), "did you mean"));
}

TEST(TrainConfigTest, ScheduleIsCarriedIntoTheResolvedConfig) {
  Result<TrainConfig> c = Parse(std::string(kConfig) +
                                "\n[[data.schedule]]\nfrom_step = 0\nweights = { prose = 1 }\n"
                                "[[data.schedule]]\nfrom_step = 30\nweights = { code = 2.5 }\n");
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_TRUE(c->schedule.has_value());
  EXPECT_EQ((*c->schedule)[1]["from_step"], 30);
  EXPECT_EQ((*c->schedule)[1]["weights"]["code"], 2.5);
  EXPECT_EQ(c->resolved["data"]["schedule"], *c->schedule);
}

}  // namespace
}  // namespace lockstep::trainer
