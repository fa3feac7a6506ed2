// e2llm generate: text from one model, opened through a backend plugin.
#include <fmt/core.h>

#include "e2llm/error.hpp"
#include "model_args.hpp"

namespace e2llm::harness {
namespace {

void install(CLI::App& app, AppContext& context) {
  struct Args : ModelArgs {
    std::string prompt;
    GenerationOptions gen;
  };
  auto a = std::make_shared<Args>();
  a->gen.max_new_tokens = 256;
  auto* cmd = app.add_subcommand("generate", "Generate text (no --prompt: start from BOS)");
  add_model_options(cmd, *a);
  cmd->add_option("--prompt", a->prompt, "Prompt text");
  cmd->add_option("--max-new-tokens", a->gen.max_new_tokens, "Tokens to generate (>= 1)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 30));
  cmd->add_option("--temperature", a->gen.temperature, "0 = greedy")->capture_default_str()->check(CLI::Range(0.0, 1e6));
  cmd->add_option("--top-p", a->gen.top_p, "Nucleus sampling mass in (0, 1]")
      ->capture_default_str()
      ->check(CLI::Range(1e-9, 1.0));
  cmd->add_option("--seed", a->gen.seed, "Sampling seed")->capture_default_str();
  cmd->add_option("--window", a->window, "Context window to open the model at (0 = the model's own)")
      ->check(CLI::NonNegativeNumber);
  cmd->callback([&context, a] {
    OpenedModel o = open_model(context, *a, a->window);
    std::vector<std::int32_t> prompt = prompt_start(*o.tokenizer);  // BOS when the tokenizer file says so
    auto body = o.tokenizer->encode(a->prompt);
    prompt.insert(prompt.end(), body.begin(), body.end());
    GenerationOptions gen = a->gen;
    for (std::int32_t id : {o.tokenizer->bos_id(), o.tokenizer->eos_id()})
      if (id >= 0) gen.stop_tokens.push_back(id);
    std::int64_t room = o.model->window() - std::int64_t(prompt.size());
    if (room <= 0) throw Error("the prompt (" + std::to_string(prompt.size()) + " tokens) fills the window; raise --window");
    gen.max_new_tokens = std::int32_t(std::min<std::int64_t>(gen.max_new_tokens, room));
    auto out = o.model->generate(prompt, gen);
    // The continuation decoded as part of the whole text: decoding it alone would drop the
    // space its first token starts with ("to the" + "▁park" printed "to thepark").
    std::vector<std::int32_t> all = body;
    all.insert(all.end(), out.begin(), out.end());
    const std::string head = o.tokenizer->decode(body), whole = o.tokenizer->decode(all);
    const std::string continuation =
        whole.compare(0, head.size(), head) == 0 ? whole.substr(head.size()) : o.tokenizer->decode(out);
    fmt::print("{}{}\n", a->prompt, continuation);
  });
}

const RegisterCommand registered(install);

}  // namespace
}  // namespace e2llm::harness
