// Hugging Face model folders (`[base] source = "hf"`, `e2llm convert`): config.json with its
// rope_scaling, model.safetensors.index.json (the sharded weight map) and e2llm_vocab.json.
// The input is those three files' contents separated by NUL bytes; an empty second or
// third part means the file is absent. The weights are a fixed tiny model written once:
// model.safetensors holds all of it, and two shards hold the same tensors split as
// model-00001-of-00002.safetensors (embedding, final norm, lm_head) and
// model-00002-of-00002.safetensors (layer 0), so that a weight map can point at either.
#include <cstring>

#include "e2llm/formats/checkpoint.hpp"
#include "fuzz_support.hpp"

namespace e2llm::fuzz {
namespace {

namespace fs = std::filesystem;
using formats::TensorView;

// The tiny model's shape (fuzz/make_seeds.py writes configs that match it).
constexpr int64_t kDim = 8, kHidden = 16, kHeads = 2, kKvHeads = 1, kVocab = 6;

TensorView filled(std::vector<int64_t> shape) {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  std::vector<unsigned char> bytes(static_cast<size_t>(n) * 4);
  for (int64_t i = 0; i < n; ++i) {
    const float v = 0.01f * static_cast<float>(i % 17);
    std::memcpy(bytes.data() + 4 * i, &v, 4);
  }
  return formats::make_tensor(formats::DType::F32, std::move(shape), std::move(bytes));
}

const fs::path& model_dir() {
  static const fs::path dir = [] {
    const fs::path d = scratch_dir() / "hf";
    fs::create_directories(d);
    const int64_t kv = kKvHeads * (kDim / kHeads);
    const std::map<std::string, TensorView> outer = {{"model.embed_tokens.weight", filled({kVocab, kDim})},
                                                     {"model.norm.weight", filled({kDim})},
                                                     {"lm_head.weight", filled({kVocab, kDim})}};
    std::map<std::string, TensorView> layer;
    const std::string p = "model.layers.0.";
    layer[p + "input_layernorm.weight"] = filled({kDim});
    layer[p + "post_attention_layernorm.weight"] = filled({kDim});
    layer[p + "self_attn.q_proj.weight"] = filled({kDim, kDim});
    layer[p + "self_attn.k_proj.weight"] = filled({kv, kDim});
    layer[p + "self_attn.v_proj.weight"] = filled({kv, kDim});
    layer[p + "self_attn.o_proj.weight"] = filled({kDim, kDim});
    layer[p + "mlp.gate_proj.weight"] = filled({kHidden, kDim});
    layer[p + "mlp.up_proj.weight"] = filled({kHidden, kDim});
    layer[p + "mlp.down_proj.weight"] = filled({kDim, kHidden});
    formats::write_safetensors(d / "model-00001-of-00002.safetensors", outer);
    formats::write_safetensors(d / "model-00002-of-00002.safetensors", layer);
    std::map<std::string, TensorView> all = outer;
    all.insert(layer.begin(), layer.end());
    formats::write_safetensors(d / "model.safetensors", all);
    return d;
  }();
  return dir;
}

void put_file(const fs::path& path, std::string_view bytes, bool present) {
  if (!present) {
    std::error_code ec;
    fs::remove(path, ec);
    return;
  }
  write_scratch(fs::relative(path, scratch_dir()).string(), bytes);
}

}  // namespace

bool one_input(const uint8_t* data, size_t size) {
  const fs::path& dir = model_dir();
  const auto parts = split_parts(data, size, 3);
  put_file(dir / "config.json", parts[0], true);
  put_file(dir / "model.safetensors.index.json", parts[1], !parts[1].empty());
  put_file(dir / "e2llm_vocab.json", parts[2], !parts[2].empty());
  return expect_contract(
      [&] {
        const formats::Checkpoint ck = formats::load_hf_dir(dir);
        (void)formats::with_rope_layout(ck, "adjacent");
        (void)ck.config.to_json();
      },
      {dir.string()});
}

}  // namespace e2llm::fuzz
