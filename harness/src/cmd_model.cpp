// e2llm generate / e2llm perplexity: one model, opened through a backend plugin (the
// harness never links LibTorch), scored with the same sliding-window code as the
// proofpile task.
#include <fmt/core.h>

#include <iterator>
#include <nlohmann/json.hpp>

#include "e2llm/error.hpp"
#include "e2llm/harness/app.hpp"
#include "e2llm/util/files.hpp"
#include "e2llm/taskkit/sliding_window.hpp"

namespace e2llm::harness {
namespace {

// --rope-type names (HF rope_scaling types) -> the backend plugin implementing each.
std::string backend_for_rope_type(const std::string& type) {
  if (type == "default" || type == "none") return "none";
  if (type == "linear" || type == "pi") return "pi";
  if (type == "ntk") return "ntk";
  if (type == "dynamic" || type == "dynamic-ntk") return "dynamic-ntk";
  if (type == "yarn") return "yarn";
  throw Error("--rope-type '" + type + "' is not one of default, linear, ntk, dynamic, yarn");
}

struct ModelArgs {
  std::string model, tokenizer, rope_type = "default", tokenizer_plugin = "sentencepiece";
  double rope_factor = 0.0;
  int threads = 0;
  std::int64_t window = 0;
  std::int64_t original_window = 0;
};

void add_model_options(CLI::App* cmd, ModelArgs& a) {
  cmd->add_option("--model", a.model, "Model: .gguf file or Hugging Face directory")->required();
  cmd->add_option("--tokenizer", a.tokenizer, "SentencePiece .model")->required();
  cmd->add_option("--rope-type", a.rope_type, "default | linear | ntk | dynamic | yarn")->capture_default_str();
  cmd->add_option("--rope-factor", a.rope_factor, "Scale s (default: g = ceil(W / L) for W > L)");
  cmd->add_option("--threads", a.threads, "Threads (0 = all cores)")->capture_default_str();
  cmd->add_option("--original-window", a.original_window,
                  "L, the window the model was trained at (0 = the checkpoint's context length)");
}

struct Opened {
  std::shared_ptr<Backend> backend;  // keeps the plugin (and the weights) alive
  std::unique_ptr<LanguageModel> model;
  std::shared_ptr<Tokenizer> tokenizer;
  std::int64_t original_window = 0;
};

// Opens the model at `window` (0 = the model's own window).
Opened open_model(AppContext& context, const ModelArgs& a, std::int64_t window) {
  auto& registry = context.registry();
  Opened o;
  o.tokenizer = registry.make_tokenizer(a.tokenizer_plugin);
  o.tokenizer->load(a.tokenizer);
  o.backend = registry.make_backend(backend_for_rope_type(a.rope_type));
  nlohmann::json config = {{"model", a.model}, {"threads", a.threads}};
  if (a.rope_factor > 0) config["factor"] = a.rope_factor;
  o.backend->configure(config);
  PrepareContext ctx;
  ctx.base_model = {{"path", a.model}};
  if (a.original_window > 0) ctx.base_model["original_window"] = a.original_window;
  ctx.tokenizer = o.tokenizer;
  nlohmann::json record = o.backend->prepare(ctx);
  o.original_window = record.value("original_window", std::int64_t(0));
  o.model = o.backend->open(window > 0 ? window : o.original_window);
  return o;
}

void install(CLI::App& app, AppContext& context) {
  {
    struct Args : ModelArgs {
      std::string prompt;
      GenerationOptions gen;
    };
    auto a = std::make_shared<Args>();
    a->gen.max_new_tokens = 256;
    auto* cmd = app.add_subcommand("generate", "Generate text (no --prompt: start from BOS)");
    add_model_options(cmd, *a);
    cmd->add_option("--prompt", a->prompt, "Prompt text");
    cmd->add_option("--max-new-tokens", a->gen.max_new_tokens, "Tokens to generate")->capture_default_str();
    cmd->add_option("--temperature", a->gen.temperature, "0 = greedy")->capture_default_str();
    cmd->add_option("--top-p", a->gen.top_p, "Nucleus sampling mass")->capture_default_str();
    cmd->add_option("--seed", a->gen.seed, "Sampling seed")->capture_default_str();
    cmd->add_option("--window", a->window, "Context window to open the model at (0 = the model's own)");
    cmd->callback([&context, a] {
      Opened o = open_model(context, *a, a->window);
      std::vector<std::int32_t> prompt{o.tokenizer->bos_id()};
      auto body = o.tokenizer->encode(a->prompt);
      prompt.insert(prompt.end(), body.begin(), body.end());
      GenerationOptions gen = a->gen;
      gen.stop_tokens = {o.tokenizer->bos_id(), o.tokenizer->eos_id()};
      std::int64_t room = o.model->window() - std::int64_t(prompt.size());
      if (room <= 0) throw Error("the prompt (" + std::to_string(prompt.size()) + " tokens) fills the window; raise --window");
      gen.max_new_tokens = std::int32_t(std::min<std::int64_t>(gen.max_new_tokens, room));
      auto out = o.model->generate(prompt, gen);
      fmt::print("{}{}\n", a->prompt, o.tokenizer->decode(out));
    });
  }
  {
    struct Args : ModelArgs {
      std::string input, aggregation = "token_weighted";
      std::int64_t stride = 256, truncate = 0;
    };
    auto a = std::make_shared<Args>();
    auto* cmd = app.add_subcommand("perplexity", "Sliding-window perplexity of a text file (METHODS.md §3)");
    add_model_options(cmd, *a);
    cmd->add_option("--input", a->input, "Text file")->required()->check(CLI::ExistingFile);
    cmd->add_option("--window", a->window, "Window W (tokens)")->required();
    cmd->add_option("--stride", a->stride, "Stride S (tokens)")->capture_default_str();
    cmd->add_option("--truncate", a->truncate, "Score only the first N tokens (0 = all)");
    cmd->add_option("--aggregation", a->aggregation, "token_weighted | mean_of_window_means")->capture_default_str();
    cmd->callback([&context, a] {
      auto aggregation = taskkit::parse_aggregation(a->aggregation);
      Opened o = open_model(context, *a, a->window);
      std::vector<std::int32_t> ids{o.tokenizer->bos_id()};
      auto body = o.tokenizer->encode(util::read_file(a->input));
      ids.insert(ids.end(), body.begin(), body.end());
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
}

const RegisterCommand registered(install);

}  // namespace
}  // namespace e2llm::harness
