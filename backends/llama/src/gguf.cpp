// GGUF v3 reader (the llama.cpp / ggml file format: header, metadata key-values, tensor
// infos, aligned data). Only F32, F16 and BF16 tensors; llama architecture only.
// Every length, count and offset is checked against the file size before use.
#include <fmt/format.h>
#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <variant>

#include "e2llm/error.hpp"
#include "e2llm/llama/checkpoint.hpp"
#include "mapped_file.hpp"

namespace e2llm::llama {
namespace {

using detail::Cursor;

// GGUF metadata value types.
enum GgufType : uint32_t {
  kU8 = 0,
  kI8 = 1,
  kU16 = 2,
  kI16 = 3,
  kU32 = 4,
  kI32 = 5,
  kF32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kU64 = 10,
  kI64 = 11,
  kF64 = 12,
};

// ggml tensor types we can read, and the names of a few we cannot (for the error).
constexpr uint32_t kGgmlF32 = 0, kGgmlF16 = 1, kGgmlBF16 = 30;
std::string ggml_type_name(uint32_t t) {
  static const std::map<uint32_t, const char*> names = {
      {0, "F32"},  {1, "F16"},   {2, "Q4_0"},  {3, "Q4_1"},  {6, "Q5_0"},  {7, "Q5_1"},  {8, "Q8_0"},
      {9, "Q8_1"}, {10, "Q2_K"}, {11, "Q3_K"}, {12, "Q4_K"}, {13, "Q5_K"}, {14, "Q6_K"}, {15, "Q8_K"},
      {24, "I8"},  {25, "I16"},  {26, "I32"},  {27, "I64"},  {28, "F64"},  {30, "BF16"}};
  auto it = names.find(t);
  return it != names.end() ? it->second : fmt::format("ggml type {}", t);
}

// A decoded metadata value. Arrays of scalars/strings are kept decoded; nested arrays are
// validated and skipped (llama metadata has none we need).
struct Value {
  uint32_t type = 0;
  std::variant<uint64_t, int64_t, double, bool, std::string> scalar;
  uint32_t array_type = 0;
  std::vector<std::variant<uint64_t, int64_t, double, bool, std::string>> array;
};

size_t scalar_size(uint32_t t) {
  switch (t) {
    case kU8:
    case kI8:
    case kBool:
      return 1;
    case kU16:
    case kI16:
      return 2;
    case kU32:
    case kI32:
    case kF32:
      return 4;
    case kU64:
    case kI64:
    case kF64:
      return 8;
    default:
      return 0;
  }
}

std::string read_string(Cursor& c, const char* what) {
  const auto len = c.read<uint64_t>(what);
  return std::string(c.bytes(static_cast<size_t>(std::min<uint64_t>(len, SIZE_MAX)), what));
}

std::variant<uint64_t, int64_t, double, bool, std::string> read_scalar(Cursor& c, uint32_t t) {
  switch (t) {
    case kU8:
      return uint64_t{c.read<uint8_t>("metadata value")};
    case kI8:
      return int64_t{c.read<int8_t>("metadata value")};
    case kU16:
      return uint64_t{c.read<uint16_t>("metadata value")};
    case kI16:
      return int64_t{c.read<int16_t>("metadata value")};
    case kU32:
      return uint64_t{c.read<uint32_t>("metadata value")};
    case kI32:
      return int64_t{c.read<int32_t>("metadata value")};
    case kF32: {
      // Keep the decimal the writer meant (1e-5, not 9.99999974e-06): shortest float repr.
      const float f = c.read<float>("metadata value");
      return std::isfinite(f) ? std::stod(fmt::format("{}", f)) : static_cast<double>(f);
    }
    case kBool: {
      const auto b = c.read<uint8_t>("metadata value");
      if (b > 1) c.corrupt(fmt::format("bool metadata value {}", b));
      return b == 1;
    }
    case kString:
      return read_string(c, "metadata string");
    case kU64:
      return c.read<uint64_t>("metadata value");
    case kI64:
      return c.read<int64_t>("metadata value");
    case kF64:
      return c.read<double>("metadata value");
    default:
      c.corrupt(fmt::format("unknown metadata value type {}", t));
  }
}

void skip_array(Cursor& c, int depth);

Value read_value(Cursor& c, uint32_t type) {
  Value v;
  v.type = type;
  if (type != kArray) {
    v.scalar = read_scalar(c, type);
    return v;
  }
  v.array_type = c.read<uint32_t>("array element type");
  const auto count = c.read<uint64_t>("array length");
  // Each element takes at least its scalar size (8 bytes for a string's length): refuse
  // counts the rest of the file cannot hold before allocating anything.
  const size_t min_elem = v.array_type == kString ? 8 : v.array_type == kArray ? 12 : scalar_size(v.array_type);
  if (min_elem == 0) c.corrupt(fmt::format("unknown array element type {}", v.array_type));
  if (count > (c.size() - c.pos()) / min_elem)
    c.corrupt(fmt::format("array of {} elements does not fit in the file", count));
  if (v.array_type == kArray) {
    for (uint64_t i = 0; i < count; ++i) skip_array(c, 1);
    return v;
  }
  v.array.reserve(static_cast<size_t>(count));
  for (uint64_t i = 0; i < count; ++i) v.array.push_back(read_scalar(c, v.array_type));
  return v;
}

void skip_array(Cursor& c, int depth) {
  if (depth > 8) c.corrupt("arrays nested more than 8 deep");
  const auto t = c.read<uint32_t>("array element type");
  const auto count = c.read<uint64_t>("array length");
  const size_t min_elem = t == kString ? 8 : t == kArray ? 12 : scalar_size(t);
  if (min_elem == 0) c.corrupt(fmt::format("unknown array element type {}", t));
  if (count > (c.size() - c.pos()) / min_elem)
    c.corrupt(fmt::format("array of {} elements does not fit in the file", count));
  for (uint64_t i = 0; i < count; ++i) {
    if (t == kArray)
      skip_array(c, depth + 1);
    else if (t == kString)
      read_string(c, "metadata string");
    else
      c.skip(min_elem, "array element");
  }
}

class Metadata {
 public:
  Metadata(std::map<std::string, Value> kv, std::string file) : kv_(std::move(kv)), file_(std::move(file)) {}
  bool has(const std::string& k) const { return kv_.count(k) != 0; }
  const Value* find(const std::string& k) const {
    auto it = kv_.find(k);
    return it == kv_.end() ? nullptr : &it->second;
  }
  [[noreturn]] void bad(const std::string& k, const std::string& why) const {
    throw Error(fmt::format("{}: metadata {} {}", file_, k, why));
  }
  int64_t integer(const std::string& k) const {
    const Value* v = find(k);
    if (!v) bad(k, "is missing; the file is not a complete llama GGUF");
    if (v->type == kArray) bad(k, "is an array, expected an integer");
    if (auto* u = std::get_if<uint64_t>(&v->scalar)) {
      if (*u > static_cast<uint64_t>(INT64_MAX)) bad(k, "is out of range");
      return static_cast<int64_t>(*u);
    }
    if (auto* i = std::get_if<int64_t>(&v->scalar)) return *i;
    bad(k, "is not an integer");
  }
  int64_t integer(const std::string& k, int64_t fallback) const { return has(k) ? integer(k) : fallback; }
  double real(const std::string& k) const {
    const Value* v = find(k);
    if (!v) bad(k, "is missing");
    if (auto* d = std::get_if<double>(&v->scalar); d && v->type != kArray) return *d;
    if (v->type != kArray && !std::holds_alternative<std::string>(v->scalar) &&
        !std::holds_alternative<bool>(v->scalar))
      return static_cast<double>(integer(k));
    bad(k, "is not a number");
  }
  double real(const std::string& k, double fallback) const { return has(k) ? real(k) : fallback; }
  std::string string(const std::string& k) const {
    const Value* v = find(k);
    if (!v) bad(k, "is missing");
    auto* s = std::get_if<std::string>(&v->scalar);
    if (v->type == kArray || !s) bad(k, "is not a string");
    return *s;
  }

 private:
  std::map<std::string, Value> kv_;
  std::string file_;
};

// GGUF tensor names -> Hugging Face names.
std::string hf_tensor_name(const std::string& g, const std::string& file) {
  static const std::map<std::string, std::string> top = {{"token_embd.weight", "model.embed_tokens.weight"},
                                                         {"output_norm.weight", "model.norm.weight"},
                                                         {"output.weight", "lm_head.weight"}};
  if (auto it = top.find(g); it != top.end()) return it->second;
  static const std::map<std::string, std::string> block = {
      {"attn_norm.weight", "input_layernorm.weight"},    {"attn_q.weight", "self_attn.q_proj.weight"},
      {"attn_k.weight", "self_attn.k_proj.weight"},      {"attn_v.weight", "self_attn.v_proj.weight"},
      {"attn_output.weight", "self_attn.o_proj.weight"}, {"ffn_norm.weight", "post_attention_layernorm.weight"},
      {"ffn_gate.weight", "mlp.gate_proj.weight"},       {"ffn_up.weight", "mlp.up_proj.weight"},
      {"ffn_down.weight", "mlp.down_proj.weight"}};
  if (g.rfind("blk.", 0) == 0) {
    const size_t dot = g.find('.', 4);
    const std::string layer = dot == std::string::npos ? "" : g.substr(4, dot - 4);
    const bool numeric = !layer.empty() && layer.size() < 6 &&
                         std::all_of(layer.begin(), layer.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
    if (numeric) {
      if (auto it = block.find(g.substr(dot + 1)); it != block.end())
        return fmt::format("model.layers.{}.{}", std::stoi(layer), it->second);
    }
  }
  throw Error(
      fmt::format("{}: unsupported tensor '{}' (not a llama tensor e2llm knows); only plain llama GGUF "
                  "models are supported",
                  file, detail::printable(g)));
}

}  // namespace

Checkpoint load_gguf(const std::filesystem::path& path) {
  const std::string file = path.string();
  const detail::MappedFile m = detail::map_file(path);
  Cursor c(m.data, m.size, file);

  const auto magic = c.bytes(4, "magic");
  if (magic != "GGUF")
    throw Error(fmt::format("{}: not a GGUF file (magic '{}', expected 'GGUF')", file, detail::printable(magic)));
  const auto version = c.read<uint32_t>("version");
  if (version != 2 && version != 3)  // v2 and v3 share this layout (v1 used 32-bit counts)
    throw Error(fmt::format("{}: unsupported GGUF version {} (supported: 2, 3); re-convert with a recent llama.cpp",
                            file, version));
  const auto n_tensors = c.read<uint64_t>("tensor count");
  const auto n_kv = c.read<uint64_t>("metadata count");
  // A key-value takes >= 12 bytes (key length + type), a tensor info >= 24: refuse counts the
  // file cannot hold before looping over them.
  if (n_kv > (c.size() - c.pos()) / 12) c.corrupt(fmt::format("metadata count {} does not fit in the file", n_kv));
  if (n_tensors > (c.size() - c.pos()) / 24)
    c.corrupt(fmt::format("tensor count {} does not fit in the file", n_tensors));

  std::map<std::string, Value> kv;
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = read_string(c, "metadata key");
    const auto type = c.read<uint32_t>("metadata value type");
    Value v = read_value(c, type);
    if (!kv.emplace(key, std::move(v)).second)
      c.corrupt(fmt::format("duplicate metadata key '{}'", detail::printable(key)));
  }
  const Metadata md(std::move(kv), file);

  struct Info {
    std::string gguf_name;
    std::vector<int64_t> shape;  // PyTorch order
    DType dtype;
    uint64_t offset, nbytes;
  };
  std::vector<Info> infos;
  infos.reserve(static_cast<size_t>(n_tensors));
  std::set<std::string> seen;
  for (uint64_t i = 0; i < n_tensors; ++i) {
    Info info;
    info.gguf_name = read_string(c, "tensor name");
    if (!seen.insert(info.gguf_name).second)
      c.corrupt(fmt::format("duplicate tensor '{}'", detail::printable(info.gguf_name)));
    const auto n_dims = c.read<uint32_t>("tensor dimension count");
    if (n_dims == 0 || n_dims > 4)
      c.corrupt(fmt::format("tensor '{}' has {} dimensions (1..4 allowed)", detail::printable(info.gguf_name), n_dims));
    uint64_t numel = 1;
    std::vector<int64_t> ne(n_dims);
    for (uint32_t d = 0; d < n_dims; ++d) {
      const auto n = c.read<uint64_t>("tensor dimension");
      if (n == 0 || n > (uint64_t{1} << 40) || detail::mul_overflow(numel, n, &numel) || numel > (uint64_t{1} << 48))
        c.corrupt(fmt::format("tensor '{}' has an invalid dimension {}", detail::printable(info.gguf_name), n));
      ne[d] = static_cast<int64_t>(n);
    }
    info.shape.assign(ne.rbegin(), ne.rend());  // GGUF lists the innermost dimension first
    const auto type = c.read<uint32_t>("tensor type");
    if (type == kGgmlF32)
      info.dtype = DType::F32;
    else if (type == kGgmlF16)
      info.dtype = DType::F16;
    else if (type == kGgmlBF16)
      info.dtype = DType::BF16;
    else
      throw Error(
          fmt::format("{}: unsupported tensor type {} for '{}'; convert the model to F16 or F32 "
                      "(e.g. llama.cpp convert_hf_to_gguf.py --outtype f16)",
                      file, ggml_type_name(type), detail::printable(info.gguf_name)));
    info.nbytes = numel * dtype_size(info.dtype);
    info.offset = c.read<uint64_t>("tensor offset");
    infos.push_back(std::move(info));
  }

  const int64_t alignment = md.integer("general.alignment", 32);
  if (alignment <= 0 || (alignment & (alignment - 1)) != 0 || alignment > (1 << 24))
    c.corrupt(fmt::format("general.alignment {} is not a power of two", alignment));
  const uint64_t align = static_cast<uint64_t>(alignment);
  const uint64_t data_start = (static_cast<uint64_t>(c.pos()) + align - 1) / align * align;
  if (data_start > m.size)
    c.corrupt(fmt::format("data section starts at byte {} past the end of the file ({} bytes)", data_start, m.size));
  const uint64_t data_size = m.size - data_start;

  // Tensors must lie inside the data section, be aligned, and not overlap.
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const auto& info : infos) {
    uint64_t end = 0;
    if (info.offset % align != 0)
      c.corrupt(fmt::format("tensor '{}' offset {} is not a multiple of the alignment {}",
                            detail::printable(info.gguf_name), info.offset, align));
    if (detail::add_overflow(info.offset, info.nbytes, &end) || end > data_size)
      throw Error(
          fmt::format("{}: truncated or corrupted file: tensor '{}' needs bytes {}..{} of the data section "
                      "but it has {}; re-download or re-convert it",
                      file, detail::printable(info.gguf_name), info.offset, info.offset + info.nbytes, data_size));
    ranges.emplace_back(info.offset, end);
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i)
    if (ranges[i].first < ranges[i - 1].second) c.corrupt("tensor data ranges overlap");

  // ---- config from llama.* metadata ----
  const std::string arch = md.has("general.architecture") ? md.string("general.architecture") : "";
  if (arch != "llama")
    throw Error(fmt::format("{}: unsupported architecture '{}' (general.architecture); e2llm reads llama GGUF models",
                            file, detail::printable(arch)));
  const std::string p = arch + ".";
  Checkpoint ck;
  ck.format = "gguf";
  ck.source = file;
  ModelConfig& cfg = ck.config;
  cfg.dim = md.integer(p + "embedding_length");
  cfg.n_layers = md.integer(p + "block_count");
  cfg.hidden_dim = md.integer(p + "feed_forward_length");
  cfg.n_heads = md.integer(p + "attention.head_count");
  cfg.n_kv_heads = md.integer(p + "attention.head_count_kv", cfg.n_heads);
  cfg.norm_eps = md.real(p + "attention.layer_norm_rms_epsilon");
  cfg.max_position = md.integer(p + "context_length");
  cfg.rope_layout = "adjacent";  // GGUF q/k rows rotate pairs (2i, 2i+1); kept as stored
  cfg.rope.head_dim = md.integer(p + "rope.dimension_count", cfg.head_dim());
  cfg.rope.base = md.real(p + "rope.freq_base", 10000.0);  // the format's documented default
  cfg.rope.original_max_position = md.integer(p + "rope.scaling.original_context_length", cfg.max_position);
  if (md.has(p + "rope.scaling.type")) {
    const std::string t = md.string(p + "rope.scaling.type");
    try {
      cfg.rope.type = parse_rope_type(t);
    } catch (const Error& e) {
      throw Error(fmt::format("{}: metadata {}rope.scaling.type: {}", file, p, e.what()));
    }
    if (cfg.rope.type != RopeType::Default) cfg.rope.factor = md.real(p + "rope.scaling.factor");
  } else if (md.has(p + "rope.scale_linear")) {  // older files
    cfg.rope.type = RopeType::Linear;
    cfg.rope.factor = md.real(p + "rope.scale_linear");
  }
  if (md.has(p + "rope.scaling.attn_factor") && md.real(p + "rope.scaling.attn_factor") != 1.0)
    throw Error(
        fmt::format("{}: metadata {}rope.scaling.attn_factor is not supported (llama.cpp multiplies it into "
                    "YaRN's mscale); convert from the Hugging Face checkpoint instead",
                    file, p));
  if (cfg.rope.type == RopeType::Yarn && cfg.rope.original_max_position == cfg.max_position &&
      !md.has(p + "rope.scaling.original_context_length"))
    throw Error(
        fmt::format("{}: metadata {}rope.scaling.original_context_length is missing for a YaRN model", file, p));

  // ---- vocabulary ----
  if (const Value* tokens = md.find("tokenizer.ggml.tokens")) {
    if (tokens->type != kArray || tokens->array_type != kString)
      md.bad("tokenizer.ggml.tokens", "is not an array of strings");
    Vocabulary vocab;
    vocab.tokens.reserve(tokens->array.size());
    for (const auto& t : tokens->array) vocab.tokens.push_back(std::get<std::string>(t));
    if (const Value* scores = md.find("tokenizer.ggml.scores")) {
      if (scores->type != kArray || (scores->array_type != kF32 && scores->array_type != kF64) ||
          scores->array.size() != vocab.tokens.size())
        md.bad("tokenizer.ggml.scores", fmt::format("must be {} floats", vocab.tokens.size()));
      for (const auto& s : scores->array) vocab.scores.push_back(static_cast<float>(std::get<double>(s)));
    }
    if (const Value* types = md.find("tokenizer.ggml.token_type")) {
      if (types->type != kArray || types->array.size() != vocab.tokens.size() ||
          (types->array_type != kI32 && types->array_type != kU32))
        md.bad("tokenizer.ggml.token_type", fmt::format("must be {} integers", vocab.tokens.size()));
      for (const auto& t : types->array)
        vocab.types.push_back(std::holds_alternative<int64_t>(t) ? static_cast<int32_t>(std::get<int64_t>(t))
                                                                 : static_cast<int32_t>(std::get<uint64_t>(t)));
    }
    vocab.bos = static_cast<int32_t>(md.integer("tokenizer.ggml.bos_token_id", 1));
    vocab.eos = static_cast<int32_t>(md.integer("tokenizer.ggml.eos_token_id", 2));
    const auto n = static_cast<int32_t>(vocab.tokens.size());
    if (vocab.bos < 0 || vocab.bos >= n || vocab.eos < 0 || vocab.eos >= n)
      md.bad("tokenizer.ggml.bos_token_id/eos_token_id", fmt::format("out of range for {} tokens", n));
    ck.vocab = std::move(vocab);
  }

  // ---- tensors ----
  for (const auto& info : infos) {
    TensorView t;
    t.dtype = info.dtype;
    t.shape = info.shape;
    t.data = m.data + data_start + info.offset;
    t.nbytes = static_cast<size_t>(info.nbytes);
    t.owner = m.owner;
    const std::string name = hf_tensor_name(info.gguf_name, file);
    if (!ck.tensors.emplace(name, std::move(t)).second) c.corrupt(fmt::format("duplicate tensor '{}'", name));
  }
  const auto embed = ck.tensors.find("model.embed_tokens.weight");
  if (embed == ck.tensors.end()) throw Error(fmt::format("{}: tensor token_embd.weight is missing", file));
  if (embed->second.shape.size() == 2) cfg.vocab_size = md.integer(p + "vocab_size", embed->second.shape[0]);
  cfg.tied_embeddings = ck.tensors.count("lm_head.weight") == 0;
  if (ck.vocab && static_cast<int64_t>(ck.vocab->tokens.size()) != cfg.vocab_size)
    throw Error(fmt::format("{}: tokenizer.ggml.tokens has {} tokens but the embedding has {} rows", file,
                            ck.vocab->tokens.size(), cfg.vocab_size));

  cfg.validate(file);
  validate_tensors(ck);
  ck.fingerprint = compute_fingerprint(ck.tensors);
  return ck;
}

}  // namespace e2llm::llama
