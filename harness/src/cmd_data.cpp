// e2llm data <task> --out DIR: a task plugin prepares its data (e.g. proofpile's corpus). The
// harness only parses flags; the task does the work (no concrete plugin here).
#include <fmt/core.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "e2llm/error.hpp"
#include "e2llm/harness/app.hpp"

namespace e2llm::harness {
namespace {

void install(CLI::App& app, AppContext& context) {
  struct Args {
    std::string task, out;
    std::uint64_t seed = 0;
    std::int64_t max_bytes = 0;
  };
  auto a = std::make_shared<Args>();
  auto* data = app.add_subcommand("data", "Prepare a task's data (e.g. a corpus)");
  data->add_option("TASK", a->task, "Task plugin that prepares its data (see `e2llm plugins`)")->required();
  data->add_option("--out", a->out, "Output folder")->required();
  data->add_option("--seed", a->seed, "Seed for splits and sampling")->capture_default_str();
  data->add_option("--max-bytes", a->max_bytes, "Cap on corpus size in bytes (0 = the task's default)");
  data->callback([&context, a] {
    auto task = context.registry().make_task(a->task);
    nlohmann::json request = {{"out", a->out}, {"seed", a->seed}};
    if (a->max_bytes > 0) request["max_bytes"] = a->max_bytes;
    nlohmann::json result;
    try {
      result = task->prepare_data(request);
    } catch (const ConfigError& e) {
      // A request field is a flag here: name it as the user wrote it ("--max-bytes").
      std::string flag = e.field();
      std::replace(flag.begin(), flag.end(), '_', '-');
      throw Error("e2llm data " + a->task + ": --" + flag + ": " + e.what());
    }
    fmt::print("{}\n", result.dump(2));
  });
}

const RegisterCommand registered(install);

}  // namespace
}  // namespace e2llm::harness
