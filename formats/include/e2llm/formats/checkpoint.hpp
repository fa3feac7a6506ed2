// Llama checkpoints without LibTorch: GGUF v3 (read), Hugging Face directories with
// safetensors (read and write), the q/k row permutation between RoPE layouts, and dtype
// conversion for the model loader. Every reader bounds-checks the file: a truncated or
// corrupted file is a one-line e2llm::Error naming the file, never a crash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "e2llm/formats/model_config.hpp"

namespace e2llm::formats {

// Element types of stored tensors: the float types of safetensors and GGUF, and the ggml
// block-quantized types that downloaded GGUF models hold (docs/formats.md §Quantized tensors).
// A quantized tensor stores blocks of `block` consecutive elements of a row in `block_bytes`
// bytes; its rows (innermost dimension) are whole blocks.
enum class DType { F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K };

struct DTypeInfo {
  DType dtype;
  const char* name;    // "F32", "Q4_1", ...: safetensors' names for floats, ggml's for the rest
  uint32_t ggml_type;  // the number GGUF stores (ggml_type)
  int64_t block;       // elements per block (1 for float types)
  size_t block_bytes;  // bytes per block
};
// The one table of dtypes: readers, writers, messages and dequantization read it.
const std::vector<DTypeInfo>& dtype_table();
const DTypeInfo& dtype_info(DType dtype);
std::optional<DType> dtype_from_ggml(uint32_t ggml_type);  // nothing for types e2llm cannot read
const char* dtype_name(DType dtype);
bool is_quantized(DType dtype);
// Bytes of a row-major tensor of this shape; throws e2llm::Error when the innermost dimension
// is not a whole number of blocks.
size_t dtype_bytes(DType dtype, const std::vector<int64_t>& shape);

struct TensorView {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;  // row-major, PyTorch order
  const void* data = nullptr;
  size_t nbytes = 0;
  std::shared_ptr<const void> owner;  // keeps the mapping or buffer alive
  int64_t numel() const;
};

struct Vocabulary {
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> types;
  int32_t bos = 1, eos = 2;
};

struct Checkpoint {
  ModelConfig config;
  // Hugging Face names: model.embed_tokens.weight, model.layers.{i}.self_attn.{q,k,v,o}_proj.weight,
  // model.layers.{i}.mlp.{gate,up,down}_proj.weight, model.layers.{i}.input_layernorm.weight,
  // model.layers.{i}.post_attention_layernorm.weight, model.norm.weight, lm_head.weight (absent when tied).
  std::map<std::string, TensorView> tensors;
  std::optional<Vocabulary> vocab;  // GGUF embedded vocabulary (kept in e2llm_vocab.json by save_hf_dir)
  std::string format;               // "gguf" | "hf"
  std::string source;               // path
  // sha256 over the tensors in name order of: name, '\0', dtype name, '\0', shape as
  // comma-separated decimals, '\0', sha256 hex of the tensor's raw bytes, '\n' (per-tensor
  // digests so big models hash in parallel). Changes when the q/k layout changes.
  std::string fingerprint;

  const TensorView& tensor(const std::string& name) const;  // e2llm::Error naming the source if absent
};

Checkpoint load_checkpoint(const std::filesystem::path& path);  // directory -> HF; *.gguf -> GGUF
Checkpoint load_gguf(const std::filesystem::path& path);
Checkpoint load_hf_dir(const std::filesystem::path& dir);

// Writes config.json, model.safetensors (or model-0000i-of-0000n.safetensors shards of at most
// max_shard_bytes plus model.safetensors.index.json when max_shard_bytes > 0 and the weights do
// not fit one shard), e2llm_vocab.json when the checkpoint has an embedded vocabulary, and
// copies `tokenizer_model` to tokenizer.model when given. An
// "adjacent" checkpoint is converted to "half" first (Hugging Face layout). Files are written
// atomically (temp + rename).
void save_hf_dir(const Checkpoint& checkpoint, const std::filesystem::path& dir, int64_t max_shard_bytes = 0,
                 const std::optional<std::filesystem::path>& tokenizer_model = std::nullopt);

// Permutes the rows of every q/k projection within each head so that pairs rotate the
// `target_layout` way ("half" or "adjacent"). Other tensors are shared, not copied.
// Recomputes the fingerprint.
Checkpoint with_rope_layout(const Checkpoint& checkpoint, const std::string& target_layout);

// The checkpoint with every quantized tensor dequantized to F32 (others shared, not copied);
// the fingerprint is recomputed when anything changed.
Checkpoint dequantized(const Checkpoint& checkpoint);

// Checks that every tensor the config implies is present with the right shape and that no
// unknown tensor is; throws e2llm::Error naming the source.
void validate_tensors(const Checkpoint& checkpoint);

std::string compute_fingerprint(const std::map<std::string, TensorView>& tensors);

// Any dtype to float32: F16 and BF16 converted exactly, quantized blocks dequantized as ggml
// does (ggml_quants.cpp).
std::vector<float> to_f32(const TensorView& view);
float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);  // round to nearest even; for tests and writers

// `e2llm convert IN OUT_DIR`: loads any supported checkpoint and writes a Hugging Face dir.
// When tokenizer_model is absent, a tokenizer.model beside IN is copied if present.
void convert_to_hf(const std::filesystem::path& in, const std::filesystem::path& out_dir,
                   const std::optional<std::filesystem::path>& tokenizer_model);

// ---- safetensors (exposed for tests and for the trainer's checkpoint writer) ----
// Reads one safetensors file (mmap); tensors reference the mapping. `metadata` receives
// the "__metadata__" object when not null.
std::map<std::string, TensorView> read_safetensors(const std::filesystem::path& path,
                                                   std::map<std::string, std::string>* metadata = nullptr);
// Atomic write; names sorted; header padded with spaces to a multiple of 8 bytes.
void write_safetensors(const std::filesystem::path& path, const std::map<std::string, TensorView>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// A tensor owning its bytes (for tests and conversions).
TensorView make_tensor(DType dtype, std::vector<int64_t> shape, std::vector<unsigned char> bytes);

}  // namespace e2llm::formats
