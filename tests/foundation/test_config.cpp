// Golden error messages: a user must be able to act on each one.
#include <gtest/gtest.h>

#include "e2llm/config_reader.hpp"
#include "e2llm/harness/config.hpp"

using e2llm::harness::Config;

namespace {
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const e2llm::Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(Config, SyntaxErrorNamesFileLineAndColumn) {
  std::string e = error_of([] { Config::from_string("[run]\nname = \"x\"\nseed = = 3\n", "bad.toml"); });
  EXPECT_EQ(e.rfind("bad.toml:3:", 0), 0u) << e;
  EXPECT_NE(e.find("invalid TOML"), std::string::npos) << e;
}

TEST(Config, UnknownSectionGetsDidYouMean) {
  std::string e = error_of([] {
    auto c = Config::from_string("[run]\nname = \"x\"\n\n[sweeep]\nwindows = [1]\n", "c.toml");
    e2llm::harness::validate_harness_keys(c);
  });
  EXPECT_EQ(e, "c.toml:4:2: sweeep: unknown section; did you mean 'sweep'?");
}

TEST(Config, UnknownKeyGetsDidYouMeanWithItsLocation) {
  std::string e = error_of([] {
    auto c = Config::from_string("[run]\nname = \"x\"\n  sede = 3\n", "c.toml");
    e2llm::harness::validate_harness_keys(c);
  });
  EXPECT_EQ(e, "c.toml:3:3: run.sede: unknown key; did you mean 'seed'?");
}

TEST(Config, OverridesReplaceAndCreateKeys) {
  auto c = Config::from_string("[sweep]\nwindows = [1, 2]\n", "c.toml",
                               {"sweep.windows=[512, 1024]", "run.name=hello world", "run.seed=7"});
  EXPECT_EQ(c.json()["sweep"]["windows"], nlohmann::json::array({512, 1024}));
  EXPECT_EQ(c.json()["run"]["name"], "hello world");
  EXPECT_EQ(c.json()["run"]["seed"], 7);
  EXPECT_EQ(c.where("run.seed"), "--set run.seed");
  EXPECT_EQ(c.where("sweep.windows"), "--set sweep.windows");
  // An item of the new value is the --set's too, not the file's item it replaced.
  EXPECT_EQ(c.where("sweep.windows[0]"), "--set sweep.windows");
  auto t = Config::from_string("[tasks.p]\nplugin = \"passkey\"\ntrials = 3\n", "t.toml", {"tasks.p={trials = 0}"});
  EXPECT_EQ(t.where("tasks.p.trials"), "--set tasks.p");
  EXPECT_EQ(t.where("tasks.p.plugin"), "--set tasks.p");
}

TEST(Config, MalformedOverrideIsAUsageError) {
  EXPECT_EQ(error_of([] { Config::from_string("", "c.toml", {"no-equals-sign"}); }),
            "--set no-equals-sign: expected KEY=VALUE, e.g. --set sweep.windows=[512,1024]");
}

TEST(Config, PluginConfigErrorIsLocatedInTheFile) {
  auto c = Config::from_string("[backends.e2]\nplugin = \"e2llm\"\ngmax = \"twenty\"\n", "c.toml");
  std::string e = error_of([&] {
    try {
      e2llm::ConfigReader r(c.json()["backends"]["e2"]);
      r.allow("plugin");
      r.get<int>("gmax", 20);
    } catch (const e2llm::ConfigError& err) {
      c.rethrow(err, "backends.e2");
    }
  });
  EXPECT_EQ(e, "c.toml:3:1: backends.e2.gmax: has the wrong type (a string)");
}

TEST(Config, ConfigReaderRejectsUnknownKeys) {
  nlohmann::json section = {{"windw", 3}};
  e2llm::ConfigReader r(section);
  r.get<int>("window", 1);
  try {
    r.finish();
    FAIL();
  } catch (const e2llm::ConfigError& e) {
    EXPECT_EQ(e.field(), "windw");
    EXPECT_EQ(std::string(e.what()), "unknown key; did you mean 'window'?");
  }
}

TEST(Config, MissingFileIsOneClearLine) {
  EXPECT_EQ(error_of([] { Config::load("/nonexistent/x.toml"); }),
            "config /nonexistent/x.toml does not exist; give the path of a TOML run config (the e2llm repository's "
            "configs/ folder has examples)");
}

TEST(Config, ResolvedConfigRoundTripsThroughToml) {
  auto c = Config::from_string("[run]\nname = \"a\"\n[sweep]\nwindows = [1, 2]\n", "c.toml", {"run.seed=3"});
  auto again = Config::from_string(c.to_toml(), "again.toml");
  EXPECT_EQ(again.json(), c.json());
}
