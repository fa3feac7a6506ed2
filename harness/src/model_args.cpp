#include "model_args.hpp"

#include <nlohmann/json.hpp>

#include "e2llm/error.hpp"
#include "e2llm/harness/tokenizer_choice.hpp"
#include "e2llm/formats/rope_scaling.hpp"

namespace e2llm::harness {

CLI::Validator rope_type_validator() {
  return CLI::Validator(
      [](std::string& name) {
        try {
          formats::parse_rope_type(name);
          return std::string();
        } catch (const Error& e) {
          return std::string(e.what());
        }
      },
      "RoPE type");
}

void add_model_options(CLI::App* cmd, ModelArgs& a) {
  cmd->add_option("--model", a.model, "Model: .gguf file or Hugging Face directory")->required();
  cmd->add_option("--tokenizer", a.tokenizer,
                  "SentencePiece .model, tokenizer.json, a GGUF or a folder holding a tokenizer (default: the one "
                  "--model carries)");
  cmd->add_option("--rope-type", a.rope_type, formats::rope_type_names())
      ->capture_default_str()
      ->check(rope_type_validator());
  cmd->add_option("--rope-factor", a.rope_factor, "Scale s (default: g = ceil(W / L) for W > L)")
      ->check(CLI::Range(1.0, 1e9));
  cmd->add_option("--threads", a.threads, "Threads (0 = all cores)")->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--device", a.device, "auto | cpu | cuda | cuda:N (auto: CUDA when a GPU is visible)")
      ->capture_default_str();
  cmd->add_option("--dtype", a.dtype, "float32 | bfloat16")->capture_default_str()->check(
      CLI::IsMember({"float32", "bfloat16"}));
  cmd->add_option("--original-window", a.original_window,
                  "L, the window the model was trained at (0 = the checkpoint's context length)")
      ->check(CLI::NonNegativeNumber);
}

OpenedModel open_model(AppContext& context, const ModelArgs& a, std::int64_t window) {
  auto& registry = context.registry();
  OpenedModel o;
  const std::string tokenizer =
      a.tokenizer.empty() ? tokenizer_of_model(a.model, "pass --tokenizer").string() : a.tokenizer;
  o.tokenizer = registry.make_tokenizer(tokenizer_plugin_for(tokenizer, a.tokenizer_plugin));
  o.tokenizer->load(tokenizer);
  o.backend = registry.make_backend(formats::rope_type_info(formats::parse_rope_type(a.rope_type)).backend);
  nlohmann::json config = {{"model", a.model}, {"threads", a.threads}};
  if (a.rope_factor > 0) config["factor"] = a.rope_factor;
  o.backend->configure(config);
  PrepareContext ctx;
  ctx.base_model = {{"path", a.model}};
  if (a.original_window > 0) ctx.base_model["original_window"] = a.original_window;
  ctx.tokenizer = o.tokenizer;
  ctx.device = a.device;
  ctx.dtype = a.dtype;
  nlohmann::json record = o.backend->prepare(ctx);
  o.original_window = record.value("original_window", std::int64_t(0));
  o.model = o.backend->open(window > 0 ? window : o.original_window);
  return o;
}

}  // namespace e2llm::harness
