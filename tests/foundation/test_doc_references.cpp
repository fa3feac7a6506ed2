// The repository documents itself (docs/README.md): a fresh clone must not depend on notes
// that live outside it or on one machine's folders. This suite scans every file `git
// ls-files` reports in E2LLM_SOURCE_DIR (tracked files plus untracked ones git does not
// ignore, so a new file is checked before its first commit), except results/ (run records)
// and binary files (a NUL byte in the first 8000 bytes, git's own test), line by line:
//
//  1. No background note: the words METHODS, PITFALLS, ARCHITECTURE or STYLE directly
//     followed by the suffix .md (upper case, as those notes are named). What they held is in
//     docs/methods.md, docs/protocols.md and docs/pitfalls.md.
//  2. No absolute path under the top-level folders work, root or home: a slash, one of those
//     names, then a slash or a character that cannot continue a name; the slash must start the
//     line or follow a character that cannot end a relative path element (anything but a
//     letter, digit, '.', '_', '-' or '~'), so "src/work" and "../home" pass.
//  3. The folder beside the repository (dot-dot-slash "shared", after any number of "../") is
//     named only as the test-data root: the path must continue with "/data" (E2LLM_SHARED_DATA
//     in tests/CMakeLists.txt, the tokenizer paths in configs/), and even there it may not name
//     a document (a path element ending in .md or containing README). Anything else there is
//     background reading, never a reference target.
//  4. Every docs/<name>.md a line names exists, and a section named right after it, as
//     `docs/<name>.md §Heading ...` or `(docs/<name>.md, "Heading")`, is a heading of that
//     file (for §, the text after it starts with the heading).
//  5. Every repository path a Markdown file names exists (missing_paths below).
// Failures list file:line and what to do.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <sys/wait.h>

namespace fs = std::filesystem;

namespace {

// docs/<name>.md -> its headings (text after the leading #'s).
using DocIndex = std::map<std::string, std::vector<std::string>>;

bool is_name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
}
bool is_word_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}
// A character that cannot be part of a path element in running text.
bool ends_path(std::string_view line, size_t at) {
  if (at >= line.size()) return true;
  const char c = line[at];
  if (c == '.') return ends_path(line, at + 1);  // a sentence's full stop
  return !is_name_char(c);
}
// The path element that starts at `at`: up to whitespace, a quote, a bracket or a separator.
std::string_view path_token(std::string_view line, size_t at) {
  size_t end = at;
  while (end < line.size() && !std::isspace(static_cast<unsigned char>(line[end])) &&
         std::string_view("\"'`()[]{}<>,;|").find(line[end]) == std::string_view::npos)
    ++end;
  return line.substr(at, end - at);
}

void background_notes(std::string_view line, std::vector<std::string>& out) {
  for (const char* note : {"METHODS", "PITFALLS", "ARCHITECTURE", "STYLE"}) {
    const std::string needle = std::string(note) + ".md";
    for (size_t at = line.find(needle); at != std::string_view::npos; at = line.find(needle, at + 1)) {
      if (at > 0 && is_word_char(line[at - 1])) continue;
      out.push_back("cites " + needle +
                    ", a note outside the repository: cite docs/methods.md, docs/protocols.md or docs/pitfalls.md");
    }
  }
}

void absolute_paths(std::string_view line, std::vector<std::string>& out) {
  for (const char* top : {"work", "root", "home"}) {
    const std::string needle = std::string("/") + top;
    for (size_t at = line.find(needle); at != std::string_view::npos; at = line.find(needle, at + 1)) {
      if (at > 0 && (is_name_char(line[at - 1]) || line[at - 1] == '~')) continue;  // a relative path
      const size_t next = at + needle.size();
      if (next < line.size() && line[next] != '/' && !ends_path(line, next)) continue;  // e.g. "/homepage"
      out.push_back("names the absolute path " + std::string(path_token(line, at)) +
                    " of one machine: use a path relative to the repository (or an environment variable)");
    }
  }
}

void shared_folder(std::string_view line, std::vector<std::string>& out) {
  const std::string needle = std::string("..") + "/shared";
  for (size_t at = line.find(needle); at != std::string_view::npos; at = line.find(needle, at + 1)) {
    const size_t next = at + needle.size();
    if (next < line.size() && line[next] != '/' && !ends_path(line, next)) continue;  // e.g. "shared_ptr"
    const std::string_view rest = line.substr(next);
    const bool data = rest.substr(0, 5) == "/data" && (rest.size() == 5 || rest[5] == '/' || ends_path(rest, 5));
    const std::string_view token = path_token(line, at);
    const bool document = token.find("README") != std::string_view::npos ||
                          (token.size() >= 3 && token.substr(token.size() - 3) == ".md");
    if (data && !document) continue;
    out.push_back("points at " + std::string(token) +
                  " beside the repository: only its data folder is a test input; documentation lives in docs/");
  }
}

// The heading a reference names right after docs/<name>.md, if any: §Heading... or , "Heading".
bool names_heading(std::string_view after, const std::vector<std::string>& headings, std::string* named) {
  const std::string_view section_sign = "\xC2\xA7";  // §
  size_t i = 0;
  while (i < after.size() && after[i] == ' ') ++i;
  if (after.substr(i, section_sign.size()) == section_sign) {
    const std::string_view text = after.substr(i + section_sign.size());
    *named = std::string(text.substr(0, std::min<size_t>(text.size(), 40)));
    for (const auto& h : headings)
      if (!h.empty() && text.substr(0, h.size()) == h) return true;
    return false;
  }
  if (after.substr(0, 3) == ", \"") {
    const size_t close = after.find('"', 3);
    if (close == std::string_view::npos) return true;  // not a section reference
    *named = std::string(after.substr(3, close - 3));
    for (const auto& h : headings)
      if (h == *named) return true;
    return false;
  }
  return true;  // no section named
}

void doc_links(std::string_view line, const DocIndex& docs, std::vector<std::string>& out) {
  const std::string_view needle = "docs/";
  for (size_t at = line.find(needle); at != std::string_view::npos; at = line.find(needle, at + 1)) {
    if (at > 0 && (is_name_char(line[at - 1]) || line[at - 1] == '/')) continue;  // another docs folder
    size_t end = at + needle.size();
    while (end < line.size() && is_name_char(line[end])) ++end;
    while (end > at + needle.size() && line[end - 1] == '.') --end;  // a sentence's full stop
    const std::string name(line.substr(at + needle.size(), end - at - needle.size()));
    if (name.size() < 4 || name.substr(name.size() - 3) != ".md") continue;
    const auto doc = docs.find(name);
    if (doc == docs.end()) {
      out.push_back("names docs/" + name + ", which does not exist");
      continue;
    }
    std::string named;
    if (!names_heading(line.substr(end), doc->second, &named))
      out.push_back("names section \"" + named + "\" of docs/" + name + ", which has no such heading");
  }
}

std::vector<std::string> problems_in_line(std::string_view line, const DocIndex& docs) {
  std::vector<std::string> out;
  background_notes(line, out);
  absolute_paths(line, out);
  shared_folder(line, out);
  doc_links(line, docs, out);
  return out;
}

DocIndex read_docs(const fs::path& docs_dir) {
  DocIndex index;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(docs_dir, ec)) {
    if (entry.path().extension() != ".md") continue;
    auto& headings = index[entry.path().filename().string()];
    std::ifstream in(entry.path());
    for (std::string line; std::getline(in, line);) {
      if (line.empty() || line[0] != '#') continue;
      size_t i = line.find_first_not_of('#');
      if (i == std::string::npos || line[i] != ' ') continue;
      std::string heading = line.substr(i + 1);
      while (!heading.empty() && (heading.back() == ' ' || heading.back() == '\r')) heading.pop_back();
      headings.push_back(heading);
    }
  }
  return index;
}

struct Listing {
  int exit_code = -1;
  std::vector<std::string> files;
};

// `git ls-files -z --cached --others --exclude-standard` in `dir`.
Listing git_files(const fs::path& dir) {
  const std::string command = "git -C '" + dir.string() + "' ls-files -z --cached --others --exclude-standard";
  Listing listing;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return listing;
  std::string all;
  std::array<char, 65536> buffer;
  for (size_t n; (n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0;) all.append(buffer.data(), n);
  const int status = pclose(pipe);
  listing.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::stringstream entries(all);
  for (std::string path; std::getline(entries, path, '\0');)
    if (!path.empty()) listing.files.push_back(path);
  return listing;
}

bool looks_binary(const std::string& content) {
  return content.substr(0, 8000).find('\0') != std::string::npos;
}

const DocIndex kFakeDocs = {{"methods.md", {"Methods", "E\xC2\xB2-LLM", "Baselines", "RoPE pair layouts"}},
                            {"pitfalls.md", {"SentencePiece and LibTorch"}}};

bool flagged(const std::string& line) {
  return !problems_in_line(line, kFakeDocs).empty();
}

}  // namespace

TEST(DocReferences, RuleFlagsBackgroundNotes) {
  const std::string note = std::string("METHODS") + ".md";
  EXPECT_TRUE(flagged("// Formulas: " + note + " §2"));
  EXPECT_TRUE(flagged("# see " + std::string("PITFALLS") + ".md"));
  EXPECT_TRUE(flagged("(" + std::string("ARCHITECTURE") + ".md)"));
  EXPECT_TRUE(flagged(std::string("STYLE") + ".md says"));
  EXPECT_FALSE(flagged("// Formulas: docs/methods.md §Baselines"));
  EXPECT_FALSE(flagged("METHODS and PITFALLS without the suffix"));
}

TEST(DocReferences, RuleFlagsAbsoluteMachinePaths) {
  for (const char* top : {"work", "root", "home"}) {
    const std::string abs = std::string("/") + top;
    EXPECT_TRUE(flagged("// " + abs + "/shared/notes")) << abs;
    EXPECT_TRUE(flagged("\"model\": \"" + abs + "/main/x.gguf\"")) << abs;
    EXPECT_TRUE(flagged(abs + "/x at the start of a line")) << abs;
    EXPECT_TRUE(flagged("installed under " + abs + ".")) << abs;
    EXPECT_TRUE(flagged("file://" + abs + "/x")) << abs;
  }
  const std::string s = "/";  // split so that this file never holds the paths it tests
  EXPECT_FALSE(flagged("tasks/src/work" + s + "queue.cpp and ../home" + s + "x and ~/work" + s + "y"));
  EXPECT_FALSE(flagged("https://example.org/home" + s + "page and /homepage and /rooted"));
  EXPECT_FALSE(flagged("venv under ~/.cache/e2llm/venv-<hash>; headers in /usr/include"));
}

TEST(DocReferences, RuleAllowsTheSharedFolderOnlyAsTestData) {
  const std::string up = std::string("..") + "/shared";
  EXPECT_FALSE(flagged("get_filename_component(D ${CMAKE_SOURCE_DIR}/" + up + "/data ABSOLUTE)"));
  EXPECT_FALSE(flagged("model = \"../" + up + "/data/models/tok512.model\""));
  EXPECT_FALSE(flagged("from the repository root (`" + up + "/data` beside it)"));
  EXPECT_TRUE(flagged("see " + up + "/hooks/x"));
  EXPECT_TRUE(flagged("with " + up + " beside it"));
  EXPECT_TRUE(flagged("formulas in " + up + "/" + "METHODS"));
  EXPECT_TRUE(flagged("see " + up + "/data/longbench/README for the scores"));
  EXPECT_TRUE(flagged("see " + up + "/data/notes.md"));
  EXPECT_FALSE(flagged("std::" + std::string("shared") + "_ptr<../sharedness>"));
}

TEST(DocReferences, RuleChecksDocsFilesAndSections) {
  EXPECT_FALSE(
      flagged("// (docs/methods.md \xC2\xA7"
              "E\xC2\xB2-LLM): g = W / L"));
  EXPECT_FALSE(flagged("see docs/methods.md \xC2\xA7RoPE pair layouts for the permutation"));
  EXPECT_FALSE(flagged("(docs/pitfalls.md, \"SentencePiece and LibTorch\")"));
  EXPECT_FALSE(flagged("docs/methods.md lists the formulas"));
  EXPECT_TRUE(flagged("see docs/" + std::string("gone.md")));
  EXPECT_TRUE(
      flagged("docs/methods.md \xC2\xA7"
              "Appendix"));
  EXPECT_TRUE(flagged("(docs/pitfalls.md, \"Protobuf\")"));
  EXPECT_FALSE(flagged("tasks/longbench/docs/" + std::string("other.md")));  // not the top-level docs/
}

// 5. Every repository path a Markdown file names (a token starting with one of the source
//    folders, e.g. `harness/src/sweep_run.cpp` or tests/report/golden/) exists in the tree.
//    Patterns (`*`, `<name>`, `{a,b}`, `...`) and paths a run creates are not checked.
std::vector<std::string> missing_paths(const std::string& line, const fs::path& root) {
  static const std::regex path(
      R"((?:^|[\s`(\[*"'])((?:harness|backends|formats|contract|util|tokenizers|tasks|tests|scripts|bench|configs|docs)/[A-Za-z0-9_./+-]*))");
  std::vector<std::string> out;
  for (auto it = std::sregex_iterator(line.begin(), line.end(), path); it != std::sregex_iterator(); ++it) {
    std::string p = (*it)[1];
    const size_t end = (*it)[1].second - line.begin();
    if (end < line.size() && std::string_view("*<{").find(line[end]) != std::string_view::npos) continue;
    if (p.find("...") != std::string::npos || p.find("..") != std::string::npos) continue;
    while (!p.empty() && (p.back() == '.' || p.back() == ',' || p.back() == ':')) p.pop_back();
    std::error_code ec;
    if (!fs::exists(root / p, ec)) out.push_back("names " + p + ", which is not in the tree: fix or drop the path");
  }
  return out;
}

TEST(DocReferences, RuleResolvesSourcePaths) {
  const fs::path root = E2LLM_SOURCE_DIR;
  EXPECT_TRUE(missing_paths("see `harness/src/sweep_run.cpp` and docs/methods.md.", root).empty());
  EXPECT_TRUE(missing_paths("the goldens in tests/report/golden/, backends/*/ and tasks/<name>/", root).empty());
  EXPECT_EQ(missing_paths("`tasks/common/perplexity.cpp` holds it", root).size(), 1u);
  EXPECT_EQ(missing_paths("(docs/" + std::string("gone.md)"), root).size(), 1u);
}

TEST(DocReferences, TheTreeHasNone) {
  const fs::path root = E2LLM_SOURCE_DIR;
  if (!fs::exists(root / ".git")) GTEST_SKIP() << root << " is not a git checkout; nothing to list";
  const Listing listing = git_files(root);
  ASSERT_EQ(listing.exit_code, 0) << "git ls-files failed in " << root << " (is git installed?)";
  ASSERT_GT(listing.files.size(), 50u) << "git ls-files listed almost nothing in " << root;
  const DocIndex docs = read_docs(root / "docs");
  EXPECT_TRUE(docs.count("methods.md") && docs.count("protocols.md") && docs.count("pitfalls.md"))
      << "docs/ lacks methods.md, protocols.md or pitfalls.md";

  std::string report;
  int problems = 0;
  size_t scanned = 0;
  for (const auto& path : listing.files) {
    if (path.rfind("results/", 0) == 0) continue;
    std::error_code ec;
    if (!fs::is_regular_file(root / path, ec)) continue;  // deleted in the work tree, or not a file
    std::ifstream in(root / path, std::ios::binary);
    std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (looks_binary(content)) continue;
    ++scanned;
    std::istringstream lines(content);
    int number = 0;
    for (std::string line; std::getline(lines, line);) {
      ++number;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      for (const auto& problem : problems_in_line(line, docs)) {
        report += path + ":" + std::to_string(number) + ": " + problem + "\n";
        ++problems;
      }
      if (path.size() > 3 && path.compare(path.size() - 3, 3, ".md") == 0 && path.rfind("tests/report/golden/", 0) != 0)
        for (const auto& problem : missing_paths(line, root)) {
          report += path + ":" + std::to_string(number) + ": " + problem + "\n";
          ++problems;
        }
    }
  }
  EXPECT_GT(scanned, 50u);
  EXPECT_EQ(problems, 0) << problems << " reference(s) a fresh clone cannot follow:\n" << report;
}
