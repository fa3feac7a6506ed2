// What `e2llm generate` and `e2llm perplexity` share: the flags naming a model, its
// tokenizer, RoPE scaling and device, and opening that model through a backend plugin (the
// harness never links LibTorch).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "e2llm/backend.hpp"
#include "e2llm/harness/app.hpp"
#include "e2llm/language_model.hpp"
#include "e2llm/tokenizer.hpp"

namespace e2llm::harness {

struct ModelArgs {
  // tokenizer "": the one the model carries; plugin "": chosen by the file; rope_type "": the
  // RoPE the model's file declares (backend `none`)
  std::string model, tokenizer, rope_type, tokenizer_plugin;
  bool rope_override = false;
  std::string device = "auto", dtype = "float32", weights = "float";
  double rope_factor = 0.0;
  int threads = 0;
  std::int64_t window = 0;
  std::int64_t original_window = 0;
};

// Refuses an unknown RoPE type while parsing (a usage error, exit 2).
CLI::Validator rope_type_validator();

void add_model_options(CLI::App* cmd, ModelArgs& args);

struct OpenedModel {
  std::shared_ptr<Backend> backend;  // keeps the plugin (and the weights) alive
  std::unique_ptr<LanguageModel> model;
  std::shared_ptr<Tokenizer> tokenizer;
  std::int64_t original_window = 0;
};

// Opens the model at `window` (0 = the model's own window) through the backend plugin that
// implements --rope-type; without --rope-type, with the RoPE the model's file declares.
OpenedModel open_model(AppContext& context, const ModelArgs& args, std::int64_t window);

}  // namespace e2llm::harness
