// The arrows between the repository's rooms point one way (docs/architecture.md): every
// #include of a source file in a room is resolved to the file it names, and the room that file
// sits in must be one the including room may depend on:
//
//   contract   the plugin contract (headers only)          -> nothing
//   util       atomic files, SHA-256, pip: paths            -> contract
//   formats    checkpoints, GGUF, RoPE family, templates    -> contract, util
//   taskkit    protocol code shared by tasks, the harness and the trainer's probes
//                                                            -> contract, util, formats
//   harness    the CLI, sweep, report                       -> contract, util, formats, taskkit
//   tokenizers/<name>                                       -> contract, util, formats, tokenizers/bpe
//   backends/<name>                                         -> contract, util, formats, taskkit, backends/llama
//   tasks/<name>                                            -> contract, util, formats, taskkit
//
// so the harness never reaches into a plugin's folder, backends never into tasks, tasks never
// into backends, and no plugin into another (except the libraries backends/llama and
// tokenizers/bpe that their kind builds on). tests/, bench/ and fuzz/ may include anything;
// a room may not include them.
//
// An include is resolved as the compiler would find it in this tree: next to the including
// file first, else the header whose path ends with the spelled path (system and package
// headers match nothing and are skipped). A spelling that several rooms hold is taken from
// the including room when it holds it, else it is a failure of its own (rename one).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <unistd.h>

namespace fs = std::filesystem;

namespace {

// The room of a repository-relative path ("" for a file outside every room).
std::string room_of(const std::string& path) {
  const auto slash = path.find('/');
  if (slash == std::string::npos) return "";
  const std::string top = path.substr(0, slash);
  if (top == "tasks" || top == "backends" || top == "tokenizers") {
    const auto next = path.find('/', slash + 1);
    return next == std::string::npos ? "" : path.substr(0, next);  // tasks/README.md is no room
  }
  static const std::set<std::string> rooms = {"contract", "util", "formats", "taskkit", "harness"};
  return rooms.count(top) ? top : "";
}

// The rooms `room` may include from (besides itself).
std::set<std::string> allowed_from(const std::string& room) {
  const std::set<std::string> base = {"contract", "util", "formats"};
  if (room == "contract") return {};
  if (room == "util") return {"contract"};
  if (room == "formats") return {"contract", "util"};
  if (room == "taskkit") return base;
  if (room == "harness") return {"contract", "util", "formats", "taskkit"};
  auto with = [&](std::initializer_list<std::string> more) {
    std::set<std::string> s = base;
    s.insert(more);
    return s;
  };
  if (room.rfind("tokenizers/", 0) == 0) return with({"tokenizers/bpe"});
  if (room.rfind("backends/", 0) == 0) return with({"taskkit", "backends/llama"});
  if (room.rfind("tasks/", 0) == 0) return with({"taskkit"});
  return {};
}

bool is_source(const fs::path& p) {
  static const std::set<std::string> ext = {".cpp", ".hpp", ".h", ".cc", ".cu", ".cuh"};
  return ext.count(p.extension().string()) > 0;
}
bool is_header(const fs::path& p) {
  static const std::set<std::string> ext = {".hpp", ".h", ".cuh"};
  return ext.count(p.extension().string()) > 0;
}

// Every source file under `root`, relative, '/'-separated; build trees, run records, the
// Python environment and hidden folders are not sources.
std::vector<std::string> source_files(const fs::path& root) {
  std::vector<std::string> files;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
    const std::string name = it->path().filename().string();
    if (it->is_directory()) {
      if (it.depth() == 0 && (name.rfind("build", 0) == 0 || name == "results" || name == "data"))
        it.disable_recursion_pending();
      if (name.rfind('.', 0) == 0) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file() && is_source(it->path()))
      files.push_back(fs::relative(it->path(), root).generic_string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

struct Violation {
  std::string where;  // file:line
  std::string message;
};

std::vector<Violation> check_include_directions(const fs::path& root) {
  const std::vector<std::string> files = source_files(root);
  std::set<std::string> headers;
  std::map<std::string, std::set<std::string>> by_suffix;  // "e2llm/x.hpp" -> headers ending so
  for (const auto& f : files) {
    if (!is_header(f)) continue;
    headers.insert(f);
    by_suffix[f].insert(f);
    for (auto at = f.find('/'); at != std::string::npos; at = f.find('/', at + 1))
      by_suffix[f.substr(at + 1)].insert(f);
  }
  static const std::regex include(R"(^\s*#\s*include\s*[<"]([^>"]+)[>"])");
  std::vector<Violation> found;
  for (const auto& file : files) {
    const std::string room = room_of(file);
    if (room.empty()) continue;
    const std::set<std::string> allowed = allowed_from(room);
    std::ifstream in(root / file);
    int line_no = 0;
    for (std::string line; std::getline(in, line);) {
      ++line_no;
      std::smatch m;
      if (!std::regex_search(line, m, include)) continue;
      const std::string spelled = m[1];
      const std::string where = file + ":" + std::to_string(line_no);
      const std::string beside = (fs::path(file).parent_path() / spelled).lexically_normal().generic_string();
      std::set<std::string> rooms;
      if (headers.count(beside)) {
        rooms.insert(room_of(beside));
      } else {
        auto hit = by_suffix.find(spelled);
        if (hit == by_suffix.end()) continue;  // a system or package header
        for (const auto& h : hit->second) rooms.insert(room_of(h));
        if (rooms.count(room)) continue;
      }
      if (rooms.size() > 1) {
        std::string list;
        for (const auto& r : rooms) list += (list.empty() ? "" : ", ") + (r.empty() ? "(outside the rooms)" : r);
        found.push_back({where, "\"" + spelled + "\" is held by several rooms (" + list + "): rename one"});
        continue;
      }
      const std::string target = *rooms.begin();
      if (target == room || allowed.count(target)) continue;
      found.push_back({where, room + " includes \"" + spelled + "\" from " +
                                  (target.empty() ? "outside the rooms (tests/, bench/, ...)" : target) +
                                  ": that arrow points the wrong way (move the shared code down, e.g. to taskkit "
                                  "or formats)"});
    }
  }
  return found;
}

std::string describe(const std::vector<Violation>& v) {
  std::string out;
  for (const auto& x : v) out += "  " + x.where + ": " + x.message + "\n";
  return out;
}

void write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

}  // namespace

TEST(IncludeDirections, TheRepositoryPointsOneWay) {
  const auto violations = check_include_directions(E2LLM_SOURCE_DIR);
  EXPECT_TRUE(violations.empty()) << violations.size() << " include(s) against the arrows:\n" << describe(violations);
}

// The check on a tree built for it: it names each wrong arrow by file and line, and lets the
// right ones through.
TEST(IncludeDirections, WrongArrowsAreNamedByFileAndLine) {
  const fs::path root = fs::temp_directory_path() / ("e2llm_includes_" + std::to_string(getpid()));
  fs::remove_all(root);
  write(root / "contract/include/e2llm/task.hpp", "#pragma once\n");
  write(root / "taskkit/include/e2llm/taskkit/kit.hpp", "#pragma once\n#include \"e2llm/task.hpp\"\n");
  write(root / "backends/llama/include/e2llm/llama/model.hpp", "#pragma once\n#include <vector>\n");
  write(root / "tasks/passkey/src/passkey_prompt.hpp", "#pragma once\n#include \"e2llm/taskkit/kit.hpp\"\n");
  write(root / "tasks/passkey/src/task.cpp", "#include \"passkey_prompt.hpp\"\n#include <string>\n");
  write(root / "tests/support/fakes.hpp", "#pragma once\n");
  // Fine: a backend on the llama library and the task kit.
  write(root / "backends/pi/src/plugin.cpp",
        "#include \"e2llm/llama/model.hpp\"\n#include \"e2llm/taskkit/kit.hpp\"\n");
  // Wrong: a backend reaching into a task, the harness into a backend, a task into the tests
  // and into another task. A build tree is not scanned.
  write(root / "backends/llama/src/train/mix.cpp", "#include <cmath>\n\n#include \"passkey_prompt.hpp\"\n");
  write(root / "harness/src/cmd.cpp", "#include \"e2llm/llama/model.hpp\"\n");
  write(root / "tasks/kv/src/kv.cpp", "#include \"fakes.hpp\"\n#include \"passkey_prompt.hpp\"\n");
  write(root / "build/tasks/x.cpp", "#include \"e2llm/llama/model.hpp\"\n");  // not a source tree

  const auto violations = check_include_directions(root);
  std::vector<std::string> where;
  for (const auto& v : violations) where.push_back(v.where);
  EXPECT_EQ(where, (std::vector<std::string>{"backends/llama/src/train/mix.cpp:3", "harness/src/cmd.cpp:1",
                                             "tasks/kv/src/kv.cpp:1", "tasks/kv/src/kv.cpp:2"}))
      << describe(violations);
  ASSERT_FALSE(violations.empty());
  EXPECT_NE(violations[0].message.find("backends/llama includes \"passkey_prompt.hpp\" from tasks/passkey"),
            std::string::npos)
      << violations[0].message;
  fs::remove_all(root);
}
