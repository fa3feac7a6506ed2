// The GGUF v3 writer of `e2llm export` (export.hpp): header, metadata, tensor infos, the
// data section aligned to 32 bytes, streamed to a temp file and renamed. The key and tensor
// names are llama.cpp's for architecture "llama"; gguf.cpp reads the same names back.
#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "e2llm/error.hpp"
#include "e2llm/formats/export.hpp"
#include "e2llm/formats/gguf_reader.hpp"
#include "e2llm/util/atomic_file.hpp"

namespace e2llm::formats {
namespace {

constexpr uint64_t kAlignment = 32;  // GGUF's default general.alignment

// llama.cpp's general.file_type: all F32 = 0, mostly F16 = 1, mostly BF16 = 32; nothing for
// quantized models (llama.cpp only prints it).
std::optional<uint32_t> file_type(const Checkpoint& ck) {
  const DType d = ck.tensor("model.embed_tokens.weight").dtype;
  if (is_quantized(d)) return std::nullopt;
  return d == DType::F16 ? 1 : d == DType::BF16 ? 32 : 0;
}

// Hugging Face name -> GGUF name (the inverse of gguf.cpp's table).
std::string gguf_tensor_name(const std::string& hf) {
  static const std::pair<const char*, const char*> top[] = {{"model.embed_tokens.weight", "token_embd.weight"},
                                                            {"model.norm.weight", "output_norm.weight"},
                                                            {"lm_head.weight", "output.weight"}};
  for (const auto& [h, g] : top)
    if (hf == h) return g;
  static const std::pair<const char*, const char*> layer[] = {
      {"input_layernorm.weight", "attn_norm.weight"},    {"self_attn.q_proj.weight", "attn_q.weight"},
      {"self_attn.k_proj.weight", "attn_k.weight"},      {"self_attn.v_proj.weight", "attn_v.weight"},
      {"self_attn.o_proj.weight", "attn_output.weight"}, {"post_attention_layernorm.weight", "ffn_norm.weight"},
      {"mlp.gate_proj.weight", "ffn_gate.weight"},       {"mlp.up_proj.weight", "ffn_up.weight"},
      {"mlp.down_proj.weight", "ffn_down.weight"}};
  const std::string prefix = "model.layers.";
  if (hf.rfind(prefix, 0) == 0) {
    const size_t dot = hf.find('.', prefix.size());
    if (dot != std::string::npos) {
      const std::string suffix = hf.substr(dot + 1);
      for (const auto& [h, g] : layer)
        if (suffix == h) return "blk." + hf.substr(prefix.size(), dot - prefix.size()) + "." + g;
    }
  }
  throw Error(fmt::format("export: tensor '{}' has no GGUF name", hf));
}

// The metadata section, built in memory (a vocabulary of 128k tokens is a few MB).
class Metadata {
 public:
  void u32(const std::string& key, uint64_t v) {
    if (v > UINT32_MAX) throw Error(fmt::format("export: {} = {} does not fit GGUF's uint32", key, v));
    put_key(key, gguf::Type::U32);
    pod(static_cast<uint32_t>(v));
  }
  void f32(const std::string& key, double v) {
    put_key(key, gguf::Type::F32);
    pod(static_cast<float>(v));
  }
  void str(const std::string& key, const std::string& v) {
    put_key(key, gguf::Type::String);
    string(v);
  }
  void strings(const std::string& key, const std::vector<std::string>& v) {
    array_header(key, gguf::Type::String, v.size());
    for (const auto& s : v) string(s);
  }
  void f32s(const std::string& key, const std::vector<float>& v) {
    array_header(key, gguf::Type::F32, v.size());
    for (float f : v) pod(f);
  }
  void i32s(const std::string& key, const std::vector<int32_t>& v) {
    array_header(key, gguf::Type::I32, v.size());
    for (int32_t x : v) pod(x);
  }
  uint64_t count() const { return count_; }
  const std::string& bytes() const { return bytes_; }

  template <class T>
  void pod(T v) {
    bytes_.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  void string(const std::string& s) {
    pod(static_cast<uint64_t>(s.size()));
    bytes_ += s;
  }

 private:
  void put_key(const std::string& key, gguf::Type type) {
    string(key);
    pod(static_cast<uint32_t>(type));
    ++count_;
  }
  void array_header(const std::string& key, gguf::Type element, size_t n) {
    put_key(key, gguf::Type::Array);
    pod(static_cast<uint32_t>(element));
    pod(static_cast<uint64_t>(n));
  }
  std::string bytes_;
  uint64_t count_ = 0;
};

uint64_t padding(uint64_t n) {
  return (kAlignment - n % kAlignment) % kAlignment;
}

}  // namespace

void save_gguf(const Checkpoint& input, const PortableRope& rope, int64_t window, const Vocabulary& vocab,
               const std::filesystem::path& path) {
  if (!rope.gguf_refusal.empty()) throw Error(fmt::format("cannot write {}: {}", path.string(), rope.gguf_refusal));
  const Checkpoint ck = input.config.rope_layout == "adjacent" ? input : with_rope_layout(input, "adjacent");
  const ModelConfig& c = ck.config;
  const size_t n_vocab = vocab.tokens.size();
  if ((!vocab.scores.empty() && vocab.scores.size() != n_vocab) ||
      (!vocab.types.empty() && vocab.types.size() != n_vocab))
    throw Error(
        fmt::format("cannot write {}: the vocabulary's scores or types do not match its tokens", path.string()));

  Metadata md;
  md.str("general.architecture", "llama");
  md.str("general.name", "e2llm export");
  if (const auto ft = file_type(ck)) md.u32("general.file_type", *ft);
  md.u32("llama.context_length", static_cast<uint64_t>(window));
  md.u32("llama.embedding_length", static_cast<uint64_t>(c.dim));
  md.u32("llama.block_count", static_cast<uint64_t>(c.n_layers));
  md.u32("llama.feed_forward_length", static_cast<uint64_t>(c.hidden_dim));
  md.u32("llama.attention.head_count", static_cast<uint64_t>(c.n_heads));
  md.u32("llama.attention.head_count_kv", static_cast<uint64_t>(c.n_kv_heads));
  md.f32("llama.attention.layer_norm_rms_epsilon", c.norm_eps);
  md.u32("llama.vocab_size", static_cast<uint64_t>(c.vocab_size));
  md.u32("llama.rope.dimension_count", static_cast<uint64_t>(c.head_dim()));
  md.f32("llama.rope.freq_base", rope.gguf_freq_base);
  md.str("llama.rope.scaling.type", rope.gguf_type);
  if (rope.gguf_type == "longrope") {
    md.f32("llama.rope.scaling.attn_factor", rope.gguf_attn_factor);
    md.u32("llama.rope.scaling.original_context_length", static_cast<uint64_t>(rope.gguf_original_context));
  } else if (rope.gguf_type != "none") {
    md.f32("llama.rope.scaling.factor", rope.gguf_factor);
    md.u32("llama.rope.scaling.original_context_length", static_cast<uint64_t>(rope.gguf_original_context));
  }
  md.str("tokenizer.ggml.model", "llama");  // SentencePiece-style pieces, scores and types
  md.strings("tokenizer.ggml.tokens", vocab.tokens);
  md.f32s("tokenizer.ggml.scores", vocab.scores.empty() ? std::vector<float>(n_vocab, 0.0f) : vocab.scores);
  md.i32s("tokenizer.ggml.token_type", vocab.types.empty() ? std::vector<int32_t>(n_vocab, 1) : vocab.types);
  md.u32("tokenizer.ggml.bos_token_id", static_cast<uint64_t>(vocab.bos));
  md.u32("tokenizer.ggml.eos_token_id", static_cast<uint64_t>(vocab.eos));

  // The RoPE's per-pair tensors (llama3, longrope), F32 [d/2], after the weights.
  std::vector<std::pair<std::string, std::vector<float>>> rope_tensors;
  auto add_rope_tensor = [&](const char* name, const std::vector<double>& values) {
    if (values.empty()) return;
    if (static_cast<int64_t>(values.size()) * 2 != c.head_dim())
      throw Error(fmt::format("cannot write {}: {} has {} values for head dimension {}", path.string(), name,
                              values.size(), c.head_dim()));
    rope_tensors.emplace_back(name, std::vector<float>(values.begin(), values.end()));
  };
  add_rope_tensor("rope_freqs.weight", rope.gguf_rope_freqs);
  add_rope_tensor("rope_factors_long.weight", rope.gguf_long_factors);
  add_rope_tensor("rope_factors_short.weight", rope.gguf_short_factors);

  // Tensor infos: GGUF lists dimensions innermost first; offsets are aligned.
  Metadata infos;
  uint64_t offset = 0;
  auto add_info = [&](const std::string& gguf_name, const std::vector<int64_t>& shape, uint32_t ggml_type,
                      uint64_t nbytes) {
    infos.string(gguf_name);
    infos.pod(static_cast<uint32_t>(shape.size()));
    for (auto it = shape.rbegin(); it != shape.rend(); ++it) infos.pod(static_cast<uint64_t>(*it));
    infos.pod(ggml_type);
    infos.pod(offset);
    offset += nbytes + padding(nbytes);
  };
  for (const auto& [name, t] : ck.tensors) {  // sorted by Hugging Face name
    if (t.nbytes != dtype_bytes(t.dtype, t.shape))
      throw Error(
          fmt::format("cannot write {}: tensor '{}' has {} bytes for its shape", path.string(), name, t.nbytes));
    add_info(gguf_tensor_name(name), t.shape, dtype_info(t.dtype).ggml_type, t.nbytes);
  }
  for (const auto& [name, values] : rope_tensors)
    add_info(name, {static_cast<int64_t>(values.size())}, dtype_info(DType::F32).ggml_type, values.size() * 4);

  util::AtomicFileWriter out(path);
  out.write("GGUF", 4);
  const uint32_t version = 3;
  const uint64_t n_tensors = ck.tensors.size() + rope_tensors.size(), n_kv = md.count();
  out.write(&version, 4);
  out.write(&n_tensors, 8);
  out.write(&n_kv, 8);
  out.write(md.bytes().data(), md.bytes().size());
  out.write(infos.bytes().data(), infos.bytes().size());
  out.write_zeros(padding(out.size()));
  for (const auto& [name, t] : ck.tensors) {
    out.write(t.data, t.nbytes);
    out.write_zeros(padding(t.nbytes));
  }
  for (const auto& [name, values] : rope_tensors) {
    out.write(values.data(), values.size() * 4);
    out.write_zeros(padding(values.size() * 4));
  }
  out.commit();
}

}  // namespace e2llm::formats
