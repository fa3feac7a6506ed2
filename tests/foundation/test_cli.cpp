// The real e2llm binary: exit codes, one-line errors, nothing written on failure.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <vector>

#include "../support/run_command.hpp"
#include "e2llm/util/files.hpp"

namespace fs = std::filesystem;
using e2llm::testing::quote;
using e2llm::testing::run_command;

namespace {
const std::string kExe = E2LLM_EXE;
const std::string kProbes = E2LLM_TEST_PLUGINS;

fs::path scratch(const std::string& name) {
  auto dir = fs::temp_directory_path() / ("e2llm-cli-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

int lines(const std::string& s) {
  return int(std::count(s.begin(), s.end(), '\n'));
}
}  // namespace

TEST(Cli, HelpVersionAndUsageErrors) {
  EXPECT_EQ(run_command(kExe + " --help").exit_code, 0);
  auto v = run_command(kExe + " --version");
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_NE(v.out.find("e2llm "), std::string::npos);
  EXPECT_EQ(run_command(kExe).exit_code, 2);
  EXPECT_EQ(run_command(kExe + " no-such-command").exit_code, 2);
  EXPECT_EQ(run_command(kExe + " tokenizer train --vocab-size 10").exit_code, 2);  // missing --input/--out
}

TEST(Cli, PluginsJsonListsTheTokenizer) {
  auto r = run_command(kExe + " plugins --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto list = nlohmann::json::parse(r.out);
  bool found = false;
  for (const auto& p : list) found |= p["name"] == "sentencepiece" && p["kind"] == "tokenizer";
  EXPECT_TRUE(found) << r.out;
}

TEST(Cli, APluginPathEntryThatIsNotAPluginFailsWithOneLine) {
  for (std::string bad : {"/not_a_plugin", "/wrong_abi", "/garbage"}) {
    auto r = run_command("E2LLM_PLUGIN_PATH=" + quote(kProbes + bad) + " " + kExe + " plugins");
    EXPECT_EQ(r.exit_code, 1) << bad;
    EXPECT_EQ(lines(r.err), 1) << r.err;
    EXPECT_EQ(r.err.rfind("e2llm: error: ", 0), 0u) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
  auto ok = run_command(kExe + " --plugin-path " + quote(kProbes + "/good_task") + " plugins");
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("registry-probe"), std::string::npos);
}

TEST(Cli, AnUntrustedPluginFolderFailsWithOneLineNamingIt) {
  auto dir = scratch("untrusted");
  fs::copy_file(kProbes + "/good_task/libtest_plugin_good_task.so", dir / "libprobe.so");
  fs::permissions(dir, fs::perms(0777));
  auto r = run_command(kExe + " --plugin-path " + quote(dir.string()) + " plugins");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "e2llm: error: refusing plugin " + (dir / "libprobe.so").string() + ": " + dir.string() +
                       " is writable by everyone; chmod o-w " + dir.string() + "\n");
  EXPECT_TRUE(r.out.empty()) << r.out;
  auto relative = run_command("E2LLM_PLUGIN_PATH=plugins " + kExe + " plugins");
  EXPECT_EQ(relative.exit_code, 1);
  EXPECT_EQ(lines(relative.err), 1) << relative.err;
  fs::permissions(dir, fs::perms(0755));
  EXPECT_EQ(run_command(kExe + " --plugin-path " + quote(dir.string()) + " plugins").exit_code, 0);
  fs::remove_all(dir);
}

TEST(Cli, ConfigShowResolvesOverridesAndLocatesErrors) {
  auto dir = scratch("config");
  e2llm::util::write_file_atomic(dir / "c.toml", "[run]\nname = \"demo\"\n[sweep]\nwindows = [512]\n");
  auto r = run_command(kExe + " config show " + quote((dir / "c.toml").string()) + " --set sweep.windows=[1,2]");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("windows = [ 1, 2 ]"), std::string::npos) << r.out;

  e2llm::util::write_file_atomic(dir / "bad.toml", "[run]\nname = \"demo\"\nwindow = 3\n");
  auto bad = run_command(kExe + " config show " + quote((dir / "bad.toml").string()));
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_EQ(bad.err, "e2llm: error: " + (dir / "bad.toml").string() + ":3:1: run.window: unknown key\n");

  auto garbled = run_command("head -c 300 /dev/urandom > " + quote((dir / "g.toml").string()) + " && " + kExe +
                             " config show " + quote((dir / "g.toml").string()));
  EXPECT_EQ(garbled.exit_code, 1);
  EXPECT_EQ(lines(garbled.err), 1) << garbled.err;
  fs::remove_all(dir);
}

TEST(Cli, TokenizerTrainWritesNothingOnBadInput) {
  auto dir = scratch("tok");
  auto out = dir / "t.model";
  auto r =
      run_command(kExe + " tokenizer train --input /nonexistent.txt --vocab-size 100 --out " + quote(out.string()));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "e2llm: error: tokenizer train: input /nonexistent.txt does not exist\n");
  EXPECT_TRUE(fs::is_empty(dir));
  auto missing = run_command(kExe + " tokenizer encode --model /nonexistent.model hello");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(lines(missing.err), 1);
  fs::remove_all(dir);
}

TEST(Cli, CiRunsTheReadmeTestCommand) {
  // The README promises one command for the tests; .ci/run must be that same command.
  std::string readme = e2llm::testing::slurp(std::string(E2LLM_SOURCE_DIR) + "/README.md");
  std::string ci = e2llm::testing::slurp(std::string(E2LLM_SOURCE_DIR) + "/.ci/run");
  auto marker = ci.find("README_TEST_COMMAND=");
  ASSERT_NE(marker, std::string::npos) << ".ci/run must define README_TEST_COMMAND";
  auto start = ci.find('\'', marker) + 1;
  std::string command = ci.substr(start, ci.find('\'', start) - start);
  EXPECT_NE(readme.find(command), std::string::npos) << "README lacks: " << command;
}

// Every e2llm command the README and docs/ show in a code block exists, and so does each of
// its flags: `e2llm <command> [<subcommand>] --help` lists them. Continuation lines ("\") are
// joined; a command ends at a shell operator, a comment or the two spaces that start the
// README's description column.
TEST(Cli, CommandsShownInTheDocsExistWithTheirFlags) {
  namespace fs = std::filesystem;
  const fs::path root = E2LLM_SOURCE_DIR;
  std::vector<fs::path> files = {root / "README.md"};
  for (const auto& entry : fs::directory_iterator(root / "docs"))
    if (entry.path().extension() == ".md") files.push_back(entry.path());
  std::map<std::string, std::string> help;  // "tokenizer encode" -> its --help text
  auto help_of = [&](const std::string& command) -> const std::string& {
    auto it = help.find(command);
    if (it == help.end()) {
      auto r = run_command(kExe + " " + command + " --help");
      it = help.emplace(command, r.exit_code == 0 ? r.out : std::string()).first;
    }
    return it->second;
  };
  auto lists = [](const std::string& text, const std::string& word) {
    for (std::size_t at = text.find(word); at != std::string::npos; at = text.find(word, at + 1)) {
      const char after = at + word.size() < text.size() ? text[at + word.size()] : ' ';
      const char before = at > 0 ? text[at - 1] : ' ';
      if (!std::isalnum(static_cast<unsigned char>(after)) && after != '-' && after != '_' &&
          !std::isalnum(static_cast<unsigned char>(before)) && before != '-')
        return true;
    }
    return false;
  };
  const std::regex start(R"((?:^|[\s/])e2llm\s+([a-z][a-z-]*)(?:\s+([a-z][a-z-]*(?:\|[a-z-]+)*))?)");
  const std::regex flag(R"(--[a-z][a-z0-9-]*)");
  std::size_t commands = 0, flags = 0;
  for (const auto& file : files) {
    std::istringstream in(e2llm::testing::slurp(file.string()));
    std::string line, logical;
    bool fenced = false;
    int number = 0, first = 0;
    while (std::getline(in, line)) {
      ++number;
      if (line.rfind("```", 0) == 0) {
        fenced = !fenced;
        continue;
      }
      if (!fenced) continue;
      if (logical.empty()) first = number;
      if (!line.empty() && line.back() == '\\') {
        logical += line.substr(0, line.size() - 1) + " ";
        continue;
      }
      logical += line;
      const std::string text = logical;
      logical.clear();
      std::smatch m;
      if (!std::regex_search(text, m, start)) continue;
      const std::string where = file.filename().string() + ":" + std::to_string(first);
      const std::string command = m[1];
      if (help_of(command).empty()) {
        ADD_FAILURE() << where << ": `e2llm " << command << "` is not a command: " << text;
        continue;
      }
      // The subcommands, when the second word names some (e.g. encode|decode).
      std::vector<std::string> paths;
      if (m[2].matched) {
        std::string alternatives = m[2];
        std::size_t at = 0;
        while (at <= alternatives.size()) {
          const std::size_t bar = std::min(alternatives.find('|', at), alternatives.size());
          const std::string sub = alternatives.substr(at, bar - at);
          if (!help_of(command + " " + sub).empty() && lists(help_of(command), sub))
            paths.push_back(command + " " + sub);
          at = bar + 1;
        }
      }
      if (paths.empty()) paths.push_back(command);
      std::string rest = m.suffix().str();
      for (const char* end : {" | ", "&&", ";", " #", "  ", " >", "||", "$("}) rest = rest.substr(0, rest.find(end));
      ++commands;
      for (auto it = std::sregex_iterator(rest.begin(), rest.end(), flag); it != std::sregex_iterator(); ++it) {
        ++flags;
        for (const auto& path : paths)
          EXPECT_TRUE(lists(help_of(path), it->str()))
              << where << ": `e2llm " << path << "` has no flag " << it->str() << ": " << text;
      }
    }
  }
  EXPECT_GE(commands, 30u) << commands;  // the README's command list alone has 19
  EXPECT_GE(flags, 50u);
}
