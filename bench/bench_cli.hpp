// The benchmarks' command lines: CLI11, with a usage error as one line and exit 2 (as e2llm's).
#pragma once

#include <CLI/CLI.hpp>
#include <iostream>
#include <optional>

namespace e2llm::bench {

// Parses argv into `app`'s options. Returns the exit code to leave with (0 after --help; 2 with
// one line on stderr on a bad command line), or nothing to go on.
inline std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    std::string what = e.what();
    for (char& c : what)
      if (c == '\n') c = ' ';
    std::cerr << app.get_name() << ": usage error: " << what << " (run with --help)\n";
    return 2;
  }
  return std::nullopt;
}

}  // namespace e2llm::bench
