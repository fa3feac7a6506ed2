// e2llm generate: text from one model, opened through a backend plugin.
#include <fmt/core.h>

#include "e2llm/error.hpp"
#include "e2llm/formats/chat_template.hpp"
#include "e2llm/taskkit/prompt_framing.hpp"
#include "model_args.hpp"

namespace e2llm::harness {
namespace {

void install(CLI::App& app, AppContext& context) {
  struct Args : ModelArgs {
    std::string prompt;
    bool chat = false;
    std::string chat_template;  // a family name; "" = the tokenizer file's
    GenerationOptions gen;
  };
  auto a = std::make_shared<Args>();
  a->gen.max_new_tokens = 256;
  auto* cmd = app.add_subcommand("generate", "Generate text (no --prompt: start from BOS)");
  add_model_options(cmd, *a);
  cmd->add_option("--prompt", a->prompt, "Prompt text");
  cmd->add_flag("--chat", a->chat,
                "Wrap the prompt in the model's chat template (the tokenizer file's) and print only the reply");
  std::vector<std::string> families;
  for (const auto& f : formats::chat_families()) families.push_back(f.name);
  cmd->add_option(
         "--chat-template", a->chat_template,
         "Wrap the prompt in this chat family's layout instead (" + formats::chat_family_names() + "); implies --chat")
      ->check(CLI::IsMember(families));
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
    const Tokenizer& tok = *o.tokenizer;
    const bool chat = a->chat || !a->chat_template.empty();
    if (chat && a->chat_template.empty() && tok.chat_template().empty())
      throw Error(tok.model_path() + ": --chat: the tokenizer file carries no chat template; name a family with " +
                  "--chat-template (" + formats::chat_family_names() + ")");
    taskkit::FramingConfig framing_config;
    framing_config.chat_template = !chat ? "none" : a->chat_template.empty() ? "auto" : a->chat_template;
    const taskkit::PromptFraming framing(tok, framing_config,
                                         "name a family with --chat-template FAMILY, or leave out --chat");
    // BOS when the tokenizer file (or the chat template) says so.
    std::vector<std::int32_t> prompt = framing.ids(a->prompt);
    GenerationOptions gen = a->gen;
    gen.stop_tokens = framing.stop_tokens();  // EOS, and the template's end of turn
    if (tok.bos_id() >= 0) gen.stop_tokens.push_back(tok.bos_id());
    std::int64_t room = o.model->window() - std::int64_t(prompt.size());
    if (room <= 0) throw Error("the prompt (" + std::to_string(prompt.size()) + " tokens) fills the window; raise --window");
    gen.max_new_tokens = std::int32_t(std::min<std::int64_t>(gen.max_new_tokens, room));
    auto out = o.model->generate(prompt, gen);
    if (chat) {  // the assistant's reply alone
      fmt::print("{}\n", tok.decode(out));
      return;
    }
    // The continuation decoded as part of the whole text: decoding it alone would drop the
    // space its first token starts with ("to the" + "▁park" printed "to thepark").
    const std::vector<std::int32_t> body = tok.encode(a->prompt);
    std::vector<std::int32_t> all = body;
    all.insert(all.end(), out.begin(), out.end());
    const std::string head = tok.decode(body), whole = tok.decode(all);
    const std::string continuation =
        whole.compare(0, head.size(), head) == 0 ? whole.substr(head.size()) : tok.decode(out);
    fmt::print("{}{}\n", a->prompt, continuation);
  });
}

const RegisterCommand registered(install);

}  // namespace
}  // namespace e2llm::harness
