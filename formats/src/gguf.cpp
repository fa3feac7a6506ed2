// What a GGUF file means for a llama model: ModelConfig from the llama.* metadata, the
// embedded vocabulary, and the tensors under Hugging Face names. The container itself is
// read by gguf_reader.cpp; the keys this file reads are listed once, in kKeys.
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "e2llm/error.hpp"
#include "e2llm/formats/checkpoint.hpp"
#include "e2llm/formats/gguf_reader.hpp"
#include "mapped_file.hpp"

namespace e2llm::formats {
namespace {

using detail::printable;
using gguf::Type;

// ---- the metadata keys e2llm reads --------------------------------------------------------

enum class Key {
  Architecture,
  ContextLength,
  EmbeddingLength,
  BlockCount,
  FeedForwardLength,
  HeadCount,
  HeadCountKv,
  RmsEpsilon,
  VocabSize,
  RopeDimensionCount,
  RopeFreqBase,
  RopeScalingType,
  RopeScalingFactor,
  RopeScaleLinear,  // the older spelling of a linear factor
  RopeScalingOriginalContext,
  RopeScalingAttnFactor,
  Tokens,
  Scores,
  TokenTypes,
  BosId,
  EosId,
};

// per_arch keys are prefixed with general.architecture and a dot ("llama.context_length").
struct KeyName {
  Key key;
  bool per_arch;
  const char* name;
};
constexpr KeyName kKeys[] = {
    {Key::Architecture, false, "general.architecture"},
    {Key::ContextLength, true, "context_length"},
    {Key::EmbeddingLength, true, "embedding_length"},
    {Key::BlockCount, true, "block_count"},
    {Key::FeedForwardLength, true, "feed_forward_length"},
    {Key::HeadCount, true, "attention.head_count"},
    {Key::HeadCountKv, true, "attention.head_count_kv"},
    {Key::RmsEpsilon, true, "attention.layer_norm_rms_epsilon"},
    {Key::VocabSize, true, "vocab_size"},
    {Key::RopeDimensionCount, true, "rope.dimension_count"},
    {Key::RopeFreqBase, true, "rope.freq_base"},
    {Key::RopeScalingType, true, "rope.scaling.type"},
    {Key::RopeScalingFactor, true, "rope.scaling.factor"},
    {Key::RopeScaleLinear, true, "rope.scale_linear"},
    {Key::RopeScalingOriginalContext, true, "rope.scaling.original_context_length"},
    {Key::RopeScalingAttnFactor, true, "rope.scaling.attn_factor"},
    {Key::Tokens, false, "tokenizer.ggml.tokens"},
    {Key::Scores, false, "tokenizer.ggml.scores"},
    {Key::TokenTypes, false, "tokenizer.ggml.token_type"},
    {Key::BosId, false, "tokenizer.ggml.bos_token_id"},
    {Key::EosId, false, "tokenizer.ggml.eos_token_id"},
};
constexpr const char* kArchitecture = "llama";  // the one general.architecture e2llm reads

// Typed access to the metadata by Key, with one-line errors naming the file and the key.
class Metadata {
 public:
  explicit Metadata(const gguf::File& file) : file_(file) {}

  std::string name(Key k) const {
    const auto* row = std::find_if(std::begin(kKeys), std::end(kKeys), [k](const KeyName& r) { return r.key == k; });
    return row->per_arch ? std::string(kArchitecture) + "." + row->name : row->name;
  }
  const gguf::Value* find(Key k) const { return file_.find(name(k)); }
  bool has(Key k) const { return find(k) != nullptr; }
  [[noreturn]] void bad(Key k, const std::string& why) const {
    throw Error(fmt::format("{}: metadata {} {}", file_.name, name(k), why));
  }

  int64_t integer(Key k) const {
    const gguf::Value* v = find(k);
    if (!v) bad(k, "is missing; the file is not a complete llama GGUF");
    if (v->is_array()) bad(k, "is an array, expected an integer");
    if (const auto* u = std::get_if<uint64_t>(&v->scalar)) {
      if (*u > static_cast<uint64_t>(INT64_MAX)) bad(k, "is out of range");
      return static_cast<int64_t>(*u);
    }
    if (const auto* i = std::get_if<int64_t>(&v->scalar)) return *i;
    bad(k, "is not an integer");
  }
  int64_t integer(Key k, int64_t fallback) const { return has(k) ? integer(k) : fallback; }

  double real(Key k) const {
    const gguf::Value* v = find(k);
    if (!v) bad(k, "is missing");
    if (v->is_array()) bad(k, "is not a number");
    if (const auto* d = std::get_if<double>(&v->scalar)) return *d;
    if (std::holds_alternative<uint64_t>(v->scalar) || std::holds_alternative<int64_t>(v->scalar))
      return static_cast<double>(integer(k));
    bad(k, "is not a number");
  }
  double real(Key k, double fallback) const { return has(k) ? real(k) : fallback; }

  std::string string(Key k) const {
    const gguf::Value* v = find(k);
    if (!v) bad(k, "is missing");
    const auto* s = std::get_if<std::string>(&v->scalar);
    if (v->is_array() || !s) bad(k, "is not a string");
    return *s;
  }

 private:
  const gguf::File& file_;
};

// ---- tensor names -------------------------------------------------------------------------

// GGUF tensor names -> Hugging Face names; per-layer ones are "blk.<i>.<suffix>".
const std::map<std::string, std::string>& top_level_tensor_names() {
  static const std::map<std::string, std::string> names = {{"token_embd.weight", "model.embed_tokens.weight"},
                                                           {"output_norm.weight", "model.norm.weight"},
                                                           {"output.weight", "lm_head.weight"}};
  return names;
}
const std::map<std::string, std::string>& layer_tensor_names() {
  static const std::map<std::string, std::string> names = {
      {"attn_norm.weight", "input_layernorm.weight"},    {"attn_q.weight", "self_attn.q_proj.weight"},
      {"attn_k.weight", "self_attn.k_proj.weight"},      {"attn_v.weight", "self_attn.v_proj.weight"},
      {"attn_output.weight", "self_attn.o_proj.weight"}, {"ffn_norm.weight", "post_attention_layernorm.weight"},
      {"ffn_gate.weight", "mlp.gate_proj.weight"},       {"ffn_up.weight", "mlp.up_proj.weight"},
      {"ffn_down.weight", "mlp.down_proj.weight"}};
  return names;
}

// llama.cpp's RoPE tensors: per-pair divisors of the frequencies, read into the RoPE config
// rather than the weights (docs/interop.md §GGUF). rope_freqs carries Llama 3's llama3
// scaling; the factor pair carries longrope.
constexpr const char* kRopeFreqs = "rope_freqs.weight";
constexpr const char* kRopeFactorsLong = "rope_factors_long.weight";
constexpr const char* kRopeFactorsShort = "rope_factors_short.weight";
bool is_rope_tensor(const std::string& g) {
  return g == kRopeFreqs || g == kRopeFactorsLong || g == kRopeFactorsShort;
}

// The Hugging Face name of a "blk.<i>.<suffix>" tensor, or nothing.
std::optional<std::string> layer_tensor_name(const std::string& g) {
  if (g.rfind("blk.", 0) != 0) return std::nullopt;
  const size_t dot = g.find('.', 4);
  if (dot == std::string::npos) return std::nullopt;
  const std::string layer = g.substr(4, dot - 4);
  const bool numeric = !layer.empty() && layer.size() < 6 &&
                       std::all_of(layer.begin(), layer.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
  if (!numeric) return std::nullopt;
  auto it = layer_tensor_names().find(g.substr(dot + 1));
  if (it == layer_tensor_names().end()) return std::nullopt;
  return fmt::format("model.layers.{}.{}", std::stoi(layer), it->second);
}

std::string hf_tensor_name(const std::string& g, const std::string& file) {
  if (auto it = top_level_tensor_names().find(g); it != top_level_tensor_names().end()) return it->second;
  if (auto name = layer_tensor_name(g)) return *name;
  throw Error(
      fmt::format("{}: unsupported tensor '{}' (not a llama tensor e2llm knows); only plain llama GGUF "
                  "models are supported",
                  file, printable(g)));
}

// ---- the interpretation -------------------------------------------------------------------

void check_architecture(const Metadata& md, const std::string& file) {
  const std::string arch = md.has(Key::Architecture) ? md.string(Key::Architecture) : "";
  if (arch != kArchitecture)
    throw Error(fmt::format("{}: unsupported architecture '{}' (general.architecture); e2llm reads {} GGUF models",
                            file, printable(arch), kArchitecture));
}

// The d/2 floats of a RoPE tensor, or nothing when the file has none by that name.
std::optional<std::vector<double>> rope_tensor(const gguf::File& f, const char* name, int64_t pairs) {
  const auto it =
      std::find_if(f.tensors.begin(), f.tensors.end(), [&](const gguf::TensorInfo& t) { return t.name == name; });
  if (it == f.tensors.end()) return std::nullopt;
  if (it->dtype != DType::F32 || it->shape.size() != 1 || it->shape[0] != pairs)
    throw Error(fmt::format("{}: tensor {} must be {} F32 values (rope.dimension_count / 2)", f.name, name, pairs));
  std::vector<double> out(static_cast<size_t>(pairs));
  for (size_t j = 0; j < out.size(); ++j) {
    float v;
    std::memcpy(&v, f.data + it->offset + 4 * j, 4);
    out[j] = v;
  }
  return out;
}

// RoPE: base, rotated dims and the scaling the file declares (cfg's shape fields set).
// llama.cpp keeps llama3 as the tensor rope_freqs (per-pair divisors, no parameters) and
// longrope as rope.scaling.type = longrope with two factor tensors and rope.scaling.attn_factor.
void read_rope(const Metadata& md, const gguf::File& f, ModelConfig& cfg) {
  const std::string& file = f.name;
  cfg.rope_layout = "adjacent";  // GGUF q/k rows rotate pairs (2i, 2i+1); kept as stored
  cfg.rope.head_dim = md.integer(Key::RopeDimensionCount, cfg.head_dim());
  cfg.rope.base = md.real(Key::RopeFreqBase, 10000.0);  // the format's documented default
  cfg.rope.original_max_position = md.integer(Key::RopeScalingOriginalContext, cfg.max_position);
  if (md.has(Key::RopeScalingType)) {
    try {
      cfg.rope.type = parse_rope_type(md.string(Key::RopeScalingType));
    } catch (const Error& e) {
      throw Error(fmt::format("{}: metadata {}: {}", file, md.name(Key::RopeScalingType), e.what()));
    }
    if (cfg.rope.type == RopeType::Longrope) {
      // No factor key (llama.cpp would scale the positions by it): s is context / original.
      const double s = static_cast<double>(cfg.max_position) / static_cast<double>(cfg.rope.original_max_position);
      cfg.rope.factor = md.real(Key::RopeScalingFactor, std::max(1.0, s));
    } else if (cfg.rope.type != RopeType::Default) {
      cfg.rope.factor = md.real(Key::RopeScalingFactor);
    }
  } else if (md.has(Key::RopeScaleLinear)) {
    cfg.rope.type = RopeType::Linear;
    cfg.rope.factor = md.real(Key::RopeScaleLinear);
  }
  const int64_t pairs = cfg.rope.head_dim / 2;
  auto freqs = rope_tensor(f, kRopeFreqs, pairs);
  auto longs = rope_tensor(f, kRopeFactorsLong, pairs), shorts = rope_tensor(f, kRopeFactorsShort, pairs);
  if (cfg.rope.type == RopeType::Longrope) {
    if (!longs || !shorts)
      throw Error(fmt::format("{}: rope.scaling.type is longrope but tensor {} is missing", file,
                              longs ? kRopeFactorsShort : kRopeFactorsLong));
    cfg.rope.long_factor = std::move(*longs);
    cfg.rope.short_factor = std::move(*shorts);
    if (md.has(Key::RopeScalingAttnFactor)) cfg.rope.attention_factor = md.real(Key::RopeScalingAttnFactor);
    if (!md.has(Key::RopeScalingOriginalContext))
      md.bad(Key::RopeScalingOriginalContext, "is missing for a longrope model");
  } else if (longs || shorts) {
    throw Error(fmt::format("{}: tensor {} needs metadata {} = longrope", file,
                            longs ? kRopeFactorsLong : kRopeFactorsShort, md.name(Key::RopeScalingType)));
  } else if (freqs) {
    // Per-pair divisors applied at every length: longrope's formula with one list and no
    // attention factor. The file does not say which method made them (Llama 3's llama3 does).
    if (cfg.rope.type != RopeType::Default)
      throw Error(
          fmt::format("{}: tensor {} together with rope scaling {} is not supported (llama.cpp would apply "
                      "both); convert from the Hugging Face checkpoint instead",
                      file, kRopeFreqs, rope_type_name(cfg.rope.type)));
    cfg.rope.type = RopeType::Longrope;
    cfg.rope.factor = 1.0;
    cfg.rope.long_factor = *freqs;
    cfg.rope.short_factor = std::move(*freqs);
    cfg.rope.attention_factor = 1.0;
  }
  if (md.has(Key::RopeScalingAttnFactor) && md.real(Key::RopeScalingAttnFactor) != 1.0 &&
      cfg.rope.type != RopeType::Longrope)
    md.bad(Key::RopeScalingAttnFactor,
           "is not supported (llama.cpp multiplies it into YaRN's mscale); convert from the Hugging Face "
           "checkpoint instead");
  if (cfg.rope.type == RopeType::Yarn && !md.has(Key::RopeScalingOriginalContext))
    md.bad(Key::RopeScalingOriginalContext, "is missing for a YaRN model");
  if (cfg.rope.type == RopeType::Llama3)
    md.bad(Key::RopeScalingType, "llama3 is not a llama.cpp scaling type (llama.cpp carries it as tensor rope_freqs)");
}

ModelConfig config_from(const Metadata& md, const gguf::File& file) {
  ModelConfig cfg;
  cfg.dim = md.integer(Key::EmbeddingLength);
  cfg.n_layers = md.integer(Key::BlockCount);
  cfg.hidden_dim = md.integer(Key::FeedForwardLength);
  cfg.n_heads = md.integer(Key::HeadCount);
  cfg.n_kv_heads = md.integer(Key::HeadCountKv, cfg.n_heads);
  cfg.norm_eps = md.real(Key::RmsEpsilon);
  cfg.max_position = md.integer(Key::ContextLength);
  read_rope(md, file, cfg);
  return cfg;
}

// Checks that key k, when present, is an array of n elements of one of `types`.
const gguf::Value* token_array(const Metadata& md, Key k, std::initializer_list<Type> types, size_t n,
                               const char* what) {
  const gguf::Value* v = md.find(k);
  if (!v) return nullptr;
  const bool typed = std::find(types.begin(), types.end(), v->element_type) != types.end();
  if (!v->is_array() || !typed || v->elements.size() != n) md.bad(k, fmt::format("must be {} {}", n, what));
  return v;
}

std::optional<Vocabulary> vocabulary_from(const Metadata& md) {
  const gguf::Value* tokens = md.find(Key::Tokens);
  if (!tokens) return std::nullopt;
  if (!tokens->is_array() || tokens->element_type != Type::String) md.bad(Key::Tokens, "is not an array of strings");
  Vocabulary vocab;
  for (const auto& t : tokens->elements) vocab.tokens.push_back(std::get<std::string>(t));
  const size_t n = vocab.tokens.size();
  if (const auto* scores = token_array(md, Key::Scores, {Type::F32, Type::F64}, n, "floats"))
    for (const auto& s : scores->elements) vocab.scores.push_back(static_cast<float>(std::get<double>(s)));
  if (const auto* types = token_array(md, Key::TokenTypes, {Type::I32, Type::U32}, n, "integers"))
    for (const auto& t : types->elements)
      vocab.types.push_back(std::holds_alternative<int64_t>(t) ? static_cast<int32_t>(std::get<int64_t>(t))
                                                               : static_cast<int32_t>(std::get<uint64_t>(t)));
  const int64_t bos = md.integer(Key::BosId, 1), eos = md.integer(Key::EosId, 2);
  const auto count = static_cast<int64_t>(n);
  if (bos < 0 || bos >= count) md.bad(Key::BosId, fmt::format("{} is out of range for {} tokens", bos, count));
  if (eos < 0 || eos >= count) md.bad(Key::EosId, fmt::format("{} is out of range for {} tokens", eos, count));
  vocab.bos = static_cast<int32_t>(bos);
  vocab.eos = static_cast<int32_t>(eos);
  return vocab;
}

std::map<std::string, TensorView> tensors_from(const gguf::File& f) {
  std::map<std::string, TensorView> tensors;
  for (const auto& info : f.tensors) {
    if (is_rope_tensor(info.name)) continue;  // read into the RoPE config (read_rope)
    TensorView t;
    t.dtype = info.dtype;
    t.shape = info.shape;
    t.data = f.data + info.offset;
    t.nbytes = static_cast<size_t>(info.nbytes);
    t.owner = f.owner;
    const std::string name = hf_tensor_name(info.name, f.name);
    if (!tensors.emplace(name, std::move(t)).second)
      throw Error(
          fmt::format("{}: corrupted file: two tensors map to '{}'; re-download or re-convert it", f.name, name));
  }
  return tensors;
}

}  // namespace

Checkpoint checkpoint_from_gguf(const gguf::File& f) {
  const Metadata md(f);
  check_architecture(md, f.name);
  Checkpoint ck;
  ck.format = "gguf";
  ck.source = f.name;
  ck.config = config_from(md, f);
  ck.vocab = vocabulary_from(md);
  ck.tensors = tensors_from(f);
  ModelConfig& cfg = ck.config;
  const auto embed = ck.tensors.find("model.embed_tokens.weight");
  if (embed == ck.tensors.end()) throw Error(fmt::format("{}: tensor token_embd.weight is missing", f.name));
  if (embed->second.shape.size() == 2) cfg.vocab_size = md.integer(Key::VocabSize, embed->second.shape[0]);
  cfg.tied_embeddings = ck.tensors.count("lm_head.weight") == 0;
  if (ck.vocab && static_cast<int64_t>(ck.vocab->tokens.size()) != cfg.vocab_size)
    throw Error(fmt::format("{}: tokenizer.ggml.tokens has {} tokens but the embedding has {} rows", f.name,
                            ck.vocab->tokens.size(), cfg.vocab_size));
  cfg.validate(f.name);
  validate_tensors(ck);
  ck.fingerprint = compute_fingerprint(ck.tensors);
  return ck;
}

Checkpoint load_gguf(const std::filesystem::path& path) {
  return checkpoint_from_gguf(gguf::read_file(path));
}

}  // namespace e2llm::formats
