// Replays every committed input of one fuzz target (fuzz/corpus/<target>,
// fuzz/regressions/<target>, extra seed folders) through it, as a plain test. A file whose
// name starts with "ok-" must be accepted and one starting with "bad-" refused with a clean
// error; every file must keep the reader's contract (fuzz/fuzz_support.hpp), or the test
// aborts naming it.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "fuzz_support.hpp"

namespace fs = std::filesystem;

namespace {

std::vector<fs::path> input_files() {
  std::vector<fs::path> files;
  std::stringstream dirs(E2LLM_FUZZ_INPUT_DIRS);
  for (std::string dir; std::getline(dirs, dir, '|');) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) continue;
    for (const auto& entry : fs::recursive_directory_iterator(dir))
      if (entry.is_regular_file()) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string bytes_of(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace

TEST(FuzzReplay, CommittedInputs) {
  const auto files = input_files();
  ASSERT_FALSE(files.empty()) << "no seeds in " << E2LLM_FUZZ_INPUT_DIRS;
  size_t ok = 0;
  for (const auto& path : files) {
    SCOPED_TRACE(path.string());
    const std::string bytes = bytes_of(path);
    std::fprintf(stderr, "replay %s\n", path.c_str());  // names the file if the contract aborts
    const bool accepted = e2llm::fuzz::one_input(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    const std::string name = path.filename().string();
    if (name.rfind("ok-", 0) == 0) {
      EXPECT_TRUE(accepted) << "a valid seed is refused";
      ++ok;
    } else if (name.rfind("bad-", 0) == 0) {
      EXPECT_FALSE(accepted) << "a bad input is accepted";
    }
  }
  EXPECT_GT(ok, 0u) << "no ok- seed: nothing shows the target reaches an accepted input";
}
