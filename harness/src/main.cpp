// e2llm: extend the context window of RoPE language models and measure the result.
// Exit codes: 0 success, 1 failure (one line on stderr), 2 usage error.
#include <fmt/core.h>

#include <CLI/CLI.hpp>
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
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  } catch (const e2llm::Error& e) {
    fmt::print(stderr, "e2llm: error: {}\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "e2llm: error: {}\n", e.what());
    return 1;
  }
  return context.exit_code;
}
