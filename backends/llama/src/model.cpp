// LlamaModel: weights, forward with RoPE from explicit positions, KV cache, checkpoint
// import/export, generation and the BLAS sanity check.
#include <time.h>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <numeric>
#include <thread>
#include <tuple>

#include "e2llm/error.hpp"
#include "e2llm/llama/model.hpp"

namespace e2llm::llama {

using torch::Tensor;

// ---- RoPE -------------------------------------------------------------------------------

RopeInputs RopeInputs::make(const formats::RopeFrequencies& freq, int64_t batch, int64_t length, int64_t start,
                            double scale) {
  RopeInputs r;
  auto pos = torch::arange(start, start + length, torch::kFloat64) / scale;
  r.positions = pos.unsqueeze(0).expand({batch, length}).contiguous();
  r.inv_freq = torch::tensor(freq.inv_freq, torch::kFloat64);
  r.attention_factor = freq.attention_factor;
  return r;
}

std::pair<Tensor, Tensor> rope_tables(const Tensor& positions, const Tensor& inv_freq, double attention_factor,
                                      torch::Dtype dtype, const torch::Device& device) {
  // Angles in float64: positions up to ~1e5 times inv_freq need more than float32's 24 bits.
  auto inv = inv_freq.to(torch::kFloat64).to(device);
  auto angles = positions.to(device).to(torch::kFloat64).unsqueeze(-1) * inv;  // [B, T, d/2]
  auto cos = (torch::cos(angles) * attention_factor).to(dtype).unsqueeze(1);
  auto sin = (torch::sin(angles) * attention_factor).to(dtype).unsqueeze(1);
  return {cos, sin};
}

Tensor apply_rope(const Tensor& x, const Tensor& cos, const Tensor& sin, const std::string& layout) {
  const int64_t half = x.size(-1) / 2;
  if (layout == "half") {  // Hugging Face rotate_half: pairs (i, i + d/2)
    auto x1 = x.narrow(-1, 0, half), x2 = x.narrow(-1, half, half);
    return torch::cat({x1 * cos - x2 * sin, x2 * cos + x1 * sin}, -1);
  }
  if (layout == "adjacent") {  // GGUF / Meta: pairs (2i, 2i + 1)
    auto xp = x.unflatten(-1, {half, 2});
    auto x0 = xp.select(-1, 0), x1 = xp.select(-1, 1);
    return torch::stack({x0 * cos - x1 * sin, x0 * sin + x1 * cos}, -1).flatten(-2);
  }
  throw Error("unknown rope_layout '" + layout + "' (expected \"half\" or \"adjacent\")");
}

// ---- KV cache ---------------------------------------------------------------------------

void KVCache::clear() {
  keys_.clear();
  values_.clear();
  group_keys_.clear();
  length_ = 0;
  inv_freq_ = Tensor();
  attention_factor_ = 1.0;
  self_extend_ = {};
}

// ---- model ------------------------------------------------------------------------------

LlamaModel::LlamaModel(formats::ModelConfig config, ModelOptions options, WeightInit init)
    : config_(std::move(config)), options_(options) {
  config_.validate("LlamaModel");
  const auto& c = config_;
  const int64_t hd = c.head_dim();
  embed_ = add("model.embed_tokens.weight", {c.vocab_size, c.dim}, false, init);
  for (int64_t i = 0; i < c.n_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    Layer L;
    L.attn_norm = add(p + "input_layernorm.weight", {c.dim}, true, init);
    L.wq = add(p + "self_attn.q_proj.weight", {c.n_heads * hd, c.dim}, false, init);
    L.wk = add(p + "self_attn.k_proj.weight", {c.n_kv_heads * hd, c.dim}, false, init);
    L.wv = add(p + "self_attn.v_proj.weight", {c.n_kv_heads * hd, c.dim}, false, init);
    L.wo = add(p + "self_attn.o_proj.weight", {c.dim, c.n_heads * hd}, false, init);
    L.mlp_norm = add(p + "post_attention_layernorm.weight", {c.dim}, true, init);
    L.w_gate = add(p + "mlp.gate_proj.weight", {c.hidden_dim, c.dim}, false, init);
    L.w_up = add(p + "mlp.up_proj.weight", {c.hidden_dim, c.dim}, false, init);
    L.w_down = add(p + "mlp.down_proj.weight", {c.dim, c.hidden_dim}, false, init);
    layers_.push_back(L);
  }
  norm_ = add("model.norm.weight", {c.dim}, true, init);
  lm_head_ = c.tied_embeddings ? embed_ : add("lm_head.weight", {c.vocab_size, c.dim}, false, init);
}

Tensor LlamaModel::add(const std::string& hf_name, std::vector<int64_t> shape, bool norm, WeightInit init) {
  auto opts = torch::TensorOptions().dtype(options_.dtype).device(options_.device);
  Tensor t = init == WeightInit::Uninitialized ? torch::empty(shape, opts)
             : norm                            ? torch::ones(shape, opts)
                                               : torch::randn(shape, opts) * 0.02;
  std::string name = hf_name;  // torch::nn::Module names may not contain '.'
  std::replace(name.begin(), name.end(), '.', '_');
  t = register_parameter(name, t);
  named_.emplace_back(hf_name, t);
  return t;
}

Tensor LlamaModel::hf_parameter(const std::string& hf_name) const {
  for (const auto& [name, t] : named_)
    if (name == hf_name) return t;
  throw Error("model has no parameter '" + hf_name + "'");
}

Tensor LlamaModel::rms_norm(const Tensor& x, const Tensor& weight) const {
  auto xf = x.to(torch::kFloat32);
  auto normed = xf * torch::rsqrt(xf.pow(2).mean(-1, true) + config_.norm_eps);
  return normed.to(x.scalar_type()) * weight;
}

Tensor LlamaModel::forward(const Tensor& ids, const RopeInputs& rope, KVCache* cache) {
  return project(forward_hidden(ids, rope, cache));
}

Tensor LlamaModel::project(const Tensor& hidden) {
  return linear(hidden, lm_head_, head8_);
}

// ---- int8 weights -----------------------------------------------------------------------

namespace {

// Each quantized float weight with its int8 copy, in one fixed order.
template <typename Layers, typename Fn>
void for_each_projection(Layers& layers, const Tensor& head, Int8Linear& head8, Fn&& fn) {
  for (auto& L : layers) {
    fn(L.wq, L.q8);
    fn(L.wk, L.k8);
    fn(L.wv, L.v8);
    fn(L.wo, L.o8);
    fn(L.w_gate, L.gate8);
    fn(L.w_up, L.up8);
    fn(L.w_down, L.down8);
  }
  fn(head, head8);
}

}  // namespace

void LlamaModel::set_weight_storage(WeightStorage storage) {
  if (storage == WeightStorage::Float) {
    for_each_projection(layers_, lm_head_, head8_, [](const Tensor&, Int8Linear& q) { q = Int8Linear(); });
    options_.weights = storage;
    return;
  }
  if (!options_.device.is_cpu() || options_.dtype != torch::kFloat32)
    throw Error("int8 weights run on the CPU with dtype float32 (this model: " + options_.device.str() + ", " +
                std::string(c10::toString(options_.dtype)) + "); use weights = \"float\" there");
  for_each_projection(layers_, lm_head_, head8_, [](const Tensor& w, Int8Linear& q) { q = Int8Linear::quantize(w); });
  options_.weights = storage;
}

int64_t LlamaModel::weight_bytes() const {
  int64_t total = 0;
  std::vector<const void*> counted;
  for (const auto& [name, t] : named_) {
    if (std::find(counted.begin(), counted.end(), t.data_ptr()) != counted.end()) continue;  // tied head
    counted.push_back(t.data_ptr());
    total += t.numel() * static_cast<int64_t>(t.element_size());
  }
  if (options_.weights != WeightStorage::Int8) return total;
  // The quantized float weights are not read: count their int8 copies instead (the tied
  // head's float copy is still read as the embedding, a row per token).
  auto& self = const_cast<LlamaModel&>(*this);
  for_each_projection(self.layers_, lm_head_, self.head8_, [&](const Tensor& w, Int8Linear& q) {
    if (!(config_.tied_embeddings && w.data_ptr() == embed_.data_ptr()))
      total -= w.numel() * static_cast<int64_t>(w.element_size());
    total += q.bytes();
  });
  return total;
}

Tensor LlamaModel::linear(const Tensor& x, const Tensor& weight, const Int8Linear& int8) const {
  if (!int8.defined() || torch::GradMode::is_enabled()) return torch::linear(x, weight);
  // The copy was made from the weight at one version: an in-place change since (a training
  // step, an optimizer's update) would leave it stale.
  if (static_cast<int64_t>(weight._version()) != int8.source_version())
    throw Error(
        "the model's float weights changed after they were quantized to int8; call "
        "set_weight_storage(WeightStorage::Int8) again");
  return int8(x);
}

Tensor LlamaModel::layer(int64_t l, const Tensor& x, const Tensor& cos, const Tensor& sin,
                         const StepAttention& attend) {
  const auto& c = config_;
  const auto& L = layers_[l];
  const int64_t B = x.size(0), T = x.size(1), hd = c.head_dim();
  auto h = rms_norm(x, L.attn_norm);
  auto q = linear(h, L.wq, L.q8).view({B, T, c.n_heads, hd}).transpose(1, 2);
  auto k = linear(h, L.wk, L.k8).view({B, T, c.n_kv_heads, hd}).transpose(1, 2);
  auto v = linear(h, L.wv, L.v8).view({B, T, c.n_kv_heads, hd}).transpose(1, 2);
  if (cos.defined()) {
    q = apply_rope(q, cos, sin, c.rope_layout);
    k = apply_rope(k, cos, sin, c.rope_layout);
  }
  auto a = attend(l, q, k, v);  // [B, H, T, hd]
  auto y = x + linear(a.transpose(1, 2).reshape({B, T, c.n_heads * hd}), L.wo, L.o8);
  auto mlp = [&](const Tensor& rows) {
    auto m = rms_norm(rows, L.mlp_norm);
    return rows + linear(torch::silu(linear(m, L.w_gate, L.gate8)) * linear(m, L.w_up, L.up8), L.w_down, L.down8);
  };
  // Without autograd a long input goes through the MLP in row chunks: its three [T, hidden]
  // intermediates would otherwise be the largest tensors of a long prefill.
  if (T <= kMlpRowChunk || torch::GradMode::is_enabled()) return mlp(y);
  auto out = torch::empty_like(y);
  for (int64_t r0 = 0; r0 < T; r0 += kMlpRowChunk) {
    const int64_t n = std::min(kMlpRowChunk, T - r0);
    out.narrow(1, r0, n).copy_(mlp(y.narrow(1, r0, n)));
  }
  return out;
}

Tensor LlamaModel::forward_step(const Tensor& ids, const Tensor& cos, const Tensor& sin, const StepAttention& attend) {
  const auto& c = config_;
  if (ids.dim() != 2 || ids.size(1) != 1) throw Error("LlamaModel::forward_step: ids must be [B, 1]");
  const int64_t B = ids.size(0);
  if (cos.dim() != 4 || cos.size(0) != B || cos.size(2) != 1 || cos.size(3) != c.head_dim() / 2 ||
      sin.sizes() != cos.sizes())
    throw Error("LlamaModel::forward_step: cos and sin must be [B, 1, 1, head_dim/2]");
  auto x = torch::embedding(embed_, ids.to(options_.device).to(torch::kLong));  // [B, 1, D]
  for (int64_t l = 0; l < c.n_layers; ++l) x = layer(l, x, cos, sin, attend);
  return rms_norm(x, norm_);
}

Tensor LlamaModel::forward_hidden(const Tensor& ids, const RopeInputs& rope, KVCache* cache) {
  const auto& c = config_;
  if (ids.dim() != 2) throw Error("LlamaModel::forward: ids must be [B, T]");
  const int64_t B = ids.size(0), T = ids.size(1), hd = c.head_dim();
  if (!rope.positions.defined() || rope.positions.dim() != 2 || rope.positions.size(0) != B ||
      rope.positions.size(1) != T)
    throw Error("LlamaModel::forward: rope.positions must be [B, T] = [" + std::to_string(B) + ", " +
                std::to_string(T) + "]");
  if (!rope.inv_freq.defined() || rope.inv_freq.numel() != hd / 2)
    throw Error("LlamaModel::forward: rope.inv_freq must have head_dim/2 = " + std::to_string(hd / 2) + " entries");
  const auto dev = options_.device;

  auto inv = rope.inv_freq.to(torch::kFloat64).to(dev);
  Tensor cos, sin;
  std::tie(cos, sin) = rope_tables(rope.positions, inv, rope.attention_factor, options_.dtype, dev);

  int64_t past = 0;
  if (cache) {
    if (cache->length_ > 0) {
      if (cache->keys_.empty() || cache->keys_[0].size(0) != B)
        throw Error("KV cache holds another batch size; clear() it first");
      if (!torch::equal(cache->inv_freq_, inv.cpu()) || cache->attention_factor_ != rope.attention_factor ||
          !(cache->self_extend_ == rope.self_extend))
        throw Error(
            "KV cache keys were rotated with another RoPE (inv_freq, attention factor or Self-Extend setting "
            "differ); clear() the cache and recompute the prefix with the new RoPE");
    } else {
      cache->inv_freq_ = inv.cpu().clone();
      cache->attention_factor_ = rope.attention_factor;
      cache->self_extend_ = rope.self_extend;
    }
    past = cache->length_;
    const int64_t need = past + T;
    if (cache->capacity() < need || cache->keys_.size() != static_cast<size_t>(c.n_layers)) {
      const int64_t cap = std::max({need, cache->reserve_, 2 * cache->capacity()});
      auto opts = torch::TensorOptions().dtype(options_.dtype).device(dev);
      auto grow = [&](std::vector<Tensor>& per_layer, int64_t l) {
        auto t = torch::empty({B, c.n_kv_heads, cap, hd}, opts);
        if (past > 0) t.narrow(2, 0, past).copy_(per_layer[l].narrow(2, 0, past));
        if (per_layer.size() <= static_cast<size_t>(l))
          per_layer.push_back(t);
        else
          per_layer[l] = t;
      };
      for (int64_t l = 0; l < c.n_layers; ++l) {
        grow(cache->keys_, l);
        grow(cache->values_, l);
        if (rope.self_extend.enabled()) grow(cache->group_keys_, l);
      }
    }
  }

  // Self-Extend: the grouped rotations, queries at floor(p/G) + w − floor(w/G), keys at floor(k/G).
  Tensor gq_cos, gq_sin, gk_cos, gk_sin;
  const auto& se = rope.self_extend;
  if (se.enabled()) {
    auto index = torch::arange(past, past + T, torch::kFloat64).unsqueeze(0).expand({B, T});
    if (!torch::equal(rope.positions.to(torch::kCPU).to(torch::kFloat64), index))
      throw Error("Self-Extend needs the token indices as positions (start + t, no scale)");
    auto key_pos = torch::floor(index / static_cast<double>(se.group)).to(dev);
    auto query_pos = key_pos + static_cast<double>(se.query_shift());
    std::tie(gq_cos, gq_sin) = rope_tables(query_pos, inv, rope.attention_factor, options_.dtype, dev);
    std::tie(gk_cos, gk_sin) = rope_tables(key_pos, inv, rope.attention_factor, options_.dtype, dev);
  }

  // layer() hands over q and k as projected (no tables given): they are rotated here, by the
  // token positions and, with Self-Extend, also by the grouped ones.
  auto attend = [&](int64_t l, Tensor q, Tensor k, Tensor v) {
    Tensor qg, kg;  // Self-Extend's grouped rotations of the same q and k
    if (se.enabled()) {
      qg = apply_rope(q, gq_cos, gq_sin, c.rope_layout);
      kg = apply_rope(k, gk_cos, gk_sin, c.rope_layout);
    }
    q = apply_rope(q, cos, sin, c.rope_layout);
    k = apply_rope(k, cos, sin, c.rope_layout);
    if (cache) {
      cache->keys_[l].narrow(2, past, T).copy_(k);
      cache->values_[l].narrow(2, past, T).copy_(v);
      k = cache->keys_[l].narrow(2, 0, past + T);
      v = cache->values_[l].narrow(2, 0, past + T);
      if (se.enabled()) {
        cache->group_keys_[l].narrow(2, past, T).copy_(kg);
        kg = cache->group_keys_[l].narrow(2, 0, past + T);
      }
    }
    return se.enabled() ? self_extend_attention(q, qg, k, kg, v, se.window, options_.attention)
                        : attention(q, k, v, options_.attention);  // [B, H, T, hd]
  };
  auto x = torch::embedding(embed_, ids.to(dev).to(torch::kLong));  // [B, T, D]
  for (int64_t l = 0; l < c.n_layers; ++l) x = layer(l, x, Tensor(), Tensor(), attend);
  if (cache) cache->length_ = past + T;
  return rms_norm(x, norm_);
}

// ---- checkpoints ------------------------------------------------------------------------

namespace {

Tensor view_to_tensor(const formats::TensorView& view) {
  std::vector<int64_t> shape(view.shape.begin(), view.shape.end());
  torch::Dtype dt = view.dtype == formats::DType::F32 ? torch::kFloat32 : view.dtype == formats::DType::F16 ? torch::kFloat16
                                                                                          : torch::kBFloat16;
  // from_blob does not copy: the caller copies into the parameter while `view` is alive.
  return torch::from_blob(const_cast<void*>(view.data), shape, torch::TensorOptions().dtype(dt));
}

std::string shape_string(c10::IntArrayRef s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

void check_same_config(const formats::ModelConfig& a, const formats::ModelConfig& b, const std::string& source) {
  auto differs = [&](const char* field, int64_t x, int64_t y) {
    if (x != y)
      throw Error(source + ": config field " + field + " is " + std::to_string(y) + " but the model has " +
                  std::to_string(x) + "; build the model from this checkpoint (load_model)");
  };
  differs("dim", a.dim, b.dim);
  differs("n_layers", a.n_layers, b.n_layers);
  differs("n_heads", a.n_heads, b.n_heads);
  differs("n_kv_heads", a.n_kv_heads, b.n_kv_heads);
  differs("hidden_dim", a.hidden_dim, b.hidden_dim);
  differs("vocab_size", a.vocab_size, b.vocab_size);
  differs("tied_embeddings", a.tied_embeddings, b.tied_embeddings);
  if (a.rope_layout != b.rope_layout)
    throw Error(source + ": rope_layout is '" + b.rope_layout + "' but the model uses '" + a.rope_layout +
                "'; convert with formats::with_rope_layout() or build the model from this checkpoint");
}

}  // namespace

void load_weights(LlamaModel& model, const formats::Checkpoint& checkpoint) {
  const std::string src = checkpoint.source.empty() ? "checkpoint" : checkpoint.source;
  check_same_config(model.config(), checkpoint.config, src);
  for (const auto& [name, view] : checkpoint.tensors) {
    bool known = false;
    for (const auto& [pname, _] : model.hf_parameters()) known = known || pname == name;
    if (!known) throw Error(src + ": unexpected tensor '" + name + "' (not a Llama parameter of this config)");
  }
  torch::NoGradGuard no_grad;
  for (const auto& [name, param] : model.hf_parameters()) {
    auto it = checkpoint.tensors.find(name);
    if (it == checkpoint.tensors.end())
      throw Error(src + ": missing tensor '" + name + "' (expected shape " + shape_string(param.sizes()) + ")");
    const auto& view = it->second;
    if (c10::IntArrayRef(view.shape) != param.sizes())
      throw Error(src + ": tensor '" + name + "' has shape " + shape_string(view.shape) + ", expected " +
                  shape_string(param.sizes()));
    if (view.data == nullptr || view.nbytes != formats::dtype_bytes(view.dtype, view.shape))
      throw Error(src + ": tensor '" + name + "' has " + std::to_string(view.nbytes) + " bytes for shape " +
                  shape_string(view.shape));
    if (formats::is_quantized(view.dtype)) {
      // Dequantized on load (to float32, then to the parameter's dtype by copy_).
      std::vector<float> values = formats::to_f32(view);
      param.copy_(torch::from_blob(values.data(), param.sizes(), torch::kFloat32));
    } else {
      param.copy_(view_to_tensor(view));
    }
  }
  // New float weights: int8 copies (if any) are made again from them.
  if (model.weight_storage() == WeightStorage::Int8) model.set_weight_storage(WeightStorage::Int8);
  model.source = checkpoint.source;
  model.format = checkpoint.format;
  model.fingerprint = checkpoint.fingerprint;
  model.vocab = checkpoint.vocab;
}

std::shared_ptr<LlamaModel> load_model(const formats::Checkpoint& checkpoint, ModelOptions options) {
  // Uninitialized: load_weights overwrites every parameter (it refuses a missing one).
  auto model = std::make_shared<LlamaModel>(checkpoint.config, options, WeightInit::Uninitialized);
  load_weights(*model, checkpoint);
  return model;
}

formats::Checkpoint to_checkpoint(const LlamaModel& model) {
  formats::Checkpoint out;
  out.config = model.config();
  out.vocab = model.vocab;
  out.format = "torch";
  out.source = model.source;
  for (const auto& [name, param] : model.hf_parameters()) {
    if (name == "lm_head.weight" && model.config().tied_embeddings) continue;
    auto t = std::make_shared<Tensor>(param.detach().to(torch::kCPU, torch::kFloat32).contiguous().clone());
    formats::TensorView view;
    view.dtype = formats::DType::F32;
    view.shape.assign(t->sizes().begin(), t->sizes().end());
    view.data = t->data_ptr();
    view.nbytes = static_cast<size_t>(t->numel()) * sizeof(float);
    view.owner = std::shared_ptr<const void>(t, t->data_ptr());
    out.tensors.emplace(name, std::move(view));
  }
  out.fingerprint = formats::compute_fingerprint(out.tensors);
  return out;
}

// ---- generation -------------------------------------------------------------------------

int32_t sample_token(const std::vector<float>& logits, double temperature, double top_p, std::mt19937_64& rng) {
  if (logits.empty()) throw Error("sample_token: empty logits");
  if (temperature <= 0.0)
    return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  const float max_logit = *std::max_element(logits.begin(), logits.end());
  std::vector<double> p(logits.size());
  double total = 0.0;
  for (size_t i = 0; i < p.size(); ++i) total += p[i] = std::exp((logits[i] - max_logit) / temperature);
  std::vector<int32_t> order(p.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return p[a] > p[b]; });
  // Nucleus: the smallest prefix of the sorted distribution whose mass reaches top_p.
  size_t keep = 0;
  double mass = 0.0;
  while (keep < order.size() && (keep == 0 || mass < top_p * total)) mass += p[order[keep++]];
  double u = std::uniform_real_distribution<double>(0.0, mass)(rng);
  for (size_t i = 0; i < keep; ++i) {
    u -= p[order[i]];
    if (u < 0.0) return order[i];
  }
  return order[keep - 1];
}

std::vector<int32_t> generate_tokens(LlamaModel& model, const std::vector<int32_t>& prompt,
                                     const formats::RopeFrequencies& rope, const GenerationOptions& options,
                                     const SelfExtendOptions& self_extend) {
  if (prompt.empty()) throw Error("generate: the prompt is empty (start with the BOS token)");
  torch::NoGradGuard no_grad;
  std::mt19937_64 rng(options.seed);
  KVCache cache;
  cache.reserve(static_cast<int64_t>(prompt.size()) + std::max(options.max_new_tokens, 0));
  std::vector<int64_t> ids(prompt.begin(), prompt.end());
  auto input = torch::tensor(ids, torch::kLong).unsqueeze(0);
  int64_t pos = 0;
  std::vector<int32_t> out;
  for (int32_t step = 0; step < options.max_new_tokens; ++step) {
    const int64_t T = input.size(1);
    RopeInputs inputs = RopeInputs::make(rope, 1, T, pos);
    inputs.self_extend = self_extend;
    auto hidden = model.forward_hidden(input, inputs, &cache);
    pos += T;
    auto logits = model.project(hidden.select(1, T - 1)).squeeze(0).to(torch::kCPU, torch::kFloat32).contiguous();
    std::vector<float> row(logits.data_ptr<float>(), logits.data_ptr<float>() + logits.numel());
    const int32_t next = sample_token(row, options.temperature, options.top_p, rng);
    if (std::find(options.stop_tokens.begin(), options.stop_tokens.end(), next) != options.stop_tokens.end()) break;
    out.push_back(next);
    input = torch::tensor({static_cast<int64_t>(next)}, torch::kLong).unsqueeze(0);
  }
  return out;
}

// ---- machine ----------------------------------------------------------------------------

double measure_matmul_gflops(int64_t n, int repeats, torch::Device device, torch::Dtype dtype) {
  torch::NoGradGuard no_grad;
  const auto opts = torch::TensorOptions().device(device).dtype(dtype);
  auto a = torch::randn({n, n}, opts);
  auto b = torch::randn({n, n}, opts);
  auto c = torch::matmul(a, b);  // warm-up (thread pool, BLAS / cuBLAS init)
  auto sync = [&] {
    if (device.is_cuda()) torch::cuda::synchronize(device.index());
  };
  sync();
  double best = 1e30;
  for (int r = 0; r < std::max(repeats, 1); ++r) {
    auto t0 = std::chrono::steady_clock::now();
    torch::matmul_out(c, a, b);
    sync();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return 2.0 * static_cast<double>(n) * n * n / best / 1e9;
}

double measure_matmul_cpu_gflops(int64_t n, int repeats) {
  torch::NoGradGuard no_grad;
  auto a = torch::randn({n, n});
  auto b = torch::randn({n, n});
  auto c = torch::matmul(a, b);
  auto cpu_now = [] {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
  };
  double best = 1e30;
  for (int r = 0; r < std::max(repeats, 1); ++r) {
    const double t0 = cpu_now();
    torch::matmul_out(c, a, b);
    best = std::min(best, cpu_now() - t0);
  }
  return 2.0 * static_cast<double>(n) * n * n / std::max(best, 1e-9) / 1e9;
}

void require_fast_blas(double min_gflops) {
  // CPU time, not wall time: a machine shared with other jobs must not look like a slow BLAS.
  // Still, on an overloaded machine OpenMP threads that wait for a descheduled peer spend CPU
  // time too (seen: 11 GFLOP per CPU-second with three jobs on two cores), so a low first
  // reading is measured again, up to three times, a moment apart; the best counts.
  double g = 0;
  for (int attempt = 0; attempt < 3 && g < min_gflops; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(200));
    g = std::max(g, measure_matmul_cpu_gflops(512, 3));
  }
  if (g < min_gflops)
    throw Error("LibTorch matmul runs at " + std::to_string(g) +
                " GFLOP per CPU-second: it is on the reference BLAS; run scripts/setup.sh (docs/pitfalls.md)");
}

int set_threads(int n) {
  // 0: the run's cap (a sweep's [run] threads, passed as E2LLM_THREADS), else every core.
  if (n <= 0)
    if (const char* env = std::getenv("E2LLM_THREADS")) n = std::atoi(env);
  if (n <= 0) n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(n);
  return torch::get_num_threads();
}

}  // namespace e2llm::llama
