// Shape and position facts of a Llama-family checkpoint, independent of its file format.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "e2llm/formats/rope_scaling.hpp"

namespace e2llm::formats {

struct ModelConfig {
  int64_t dim = 0, n_layers = 0, n_heads = 0, n_kv_heads = 0, hidden_dim = 0 /* ffn */, vocab_size = 0;
  double norm_eps = 1e-5;
  int64_t max_position = 0;  // the window the model was trained at
  bool tied_embeddings = false;
  // "half": Hugging Face rotate_half, pairs (i, i + d/2).
  // "adjacent": GGUF / Meta / llama2.c, pairs (2i, 2i + 1). See docs/methods.md §RoPE pair layouts.
  std::string rope_layout = "half";
  RopeConfig rope;  // base / head_dim / original_max_position filled; Default unless the checkpoint says otherwise
  nlohmann::json extra = nlohmann::json::object();  // passed through config.json under "e2llm"

  int64_t head_dim() const { return n_heads > 0 ? dim / n_heads : 0; }
  // Throws e2llm::Error (prefixed with `where`) if a field is missing or inconsistent.
  void validate(const std::string& where) const;
  nlohmann::json to_json() const;
};

}  // namespace e2llm::formats
