// e2llm score <task> --dataset NAME PRED.jsonl [--per-sample]: a task plugin scores an existing
// prediction file with its official metric. The harness only parses flags; the task does the
// work (no concrete plugin here).
#include <fmt/core.h>

#include <nlohmann/json.hpp>

#include "e2llm/harness/app.hpp"

namespace e2llm::harness {
namespace {

void install(CLI::App& app, AppContext& context) {
  struct Args {
    std::string task, dataset, file;
    bool per_sample = false;
  };
  auto a = std::make_shared<Args>();
  auto* score = app.add_subcommand("score", "Score an existing prediction file with a task's official metric");
  score->add_option("TASK", a->task, "Task plugin that scores prediction files (see `e2llm plugins`)")->required();
  score->add_option("PREDICTIONS", a->file, "Prediction file (JSONL)")->required()->check(CLI::ExistingFile);
  score->add_option("--dataset", a->dataset, "Dataset name within the task")->required();
  score->add_flag("--per-sample", a->per_sample, "Include each row's score");
  score->callback([&context, a] {
    auto task = context.registry().make_task(a->task);
    nlohmann::json request = {{"dataset", a->dataset}, {"file", a->file}, {"per_sample", a->per_sample}};
    fmt::print("{}\n", task->score_predictions(request).dump(2));
  });
}

const RegisterCommand registered(install);

}  // namespace
}  // namespace e2llm::harness
