// Writing a model for other runtimes with the RoPE e2llm evaluated it with at a window W:
// a Hugging Face directory whose config.json carries that RoPE (transformers, vLLM) and a
// GGUF with llama.cpp's rope keys. No LibTorch. What each RoPE type becomes and what cannot
// be carried: docs/interop.md §Export.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "e2llm/formats/checkpoint.hpp"
#include "e2llm/formats/rope_scaling.hpp"

namespace e2llm::formats {

// The served RoPE in each format's vocabulary.
struct PortableRope {
  // For config.json: static NTK-aware scaling (which transformers does not name) becomes
  // plain RoPE with base ntk_base(b, s, d): the same frequencies.
  RopeConfig hf;
  // For GGUF: llama.cpp's rope.scaling.type ("none" | "linear" | "yarn" | "longrope"), the
  // base and factor it reads; `gguf_refusal` is non-empty when llama.cpp cannot serve this
  // RoPE (dynamic NTK; YaRN with other betas or an explicit attention factor) and says why.
  std::string gguf_type;
  double gguf_freq_base = 10000.0;
  double gguf_factor = 1.0;
  int64_t gguf_original_context = 0;
  // llama3: tensor rope_freqs.weight, the per-pair divisors llama.cpp applies at every length.
  std::vector<double> gguf_rope_freqs;
  // longrope: tensors rope_factors_long / _short.weight and rope.scaling.attn_factor (no
  // rope.scaling.factor: llama.cpp would scale the positions by it as well).
  std::vector<double> gguf_long_factors, gguf_short_factors;
  double gguf_attn_factor = 1.0;
  std::string gguf_refusal;
};
PortableRope portable_rope(const RopeConfig& served);

// The pieces, scores and types of a SentencePiece .model (its ModelProto read directly:
// pieces = field 1 {piece 1, score 2, type 3}, trainer_spec = field 2 {bos_id 41, eos_id 42}).
// Types are SentencePiece's, which are also llama.cpp's token types. Throws e2llm::Error
// naming the file when it is not one.
Vocabulary read_sentencepiece_vocabulary(const std::filesystem::path& model_file);

// Writes a GGUF v3 llama model: the checkpoint's tensors (q/k rows in llama.cpp's adjacent
// layout, dtypes kept: F32, F16, BF16), its shape, `rope` as llama.cpp reads it, context
// length `window`, and `vocab` as a SentencePiece-style ("llama") vocabulary. Atomic.
// Throws e2llm::Error when rope.gguf_refusal is set.
void save_gguf(const Checkpoint& checkpoint, const PortableRope& rope, int64_t window, const Vocabulary& vocab,
               const std::filesystem::path& path);

struct ExportRequest {
  std::filesystem::path model;  // the source checkpoint (GGUF or HF directory)
  RopeConfig served;            // the RoPE e2llm serves at `window` (from the backend)
  int64_t window = 0;           // W
  int64_t original_window = 0;  // L; W < L is refused
  std::optional<std::filesystem::path> hf_dir;
  std::optional<std::filesystem::path> gguf;
  // A SentencePiece .model: copied into the HF directory and, when the checkpoint carries no
  // vocabulary of its own, the GGUF's vocabulary.
  std::optional<std::filesystem::path> tokenizer;
};

// Checks everything first (W >= L, GGUF representable, a vocabulary for the GGUF), then
// writes. Returns what was written: {"hf": {"path", "rope_scaling", "rope_theta",
// "max_position_embeddings"}, "gguf": {"path", "rope.scaling.type", ...}}.
nlohmann::json export_model(const ExportRequest& request);

}  // namespace e2llm::formats
