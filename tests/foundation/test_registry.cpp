#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "e2llm/error.hpp"
#include "e2llm/harness/app.hpp"
#include "e2llm/harness/registry.hpp"

using e2llm::harness::PluginRegistry;

namespace {
const std::string kProbes = E2LLM_TEST_PLUGINS;

std::string error_of(const std::vector<std::filesystem::path>& folders) {
  try {
    PluginRegistry r(folders);
  } catch (const e2llm::Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(Registry, ListsTheBuiltPlugins) {
  PluginRegistry r({E2LLM_PLUGIN_DIR});
  auto names = r.names("tokenizer");
  ASSERT_NE(std::find(names.begin(), names.end(), "sentencepiece"), names.end());
  for (const auto& p : r.plugins()) {
    EXPECT_FALSE(p.version.empty()) << p.name;
    EXPECT_TRUE(std::filesystem::exists(p.path)) << p.path;
  }
}

TEST(Registry, LoadsCreatesAndOwnsAPlugin) {
  PluginRegistry r({kProbes + "/good_task"});
  ASSERT_EQ(r.plugins().size(), 1u);
  EXPECT_EQ(r.plugins()[0].kind, "task");
  EXPECT_EQ(r.plugins()[0].name, "registry-probe");
  EXPECT_EQ(r.plugins()[0].version, "9.9.9");
  auto task = r.make_task("registry-probe");
  EXPECT_EQ(task->info().name, "registry-probe");
  EXPECT_EQ(task->fingerprint(), "probe");
}

TEST(Registry, UnknownNameSuggestsTheClosest) {
  PluginRegistry r({kProbes + "/good_task"});
  try {
    r.make_task("registry-prob");
    FAIL() << "expected an error";
  } catch (const e2llm::Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "no task plugin named 'registry-prob'; did you mean 'registry-probe'? (available: registry-probe)");
  }
  EXPECT_THROW(r.make_backend("registry-probe"), e2llm::Error);  // right name, wrong kind
}

TEST(Registry, RefusesAWrongAbiNamingTheFileAndBothVersions) {
  std::string e = error_of({kProbes + "/wrong_abi"});
  EXPECT_NE(e.find("libtest_plugin_wrong_abi.so"), std::string::npos) << e;
  EXPECT_NE(e.find("ABI " + std::to_string(e2llm::kAbiVersion + 41)), std::string::npos) << e;
  EXPECT_NE(e.find("uses ABI " + std::to_string(e2llm::kAbiVersion)), std::string::npos) << e;
}

TEST(Registry, RefusesAPluginBuiltForAbi1) {
  ASSERT_EQ(e2llm::kAbiVersion, 2u) << "update this test with the new ABI's history";
  std::string e = error_of({kProbes + "/abi1_task"});
  EXPECT_EQ(e, kProbes +
                   "/abi1_task/libtest_plugin_abi1_task.so was built for plugin ABI 1 but this e2llm uses ABI 2; "
                   "rebuild the plugin against this e2llm's headers");
}

TEST(Registry, RefusesALibraryWithoutTheEntryPoint) {
  std::string e = error_of({kProbes + "/not_a_plugin"});
  EXPECT_NE(e.find("libtest_plugin_not_a_plugin.so is not an e2llm plugin"), std::string::npos) << e;
}

TEST(Registry, RefusesAFileThatIsNotALibrary) {
  std::string e = error_of({kProbes + "/garbage"});
  EXPECT_NE(e.find("libe2llm_task_garbage.so is not a loadable e2llm plugin"), std::string::npos) << e;
}

TEST(Registry, EarlierFolderShadowsALaterPluginOfTheSameName) {
  PluginRegistry r({kProbes + "/good_task", kProbes + "/good_task/libtest_plugin_good_task.so"});
  EXPECT_EQ(r.plugins().size(), 1u);
}

TEST(Registry, MissingFoldersAreNotErrors) {
  PluginRegistry r({"/nonexistent/e2llm/plugins"});
  EXPECT_TRUE(r.plugins().empty());
}

// The README's sentence "Plugins are searched in A, B, C, then D" names the order the code
// uses (plugin_search_path; an earlier folder's plugin shadows a later one's).
TEST(Registry, TheReadmesPluginSearchOrderIsTheCodes) {
  std::ifstream in(std::string(E2LLM_SOURCE_DIR) + "/README.md");
  std::stringstream text;
  text << in.rdbuf();
  std::string readme = text.str();
  for (char& c : readme)
    if (c == '\n') c = ' ';
  const std::size_t start = readme.find("Plugins are searched in");
  ASSERT_NE(start, std::string::npos) << "README.md no longer states the plugin search order";
  const std::string sentence = readme.substr(start, readme.find('.', readme.find("plugins/", start)) - start);
  // Each source, as the README writes it and as the code is given it.
  const std::map<std::string, std::string> sources = {{"`--plugin-path`", "/from/command/line"},
                                                      {"`$E2LLM_PLUGIN_PATH`", "/from/env/a"},
                                                      {"`[plugins] path`", "/from/config"},
                                                      {"`build/lib/e2llm/plugins/`", "built-in"}};
  std::map<std::size_t, std::string> by_position;
  for (const auto& [written, path] : sources) {
    std::size_t at = sentence.find(written);
    ASSERT_NE(at, std::string::npos) << written << " missing from: " << sentence;
    by_position[at] = path;
  }
  std::vector<std::string> readme_order;
  for (const auto& [at, path] : by_position) readme_order.push_back(path);

  setenv("E2LLM_PLUGIN_PATH", "/from/env/a:/from/env/b", 1);
  auto folders = e2llm::harness::plugin_search_path({"/from/command/line"}, {"/from/config"});
  unsetenv("E2LLM_PLUGIN_PATH");
  const auto built_in = e2llm::harness::executable_dir() / ".." / "lib" / "e2llm" / "plugins";
  std::vector<std::string> code_order;
  for (const auto& f : folders) {
    std::string name = f == built_in ? "built-in" : f.string();
    if (name == "/from/env/b") continue;  // the second entry of the same variable
    code_order.push_back(name);
  }
  EXPECT_EQ(code_order, readme_order) << sentence;
}
