// e2llm perplexity: sliding-window perplexity of a text file under one model, scored with
// the same code as the proofpile task.
#include <fmt/core.h>

#include <nlohmann/json.hpp>

#include "e2llm/taskkit/sliding_window.hpp"
#include "e2llm/util/files.hpp"
#include "model_args.hpp"

namespace e2llm::harness {
namespace {

void install(CLI::App& app, AppContext& context) {
  struct Args : ModelArgs {
    std::string input, aggregation = "token_weighted";
    std::int64_t stride = 256, truncate = 0;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("perplexity", "Sliding-window perplexity of a text file (docs/protocols.md)");
  add_model_options(cmd, *a);
  cmd->add_option("--input", a->input, "Text file")->required()->check(CLI::ExistingFile);
  cmd->add_option("--window", a->window, "Window W (tokens, >= 2)")->required()->check(CLI::Range(2, 1 << 30));
  cmd->add_option("--stride", a->stride, "Stride S (tokens, 1 .. W)")->capture_default_str()->check(CLI::Range(1, 1 << 30));
  cmd->add_option("--truncate", a->truncate, "Score only the first N tokens (0 = all)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--aggregation", a->aggregation, "token_weighted | mean_of_window_means")
      ->capture_default_str()
      ->check(CLI::IsMember({"token_weighted", "mean_of_window_means"}));
  cmd->callback([&context, a] {
    auto aggregation = taskkit::parse_aggregation(a->aggregation);
    OpenedModel o = open_model(context, *a, a->window);
    std::vector<std::int32_t> ids = encode_text(*o.tokenizer, util::read_file(a->input));
    if (a->truncate > 0 && std::int64_t(ids.size()) > a->truncate) ids.resize(std::size_t(a->truncate));
    auto r = taskkit::sliding_window_perplexity(*o.model, ids, a->window, a->stride, aggregation);
    nlohmann::json out = {{"ppl", r.ppl},
                          {"nll", r.tokens_scored > 0 ? r.nll_sum / double(r.tokens_scored) : 0.0},
                          {"nll_sum", r.nll_sum},
                          {"tokens", r.tokens_scored},
                          {"windows", r.windows},
                          {"window", a->window},
                          {"stride", a->stride},
                          {"aggregation", taskkit::aggregation_name(aggregation)},
                          {"model", o.model->describe()}};
    fmt::print("{}\n", out.dump(2));
  });
}

const RegisterCommand registered(install);

}  // namespace
}  // namespace e2llm::harness
