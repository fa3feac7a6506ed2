// Format-independent checkpoint pieces: dtypes, validation against the config, the RoPE
// layout permutation, fingerprints, dtype conversion, and `convert`.
#include "e2llm/formats/checkpoint.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <atomic>
#include <cstring>
#include <thread>

#include "e2llm/error.hpp"
#include "e2llm/util/package_path.hpp"
#include "e2llm/util/sha256.hpp"
#include "ggml_quants.hpp"
#include "mapped_file.hpp"

namespace e2llm::formats {

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (auto s : shape) n *= s;
  return n;
}

const TensorView& Checkpoint::tensor(const std::string& name) const {
  auto it = tensors.find(name);
  if (it == tensors.end()) throw Error(fmt::format("{}: tensor '{}' is missing", source, name));
  return it->second;
}

void ModelConfig::validate(const std::string& where) const {
  auto bad = [&](const std::string& why) { throw Error(fmt::format("{}: invalid model config: {}", where, why)); };
  constexpr int64_t kMax = int64_t{1} << 24;  // far above any real model; stops absurd sizes early
  const std::pair<const char*, int64_t> sizes[] = {{"dim", dim},
                                                   {"n_layers", n_layers},
                                                   {"n_heads", n_heads},
                                                   {"n_kv_heads", n_kv_heads},
                                                   {"hidden_dim", hidden_dim},
                                                   {"vocab_size", vocab_size},
                                                   {"max_position", max_position}};
  for (const auto& [name, v] : sizes)
    if (v <= 0 || v > (std::string(name) == "max_position" ? (int64_t{1} << 30) : kMax))
      bad(fmt::format("{} = {} is out of range", name, v));
  if (dim % n_heads != 0) bad(fmt::format("dim {} is not a multiple of n_heads {}", dim, n_heads));
  if (n_heads % n_kv_heads != 0) bad(fmt::format("n_heads {} is not a multiple of n_kv_heads {}", n_heads, n_kv_heads));
  if (head_dim() % 2 != 0) bad(fmt::format("head_dim {} is odd", head_dim()));
  if (!(norm_eps > 0.0) || norm_eps > 1.0) bad(fmt::format("norm_eps = {} is out of range", norm_eps));
  if (rope_layout != "half" && rope_layout != "adjacent")
    bad(fmt::format("rope_layout '{}' (expected half or adjacent)", rope_layout));
  if (rope.head_dim != head_dim())
    bad(fmt::format("RoPE dimension {} differs from head_dim {}; partial rotary embeddings are not supported",
                    rope.head_dim, head_dim()));
  try {
    compute_rope(rope, max_position);
  } catch (const Error& e) {
    bad(e.what());
  }
}

nlohmann::json ModelConfig::to_json() const {
  return {{"dim", dim},
          {"n_layers", n_layers},
          {"n_heads", n_heads},
          {"n_kv_heads", n_kv_heads},
          {"hidden_dim", hidden_dim},
          {"vocab_size", vocab_size},
          {"norm_eps", norm_eps},
          {"max_position", max_position},
          {"tied_embeddings", tied_embeddings},
          {"rope_layout", rope_layout},
          {"rope", rope.to_json()},
          {"extra", extra}};
}

namespace {

std::string shape_str(const std::vector<int64_t>& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
  return out;
}

std::map<std::string, std::vector<int64_t>> expected_shapes(const ModelConfig& c) {
  const int64_t hd = c.head_dim();
  std::map<std::string, std::vector<int64_t>> e = {{"model.embed_tokens.weight", {c.vocab_size, c.dim}},
                                                   {"model.norm.weight", {c.dim}}};
  if (!c.tied_embeddings) e["lm_head.weight"] = {c.vocab_size, c.dim};
  for (int64_t i = 0; i < c.n_layers; ++i) {
    const std::string p = fmt::format("model.layers.{}.", i);
    e[p + "self_attn.q_proj.weight"] = {c.n_heads * hd, c.dim};
    e[p + "self_attn.k_proj.weight"] = {c.n_kv_heads * hd, c.dim};
    e[p + "self_attn.v_proj.weight"] = {c.n_kv_heads * hd, c.dim};
    e[p + "self_attn.o_proj.weight"] = {c.dim, c.n_heads * hd};
    e[p + "mlp.gate_proj.weight"] = {c.hidden_dim, c.dim};
    e[p + "mlp.up_proj.weight"] = {c.hidden_dim, c.dim};
    e[p + "mlp.down_proj.weight"] = {c.dim, c.hidden_dim};
    e[p + "input_layernorm.weight"] = {c.dim};
    e[p + "post_attention_layernorm.weight"] = {c.dim};
  }
  return e;
}

}  // namespace

void validate_tensors(const Checkpoint& ck) {
  // Each layer has 9 tensors: more layers than tensors is refused before millions of
  // expected names are listed for a corrupted layer count.
  if (ck.config.n_layers > static_cast<int64_t>(ck.tensors.size()))
    throw Error(fmt::format("{}: the config says {} layers but the checkpoint holds only {} tensors", ck.source,
                            ck.config.n_layers, ck.tensors.size()));
  const auto expected = expected_shapes(ck.config);
  for (const auto& [name, shape] : expected) {
    auto it = ck.tensors.find(name);
    if (it == ck.tensors.end())
      throw Error(fmt::format("{}: tensor '{}' is missing (the config implies it)", ck.source, name));
    if (it->second.shape != shape)
      throw Error(fmt::format("{}: tensor '{}' has shape [{}], the config implies [{}]", ck.source, name,
                              shape_str(it->second.shape), shape_str(shape)));
    if (it->second.nbytes != dtype_bytes(it->second.dtype, it->second.shape))
      throw Error(fmt::format("{}: tensor '{}' has {} bytes, expected {}", ck.source, name, it->second.nbytes,
                              dtype_bytes(it->second.dtype, it->second.shape)));
  }
  for (const auto& [name, t] : ck.tensors)
    if (!expected.count(name))
      throw Error(fmt::format("{}: unexpected tensor '{}' (not part of a llama model with this config)", ck.source,
                              detail::printable(name)));
}

std::string compute_fingerprint(const std::map<std::string, TensorView>& tensors) {
  // Two levels so that the tensors hash in parallel: a 7B model is ~13 GB and one SHA-256
  // stream runs at well under 1 GB/s. Each tensor's bytes get their own digest; the
  // fingerprint hashes (name, dtype, shape, digest) in name order.
  std::vector<const TensorView*> views;
  for (const auto& [name, t] : tensors) views.push_back(&t);
  std::vector<std::string> digests(views.size());
  std::atomic<size_t> next{0};
  auto worker = [&]() {
    for (size_t i = next++; i < views.size(); i = next++) {
      util::Sha256 h;
      h.update(views[i]->data, views[i]->nbytes);
      digests[i] = h.hex_digest();
    }
  };
  size_t total = 0;
  for (const auto* v : views) total += v->nbytes;
  // Threads only pay off for big models; small ones (tests, stories260K) hash inline.
  const size_t n_threads = total < (size_t{64} << 20)
                               ? 1
                               : std::min<size_t>(views.size(), std::max(1u, std::thread::hardware_concurrency()));
  std::vector<std::thread> pool;
  for (size_t i = 1; i < n_threads; ++i) pool.emplace_back(worker);
  worker();
  for (auto& th : pool) th.join();

  util::Sha256 h;
  size_t i = 0;
  for (const auto& [name, t] : tensors) {
    h.update(name).update(std::string_view("\0", 1));
    h.update(std::string_view(dtype_name(t.dtype))).update(std::string_view("\0", 1));
    h.update(shape_str(t.shape)).update(std::string_view("\0", 1));
    h.update(digests[i++]).update(std::string_view("\n", 1));
  }
  return h.hex_digest();
}

TensorView make_tensor(DType dtype, std::vector<int64_t> shape, std::vector<unsigned char> bytes) {
  auto buf = std::make_shared<std::vector<unsigned char>>(std::move(bytes));
  TensorView t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.data = buf->data();
  t.nbytes = buf->size();
  t.owner = buf;
  if (t.nbytes != dtype_bytes(dtype, t.shape))
    throw Error(fmt::format("make_tensor: {} bytes for a {} tensor of shape [{}]", t.nbytes, dtype_name(dtype),
                            shape_str(t.shape)));
  return t;
}

Checkpoint with_rope_layout(const Checkpoint& ck, const std::string& target) {
  if (target != "half" && target != "adjacent")
    throw Error(fmt::format("unknown RoPE layout '{}' (expected half or adjacent)", target));
  Checkpoint out = ck;
  if (ck.config.rope_layout == target) return out;
  const int64_t hd = ck.config.head_dim();
  const bool to_half = target == "half";
  for (int64_t layer = 0; layer < ck.config.n_layers; ++layer) {
    for (const char* proj : {"q_proj", "k_proj"}) {
      const std::string name = fmt::format("model.layers.{}.self_attn.{}.weight", layer, proj);
      const TensorView& src = ck.tensor(name);
      if (src.shape.size() != 2 || src.shape[0] % hd != 0)
        throw Error(fmt::format("{}: tensor '{}' rows are not a multiple of head_dim {}", ck.source, name, hd));
      const size_t row = src.nbytes / static_cast<size_t>(src.shape[0]);  // whole blocks when quantized
      const int64_t heads = src.shape[0] / hd;
      std::vector<unsigned char> dst(src.nbytes);
      const auto* s = static_cast<const unsigned char*>(src.data);
      for (int64_t h = 0; h < heads; ++h) {
        for (int64_t j = 0; j < hd / 2; ++j) {
          // Pair j is rows (2j, 2j+1) in "adjacent" and rows (j, j + hd/2) in "half".
          const int64_t adj[2] = {h * hd + 2 * j, h * hd + 2 * j + 1};
          const int64_t half[2] = {h * hd + j, h * hd + j + hd / 2};
          for (int k = 0; k < 2; ++k) {
            const int64_t from = to_half ? adj[k] : half[k];
            const int64_t to = to_half ? half[k] : adj[k];
            std::memcpy(dst.data() + static_cast<size_t>(to) * row, s + static_cast<size_t>(from) * row, row);
          }
        }
      }
      out.tensors[name] = make_tensor(src.dtype, src.shape, std::move(dst));
    }
  }
  out.config.rope_layout = target;
  out.fingerprint = compute_fingerprint(out.tensors);
  return out;
}

Checkpoint dequantized(const Checkpoint& ck) {
  Checkpoint out = ck;
  bool changed = false;
  for (auto& [name, t] : out.tensors) {
    if (!is_quantized(t.dtype)) continue;
    const std::vector<float> f = to_f32(t);
    std::vector<unsigned char> bytes(f.size() * sizeof(float));
    std::memcpy(bytes.data(), f.data(), bytes.size());
    t = make_tensor(DType::F32, t.shape, std::move(bytes));
    changed = true;
  }
  if (changed) out.fingerprint = compute_fingerprint(out.tensors);
  return out;
}

float f16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);  // inf / nan
  } else if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalize
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400u) == 0);
      bits = sign | (static_cast<uint32_t>(127 - 15 - e) << 23) | ((mant & 0x3ffu) << 13);
    }
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t f32_to_f16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t abs = x & 0x7fffffffu;
  if (abs >= 0x7f800000u) return sign | 0x7c00u | (abs > 0x7f800000u ? 0x200u : 0u);  // inf / nan
  if (abs >= 0x477ff000u) return sign | 0x7c00u;                                      // rounds to inf
  if (abs < 0x38800000u) {                                                            // f16 subnormal or zero
    if (abs < 0x33000000u) return sign;
    const uint32_t mant = (abs & 0x7fffffu) | 0x800000u;
    // value = mant * 2^(exp - 150) = m * 2^-24  =>  m = mant >> (126 - exp)
    const int shift = 126 - static_cast<int>(abs >> 23);
    const uint32_t shifted = mant >> shift;
    // round to nearest even on the dropped bits
    const uint32_t rem = mant & ((1u << shift) - 1u);
    const uint32_t half = 1u << (shift - 1);
    uint32_t r = shifted;
    if (rem > half || (rem == half && (r & 1u))) ++r;
    return sign | static_cast<uint16_t>(r);
  }
  uint32_t r = abs - 0x38000000u;  // rebias exponent 127 -> 15
  const uint32_t rem = r & 0x1fffu;
  r >>= 13;
  if (rem > 0x1000u || (rem == 0x1000u && (r & 1u))) ++r;
  return sign | static_cast<uint16_t>(r);
}

std::vector<float> to_f32(const TensorView& v) {
  const size_t n = static_cast<size_t>(v.numel());
  if (v.nbytes != dtype_bytes(v.dtype, v.shape))
    throw Error(fmt::format("to_f32: tensor has {} bytes, expected {}", v.nbytes, dtype_bytes(v.dtype, v.shape)));
  std::vector<float> out(n);
  if (is_quantized(v.dtype)) {
    dequantize(v.dtype, static_cast<const unsigned char*>(v.data), out.data(), static_cast<int64_t>(n));
  } else if (v.dtype == DType::F32) {
    std::memcpy(out.data(), v.data, v.nbytes);
  } else {
    const auto* p = static_cast<const unsigned char*>(v.data);
    for (size_t i = 0; i < n; ++i) {
      uint16_t h;
      std::memcpy(&h, p + 2 * i, 2);
      if (v.dtype == DType::F16) {
        out[i] = f16_to_f32(h);
      } else {  // BF16 is the top half of an f32
        const uint32_t bits = static_cast<uint32_t>(h) << 16;
        std::memcpy(&out[i], &bits, 4);
      }
    }
  }
  return out;
}

Checkpoint load_checkpoint(const std::filesystem::path& spec) {
  // A package path (pip:<package>/<file>) is found in the Python environment and recorded
  // as written, so that results name it the same way on every machine.
  if (util::is_package_path(spec.string())) {
    Checkpoint ck = load_checkpoint(util::resolve_user_path(spec.string()));
    ck.source = spec.string();
    return ck;
  }
  const std::filesystem::path& path = spec;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    throw Error(
        fmt::format("{}: no such checkpoint (expected a .gguf file or a Hugging Face directory)", path.string()));
  if (std::filesystem::is_directory(path, ec)) return load_hf_dir(path);
  if (path.extension() == ".gguf") return load_gguf(path);
  if (path.filename() == "config.json" || path.extension() == ".safetensors")
    throw Error(fmt::format("{}: pass the Hugging Face model directory ({}), not a file inside it", path.string(),
                            path.parent_path().string()));
  throw Error(
      fmt::format("{}: unknown checkpoint format (expected a .gguf file or a Hugging Face directory with "
                  "config.json and *.safetensors)",
                  path.string()));
}

void convert_to_hf(const std::filesystem::path& in, const std::filesystem::path& out_dir,
                   const std::optional<std::filesystem::path>& tokenizer_model) {
  Checkpoint ck = load_checkpoint(in);
  std::optional<std::filesystem::path> tok = tokenizer_model;
  if (!tok) {
    const auto beside = (std::filesystem::is_directory(in) ? in : in.parent_path()) / "tokenizer.model";
    if (std::filesystem::exists(beside)) tok = beside;
  }
  ck.config.extra["converted_from"] = {{"path", ck.source}, {"format", ck.format}, {"fingerprint", ck.fingerprint}};
  save_hf_dir(ck, out_dir, 0, tok);
}

}  // namespace e2llm::formats
