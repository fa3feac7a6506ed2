// The Llama model in LibTorch: embedding, RMSNorm, grouped-query attention with RoPE applied
// from explicit per-token positions, SwiGLU MLP, tied or untied head, on any device and
// dtype. Attention runs on LibTorch's fused kernels where they serve and on a blocked
// online-softmax kernel elsewhere; memory grows linearly in the sequence length, forward and
// backward.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "e2llm/formats/checkpoint.hpp"
#include "e2llm/formats/model_config.hpp"
#include "e2llm/formats/rope_scaling.hpp"
#include "e2llm/language_model.hpp"
#include "e2llm/llama/int8_linear.hpp"
#include "e2llm/llama/self_extend.hpp"

namespace e2llm::llama {

// RoPE from explicit inputs, so training can give each sequence its own scale and offset:
// the angle of pair j for a token is positions[b, t] * inv_freq[j] (E²-LLM: positions =
// (m + t) / g, docs/methods.md §E²-LLM). Angles are computed in float64, then cast to the model dtype.
struct RopeInputs {
  torch::Tensor positions;        // [B, T] floating (or integral): the position each token is rotated by
  torch::Tensor inv_freq;         // [d/2] (any floating dtype; used in float64)
  double attention_factor = 1.0;  // multiplies cos and sin (YaRN mscale)
  // Self-Extend's grouped attention (self_extend.hpp); then positions must be the token
  // indices (start + t, scale 1), which the grouped positions are computed from.
  SelfExtendOptions self_extend{};

  // positions[b, t] = (start + t) / scale for every row b; inv_freq and the factor from `freq`.
  static RopeInputs make(const formats::RopeFrequencies& freq, int64_t batch, int64_t length, int64_t start = 0,
                         double scale = 1.0);
};

enum class AttentionKernel {
  Fused,    // at::scaled_dot_product_attention where it serves (below), blocked elsewhere
  Blocked,  // the reference: blocked online softmax (forward and recomputing backward)
};

// "fused" | "blocked"; throws e2llm::ConfigError(field, ...) for another name.
AttentionKernel parse_attention_kernel(const std::string& name, const std::string& field = "attention");
const char* attention_kernel_config_name(AttentionKernel kernel);

struct AttentionOptions {
  AttentionKernel kernel = AttentionKernel::Fused;
  int64_t query_block = 256;  // blocked kernel only
  int64_t key_block = 256;
};

// Causal attention: q [B, H, T, d], k and v [B, Hkv, S, d] with H % Hkv == 0 (query head h
// reads KV head h / (H / Hkv)) and S >= T; query i sits at absolute index S - T + i and sees
// keys 0 .. S - T + i. Returns q's dtype.
//
// The fused path is LibTorch's scaled_dot_product_attention with enable_gqa (flash or
// memory-efficient kernels on CUDA, the flash kernel on CPU: memory linear in T, forward and
// backward). Its causal mask is aligned top-left, which is right only when T == S (training,
// full-sequence evaluation, a prefill into an empty cache) or needs no mask at all (T == 1,
// one decoding step); chunked prefill behind a cache (1 < T < S) takes the blocked kernel.
torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        const AttentionOptions& options = {});
// Whether attention() takes the fused kernel for these shapes and options, and which one
// LibTorch picks ("flash", "efficient", "cudnn", "math", or "blocked" when not fused).
std::string attention_kernel_name(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                  const AttentionOptions& options = {});

// Memory O(T * block), computed in float32; differentiable with a recomputing backward
// (flash-attention style): it saves only q, k, v, the output and one log-sum-exp per row,
// never a T×S matrix. The reference the fused path is tested against, and the kernel for
// chunked prefill.
torch::Tensor blocked_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                const AttentionOptions& options = {});
// Self-Extend (self_extend.hpp): qn, kn rotated by the token positions, qg, kg by the grouped
// ones (same shapes as q and k); query i sits at S − T + i. A key with (S − T + i) − j <
// window scores qn·kn, any other visible key qg·kg, in one softmax. Blocked over queries and
// keys like blocked_attention (memory O(T * block)); a key block wholly inside or wholly
// beyond the neighbour window computes one kind of score only. Forward only, float32 math.
torch::Tensor self_extend_attention(const torch::Tensor& qn, const torch::Tensor& qg, const torch::Tensor& kn,
                                    const torch::Tensor& kg, const torch::Tensor& v, int64_t window,
                                    const AttentionOptions& options = {});
// The textbook form: materializes the [B, H, T, S] scores. For tests and tiny inputs only.
torch::Tensor naive_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v);

// The rotation tables for `positions` [B, T] and `inv_freq` [d/2] (angles in float64):
// cos, sin [B, 1, T, d/2] in `dtype` on `device`, each multiplied by `attention_factor`.
std::pair<torch::Tensor, torch::Tensor> rope_tables(const torch::Tensor& positions, const torch::Tensor& inv_freq,
                                                    double attention_factor, torch::Dtype dtype,
                                                    const torch::Device& device);

// Rotates x [B, heads, T, d] by cos/sin [B, 1, T, d/2] in the given pair layout
// ("half": pairs (i, i + d/2); "adjacent": pairs (2i, 2i + 1)).
torch::Tensor apply_rope(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                         const std::string& layout);

// Keys (already rotated) and values per layer, preallocated and grown by doubling.
// It remembers the RoPE its keys were rotated with: a forward with a different inv_freq,
// attention factor or Self-Extend setting throws instead of mixing bases (the dynamic-NTK bug
// class: keys cached with an older base). clear() to start over with another RoPE.
// With Self-Extend it also keeps every key rotated by its grouped position floor(k/G): a
// key's two rotations never change, so each is computed once (docs/methods.md §Self-Extend).
class KVCache {
 public:
  KVCache() = default;
  int64_t length() const { return length_; }
  int64_t capacity() const { return keys_.empty() ? 0 : keys_[0].size(2); }
  void reserve(int64_t capacity) { reserve_ = capacity; }
  void clear();

 private:
  friend class LlamaModel;
  friend class BatchedGenerator;              // batched_generation.hpp: one cache per sequence, decoded together
  std::vector<torch::Tensor> keys_, values_;  // [B, Hkv, capacity, d] per layer
  std::vector<torch::Tensor> group_keys_;     // Self-Extend only: keys rotated by floor(k/G)
  int64_t length_ = 0;
  int64_t reserve_ = 0;
  torch::Tensor inv_freq_;  // float64 copy of the RoPE the keys carry
  double attention_factor_ = 1.0;
  SelfExtendOptions self_extend_;
};

struct ModelOptions {
  torch::Device device = torch::kCPU;
  torch::Dtype dtype = torch::kFloat32;  // bf16 / fp16 make sense on CUDA
  AttentionOptions attention;
  // Int8: load_model quantizes the projections and the head after loading (int8_linear.hpp).
  WeightStorage weights = WeightStorage::Float;
};

// How the constructor fills the parameters: Random for training from scratch (normal, std 0.02;
// norms 1; seeded by torch::manual_seed), Uninitialized when load_weights follows (memory only:
// drawing 135M normal numbers took seconds on every real-model load).
enum class WeightInit { Random, Uninitialized };

class LlamaModel : public torch::nn::Module {
 public:
  explicit LlamaModel(formats::ModelConfig config, ModelOptions options = {}, WeightInit init = WeightInit::Random);

  // ids [B, T] int64 -> logits [B, T, V] (float32 for float32 models, else the model dtype).
  // With a cache, the T tokens follow cache->length() cached ones; the cache is extended.
  torch::Tensor forward(const torch::Tensor& ids, const RopeInputs& rope, KVCache* cache = nullptr);
  // The final-normed hidden states [B, T, D]; project() turns (a slice of) them into logits,
  // so callers that need only some rows never hold a [T, V] matrix.
  torch::Tensor forward_hidden(const torch::Tensor& ids, const RopeInputs& rope, KVCache* cache = nullptr);
  torch::Tensor project(const torch::Tensor& hidden);

  // One new token for each of B independent sequences (batched decoding): ids [B, 1]; cos, sin
  // [B, 1, 1, d/2] from rope_tables, so every row has its own position and RoPE. attend(layer,
  // q [B, H, 1, d], k, v [B, Hkv, 1, d]) keeps the new keys and values wherever the caller
  // caches them and returns the attention output [B, H, 1, d]. Returns the final-normed
  // hidden states [B, 1, D]; the layers are the ones forward_hidden runs.
  using StepAttention = std::function<torch::Tensor(int64_t layer, const torch::Tensor& q, const torch::Tensor& k,
                                                    const torch::Tensor& v)>;
  torch::Tensor forward_step(const torch::Tensor& ids, const torch::Tensor& cos, const torch::Tensor& sin,
                             const StepAttention& attend);

  // Rows the MLP takes at once when autograd is off (a long prefill's memory bound).
  static constexpr int64_t kMlpRowChunk = 1024;

  const formats::ModelConfig& config() const { return config_; }
  const ModelOptions& options() const { return options_; }
  void set_attention_options(const AttentionOptions& attention) { options_.attention = attention; }
  // Int8: every projection (q, k, v, o, gate, up, down) and the output head get an int8 copy
  // of their current float weights, which forwards without autograd use from then on (with
  // autograd, training, the float weights are used). The float weights stay: checkpoints,
  // fingerprints and training read them. Needs a float32 model on the CPU (e2llm::Error
  // otherwise). A forward after the float weights changed in place throws until this is
  // called again (each copy records its weight's version). Float drops the copies.
  void set_weight_storage(WeightStorage storage);
  WeightStorage weight_storage() const { return options_.weights; }
  // Bytes of the weights a forward reads: the int8 copies (and scales) where they are used,
  // the float tensors elsewhere (embedding, norms).
  int64_t weight_bytes() const;

  // Parameters under their Hugging Face names (model.layers.0.self_attn.q_proj.weight, ...),
  // in a fixed order; the tensors are the live parameters.
  const std::vector<std::pair<std::string, torch::Tensor>>& hf_parameters() const { return named_; }
  torch::Tensor hf_parameter(const std::string& hf_name) const;  // e2llm::Error if unknown

  // Where the weights came from (set by load_model / load_weights).
  std::string source, format, fingerprint;
  std::optional<formats::Vocabulary> vocab;

 private:
  struct Layer {
    torch::Tensor attn_norm, wq, wk, wv, wo, mlp_norm, w_gate, w_up, w_down;
    Int8Linear q8, k8, v8, o8, gate8, up8, down8;  // set_weight_storage(Int8)
  };
  // x @ weight^T: the int8 copy when one is in use (no autograd), else the float weight.
  torch::Tensor linear(const torch::Tensor& x, const torch::Tensor& weight, const Int8Linear& int8) const;
  torch::Tensor add(const std::string& hf_name, std::vector<int64_t> shape, bool norm, WeightInit init);
  torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& weight) const;
  // Layer l on x [B, T, D]: attention (attend gets q, k rotated by cos / sin, or as projected
  // when cos is undefined: then attend rotates them) and MLP, each with its residual.
  torch::Tensor layer(int64_t l, const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                      const StepAttention& attend);

  formats::ModelConfig config_;
  ModelOptions options_;
  torch::Tensor embed_, norm_, lm_head_;  // lm_head_ aliases embed_ when tied
  Int8Linear head8_;
  std::vector<Layer> layers_;
  std::vector<std::pair<std::string, torch::Tensor>> named_;
};

// Copies every tensor of the checkpoint into the model (F32/F16/BF16 -> model dtype).
// Throws e2llm::Error naming the tensor and the source for a missing, unknown or
// mis-shaped tensor, or a config that differs from the model's.
void load_weights(LlamaModel& model, const formats::Checkpoint& checkpoint);
// A model with the checkpoint's config and weights.
std::shared_ptr<LlamaModel> load_model(const formats::Checkpoint& checkpoint, ModelOptions options = {});
// The model's weights as float32 CPU tensors under Hugging Face names, in the model's RoPE
// layout, with its config and vocabulary (for save_hf_dir). Fingerprint recomputed.
formats::Checkpoint to_checkpoint(const LlamaModel& model);

// Generation with a KV cache: positions are token indices, the RoPE frequencies fixed for
// the whole call. Stops at a stop token (not returned) or after max_new_tokens. Greedy when
// temperature <= 0, else temperature + nucleus (top_p) sampling with std::mt19937_64(seed).
std::vector<int32_t> generate_tokens(LlamaModel& model, const std::vector<int32_t>& prompt,
                                     const formats::RopeFrequencies& rope, const GenerationOptions& options,
                                     const SelfExtendOptions& self_extend = {});
// The sampling rule generate_tokens uses, on one row of logits.
int32_t sample_token(const std::vector<float>& logits, double temperature, double top_p, std::mt19937_64& rng);

// n×n matmul throughput (best of `repeats`) on `device` in `dtype`, on the current thread
// setting for the CPU. The reference for MFU. On a CPU with a reference BLAS it is ~5 GFLOP/s
// on 2 cores, with MKL/OpenBLAS ~180 (docs/pitfalls.md, "Optimized BLAS").
double measure_matmul_gflops(int64_t n = 1024, int repeats = 5, torch::Device device = torch::kCPU,
                             torch::Dtype dtype = torch::kFloat32);
// The same rate per CPU-second of this process (all its threads): insensitive to other
// jobs sharing the machine. The reference BLAS gives ~3, OpenBLAS ~40 and more per core.
double measure_matmul_cpu_gflops(int64_t n = 512, int repeats = 3);
// Throws e2llm::Error when measure_matmul_cpu_gflops() is below `min_gflops` (reference BLAS).
void require_fast_blas(double min_gflops = 15.0);

// torch::set_num_threads; n <= 0 means all cores (std::thread::hardware_concurrency).
// Returns the thread count in effect.
int set_threads(int n);

}  // namespace e2llm::llama
