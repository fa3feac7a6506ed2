// e2llm: extend the context window of RoPE language models and measure the result.
// Exit codes: 0 success, 1 failure (one line on stderr), 2 usage error.
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <csignal>
#include <iostream>

#include "e2llm/error.hpp"
#include "e2llm/harness/app.hpp"
#include "e2llm/harness/version.hpp"

int main(int argc, char** argv) {
  using namespace e2llm::harness;
  // A file-size limit (ulimit -f) must fail the write that crosses it with EFBIG, which the
  // atomic writers report with the file's name, not kill the process with SIGXFSZ.
  std::signal(SIGXFSZ, SIG_IGN);
  CLI::App app{"e2llm — extend the context window of RoPE language models and measure the result"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("e2llm ") + kVersion + " (" + kGitRevision + ")");
  AppContext context;
  app.add_option("--plugin-path", context.plugin_paths, "Extra plugin folder or library (repeatable)");
  for (auto install : command_installers()) install(app, context);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    // One line, like every other error (CLI11's own message adds a second "Run with --help").
    std::string what = e.what();
    std::replace(what.begin(), what.end(), '\n', ' ');
    fmt::print(stderr, "e2llm: usage error: {} (run with --help)\n", what);
    return 2;
  } catch (const e2llm::Error& e) {
    fmt::print(stderr, "e2llm: error: {}\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "e2llm: error: {}\n", e.what());
    return 1;
  }
  return context.exit_code;
}
