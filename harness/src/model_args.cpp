#include "model_args.hpp"

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "e2llm/error.hpp"
#include "e2llm/formats/rope_scaling.hpp"
#include "e2llm/harness/model_notes.hpp"
#include "e2llm/harness/tokenizer_choice.hpp"

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
  cmd->add_option("--rope-type", a.rope_type,
                  "RoPE method: " + formats::rope_type_names() +
                      " (default: the RoPE the model's file declares, plain RoPE for most)")
      ->check(rope_type_validator());
  cmd->add_option("--rope-factor", a.rope_factor, "Scale s (default: g = ceil(W / L) for W > L); needs --rope-type")
      ->check(CLI::Range(1.0, 1e9));
  cmd->add_flag("--rope-override", a.rope_override,
                "Let --rope-type replace a RoPE scaling the model's file declares (without it, the two conflict)");
  cmd->add_option("--threads", a.threads, "Threads (0 = all cores)")->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--device", a.device, "auto | cpu | cuda | cuda:N (auto: CUDA when a GPU is visible)")
      ->capture_default_str();
  cmd->add_option("--dtype", a.dtype, "float32 | bfloat16")->capture_default_str()->check(
      CLI::IsMember({"float32", "bfloat16"}));
  cmd->add_option("--weights", a.weights,
                  "float | int8 (per-channel int8 projections and head: CPU and float32 only; docs/throughput.md)")
      ->capture_default_str()
      ->check(CLI::IsMember({"float", "int8"}));
  cmd->add_option("--original-window", a.original_window,
                  "L, the window the model was trained at (0 = the model's notes, else the checkpoint's context "
                  "length; docs/models.md)")
      ->check(CLI::NonNegativeNumber);
}

OpenedModel open_model(AppContext& context, const ModelArgs& a, std::int64_t window) {
  auto& registry = context.registry();
  OpenedModel o;
  const std::string tokenizer =
      a.tokenizer.empty() ? tokenizer_of_model(a.model, "pass --tokenizer").string() : a.tokenizer;
  o.tokenizer = registry.make_tokenizer(tokenizer_plugin_for(tokenizer, a.tokenizer_plugin));
  o.tokenizer->load(tokenizer);
  if (a.rope_type.empty() && a.rope_factor > 0)
    throw Error("--rope-factor needs --rope-type (without it the model is served with the RoPE its file declares)");
  const formats::RopeType type =
      a.rope_type.empty() ? formats::RopeType::Default : formats::parse_rope_type(a.rope_type);
  o.backend = registry.make_backend(formats::rope_type_info(type).backend);
  nlohmann::json config = {{"model", a.model}, {"threads", a.threads}};
  if (type == formats::RopeType::Default) config["rope"] = a.rope_type.empty() ? "file" : "plain";
  if (a.rope_override) config["rope_override"] = true;
  if (a.weights != "float") config["weights"] = a.weights;
  if (a.rope_factor > 0) config["factor"] = a.rope_factor;
  o.backend->configure(config);
  PrepareContext ctx;
  ctx.base_model = {{"path", a.model}};
  if (a.original_window > 0) {
    ctx.base_model["original_window"] = a.original_window;
  } else if (const std::int64_t L = original_window_from_notes(a.model, "e2llm"); L > 0) {
    ctx.base_model["original_window"] = L;
  }
  ctx.tokenizer = o.tokenizer;
  ctx.device = a.device;
  ctx.dtype = a.dtype;
  if (window > 0) ctx.windows = {window};
  nlohmann::json record = o.backend->prepare(ctx);
  o.original_window = record.value("original_window", std::int64_t(0));
  if (type != formats::RopeType::Default && window > 0 && window == o.original_window)
    fmt::print(stderr,
               "e2llm: note: W = {} = L = {}: {} serves s = 1 at W = L and extends nothing; if the "
               "model was trained at a shorter window than its file declares, pass --original-window or write it "
               "in the model's notes ({})\n",
               window, o.original_window, a.rope_type, model_notes_path(a.model).string());
  o.model = o.backend->open(window > 0 ? window : o.original_window);
  return o;
}

}  // namespace e2llm::harness
