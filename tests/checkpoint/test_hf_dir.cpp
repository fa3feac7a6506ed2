// GGUF -> Hugging Face directory -> load, RoPE layout permutation, sharding, convert.
#include <gtest/gtest.h>

#include <cstring>
#include <set>

#include "checkpoint_test_util.hpp"
#include "e2llm/error.hpp"
#include "e2llm/formats/checkpoint.hpp"
#include "e2llm/util/files.hpp"

using namespace e2llm::formats;
namespace formats = e2llm::formats;
using namespace e2llm::formats::test;

namespace {

bool same_bytes(const TensorView& a, const TensorView& b) {
  return a.dtype == b.dtype && a.shape == b.shape && a.nbytes == b.nbytes && std::memcmp(a.data, b.data, a.nbytes) == 0;
}

void expect_same_tensors(const Checkpoint& a, const Checkpoint& b) {
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (const auto& [name, t] : a.tensors) {
    auto it = b.tensors.find(name);
    ASSERT_NE(it, b.tensors.end()) << name;
    EXPECT_TRUE(same_bytes(t, it->second)) << name;
  }
}

bool is_qk(const std::string& name) {
  return name.find("q_proj") != std::string::npos || name.find("k_proj") != std::string::npos;
}

}  // namespace

TEST(RopeLayout, PermutesRowsWithinHeads) {
  // One layer, 2 heads of head_dim 4 (q), 1 kv head (k); row r holds the value r.
  Checkpoint ck;
  ck.source = "synthetic";
  ck.config.dim = 8;
  ck.config.n_layers = 1;
  ck.config.n_heads = 2;
  ck.config.n_kv_heads = 1;
  ck.config.rope_layout = "adjacent";
  auto rows = [](int64_t n, int64_t width) {
    std::vector<unsigned char> bytes(static_cast<size_t>(n * width) * 4);
    for (int64_t r = 0; r < n; ++r)
      for (int64_t c = 0; c < width; ++c) {
        const float v = static_cast<float>(r);
        std::memcpy(bytes.data() + static_cast<size_t>(r * width + c) * 4, &v, 4);
      }
    return make_tensor(DType::F32, {n, width}, std::move(bytes));
  };
  ck.tensors["model.layers.0.self_attn.q_proj.weight"] = rows(8, 8);
  ck.tensors["model.layers.0.self_attn.k_proj.weight"] = rows(4, 8);
  ck.tensors["model.layers.0.self_attn.v_proj.weight"] = rows(4, 8);
  const Checkpoint half = with_rope_layout(ck, "half");
  EXPECT_EQ(half.config.rope_layout, "half");
  // half row j <- adjacent row 2j; half row j + d/2 <- adjacent row 2j + 1 (per head).
  const std::vector<float> q_expect = {0, 2, 1, 3, 4, 6, 5, 7};
  const auto q = to_f32(half.tensor("model.layers.0.self_attn.q_proj.weight"));
  for (size_t r = 0; r < 8; ++r) EXPECT_EQ(q[r * 8], q_expect[r]) << r;
  const auto k = to_f32(half.tensor("model.layers.0.self_attn.k_proj.weight"));
  const std::vector<float> k_expect = {0, 2, 1, 3};
  for (size_t r = 0; r < 4; ++r) EXPECT_EQ(k[r * 8 + 7], k_expect[r]) << r;
  // v is shared, not copied; the round trip restores q exactly.
  EXPECT_EQ(half.tensor("model.layers.0.self_attn.v_proj.weight").data,
            ck.tensor("model.layers.0.self_attn.v_proj.weight").data);
  const Checkpoint back = with_rope_layout(half, "adjacent");
  EXPECT_TRUE(same_bytes(back.tensor("model.layers.0.self_attn.q_proj.weight"),
                         ck.tensor("model.layers.0.self_attn.q_proj.weight")));
  EXPECT_THROW(with_rope_layout(ck, "interleaved"), e2llm::Error);
}

TEST(HfDir, GgufRoundTripIsByteIdentical) {
  TempDir dir;
  const Checkpoint gguf = load_gguf(stories_gguf());
  save_hf_dir(gguf, dir.path());
  ASSERT_TRUE(std::filesystem::exists(dir / "config.json"));
  ASSERT_TRUE(std::filesystem::exists(dir / "model.safetensors"));
  EXPECT_FALSE(std::filesystem::exists(dir / "tokenizer.model"));

  const Checkpoint hf = load_hf_dir(dir.path());
  EXPECT_EQ(hf.format, "hf");
  EXPECT_EQ(hf.config.rope_layout, "half");
  EXPECT_EQ(hf.config.dim, 64);
  EXPECT_EQ(hf.config.n_layers, 5);
  EXPECT_EQ(hf.config.n_heads, 8);
  EXPECT_EQ(hf.config.n_kv_heads, 4);
  EXPECT_EQ(hf.config.hidden_dim, 172);
  EXPECT_EQ(hf.config.vocab_size, 512);
  EXPECT_EQ(hf.config.max_position, 2048);
  EXPECT_DOUBLE_EQ(hf.config.norm_eps, 1e-5);
  EXPECT_EQ(hf.config.rope, gguf.config.rope);
  EXPECT_EQ(hf.config.tied_embeddings, false);
  // q/k rows moved, everything else is the same bytes.
  for (const auto& [name, t] : gguf.tensors) EXPECT_EQ(same_bytes(t, hf.tensor(name)), !is_qk(name)) << name;
  const Checkpoint back = with_rope_layout(hf, "adjacent");
  expect_same_tensors(gguf, back);
  EXPECT_EQ(back.fingerprint, gguf.fingerprint);
  EXPECT_NE(hf.fingerprint, gguf.fingerprint);
  // The file's tensors are in the half layout: equal to permuting the GGUF in memory.
  expect_same_tensors(with_rope_layout(gguf, "half"), hf);
  EXPECT_EQ(load_checkpoint(dir.path()).fingerprint, hf.fingerprint);
  // The embedded vocabulary comes back too.
  ASSERT_TRUE(hf.vocab.has_value());
  EXPECT_EQ(hf.vocab->tokens, gguf.vocab->tokens);
  EXPECT_EQ(hf.vocab->scores, gguf.vocab->scores);
  EXPECT_EQ(hf.vocab->types, gguf.vocab->types);
  EXPECT_EQ(hf.vocab->bos, 1);
  EXPECT_EQ(hf.vocab->eos, 2);
  // Without a vocabulary, a later save removes the stale file.
  Checkpoint no_vocab = hf;
  no_vocab.vocab.reset();
  save_hf_dir(no_vocab, dir.path());
  EXPECT_FALSE(load_hf_dir(dir.path()).vocab.has_value());
}

TEST(HfDir, ConfigJsonContents) {
  TempDir dir;
  Checkpoint ck = load_gguf(stories_gguf());
  ck.config.extra = {{"method", "e2llm"}, {"gmax", 20}};
  save_hf_dir(ck, dir.path(), 0, tok512());
  const auto cfg = nlohmann::json::parse(e2llm::util::read_file(dir / "config.json"));
  EXPECT_EQ(cfg["architectures"][0], "LlamaForCausalLM");
  EXPECT_EQ(cfg["model_type"], "llama");
  EXPECT_EQ(cfg["hidden_size"], 64);
  EXPECT_EQ(cfg["intermediate_size"], 172);
  EXPECT_EQ(cfg["num_key_value_heads"], 4);
  EXPECT_EQ(cfg["torch_dtype"], "float32");
  EXPECT_TRUE(cfg["rope_scaling"].is_null());
  EXPECT_DOUBLE_EQ(cfg["rope_theta"].get<double>(), 10000.0);
  EXPECT_EQ(cfg["bos_token_id"], 1);
  EXPECT_EQ(cfg["eos_token_id"], 2);
  EXPECT_EQ(cfg["e2llm"]["gmax"], 20);
  EXPECT_EQ(read_bytes(dir / "tokenizer.model"), read_bytes(tok512()));
  const Checkpoint hf = load_hf_dir(dir.path());
  EXPECT_EQ(hf.config.extra, ck.config.extra);
  // safetensors header: 8-byte aligned, names sorted, __metadata__ format pt.
  std::map<std::string, std::string> meta;
  const auto tensors = read_safetensors(dir / "model.safetensors", &meta);
  EXPECT_EQ(meta["format"], "pt");
  EXPECT_EQ(tensors.size(), hf.tensors.size());
  const std::string raw = read_bytes(dir / "model.safetensors");
  uint64_t header_len;
  std::memcpy(&header_len, raw.data(), 8);
  EXPECT_EQ(header_len % 8, 0u);
  const char last = raw[8 + header_len - 1];
  EXPECT_TRUE(last == ' ' || last == '}');
  const auto header = nlohmann::json::parse(raw.substr(8, header_len));
  EXPECT_TRUE(header.is_object());
}

TEST(HfDir, ScaledRopeRoundTrip) {
  TempDir dir;
  Checkpoint ck = load_gguf(stories_gguf());
  ck.config.max_position = 2048;
  ck.config.rope.type = RopeType::Yarn;
  ck.config.rope.factor = 4;
  ck.config.rope.original_max_position = 512;
  ck.config.rope.beta_fast = 16;
  save_hf_dir(ck, dir.path());
  const auto cfg = nlohmann::json::parse(e2llm::util::read_file(dir / "config.json"));
  EXPECT_EQ(cfg["rope_scaling"]["rope_type"], "yarn");
  EXPECT_EQ(cfg["rope_scaling"]["original_max_position_embeddings"], 512);
  const Checkpoint hf = load_hf_dir(dir.path());
  EXPECT_EQ(hf.config.rope, ck.config.rope);
  EXPECT_EQ(hf.config.max_position, 2048);
}

// transformers' dynamic NTK grows from max_position_embeddings and ignores
// original_max_position_embeddings (docs/interop.md): the saved L goes there.
TEST(HfDir, DynamicNtkSavesItsOriginalWindowAsMaxPosition) {
  TempDir dir;
  Checkpoint ck = load_gguf(stories_gguf());
  ck.config.max_position = 2048;
  ck.config.rope.type = RopeType::DynamicNtk;
  ck.config.rope.factor = 4;
  ck.config.rope.original_max_position = 512;
  save_hf_dir(ck, dir.path());
  const auto cfg = nlohmann::json::parse(e2llm::util::read_file(dir / "config.json"));
  EXPECT_EQ(cfg["rope_scaling"]["rope_type"], "dynamic");
  EXPECT_FALSE(cfg["rope_scaling"].contains("original_max_position_embeddings"));
  EXPECT_EQ(cfg["max_position_embeddings"], 512);
  EXPECT_EQ(load_hf_dir(dir.path()).config.rope, ck.config.rope);
}

TEST(HfDir, ShardedSaveAndLoad) {
  TempDir dir;
  const Checkpoint gguf = load_gguf(stories_gguf());
  save_hf_dir(gguf, dir.path(), 200 * 1024);  // ~1.1 MB of weights -> several shards
  ASSERT_TRUE(std::filesystem::exists(dir / "model.safetensors.index.json"));
  EXPECT_FALSE(std::filesystem::exists(dir / "model.safetensors"));
  const auto index = nlohmann::json::parse(e2llm::util::read_file(dir / "model.safetensors.index.json"));
  std::set<std::string> files;
  for (const auto& [name, f] : index["weight_map"].items()) files.insert(f.get<std::string>());
  EXPECT_GE(files.size(), 5u);
  const std::string n = std::to_string(files.size());
  EXPECT_EQ(*files.begin(), "model-00001-of-0000" + n + ".safetensors");
  size_t total = 0;
  for (const auto& f : files) {
    const auto size = std::filesystem::file_size(dir / f);
    EXPECT_LE(size, 200u * 1024 + 4096) << f;  // data <= limit, plus the JSON header
    total += size;
  }
  EXPECT_GT(total, 1100000u);
  size_t weight_bytes = 0;
  for (const auto& [name, t] : gguf.tensors) weight_bytes += t.nbytes;
  EXPECT_EQ(index["metadata"]["total_size"].get<size_t>(), weight_bytes);
  const Checkpoint hf = load_hf_dir(dir.path());
  expect_same_tensors(with_rope_layout(gguf, "half"), hf);

  // Saving again unsharded replaces the shards.
  save_hf_dir(hf, dir.path());
  EXPECT_FALSE(std::filesystem::exists(dir / "model.safetensors.index.json"));
  EXPECT_FALSE(std::filesystem::exists(dir / *files.begin()));
  expect_same_tensors(hf, load_hf_dir(dir.path()));
}

TEST(HfDir, ShardIndexErrors) {
  TempDir dir;
  save_hf_dir(load_gguf(stories_gguf()), dir.path(), 300 * 1024);
  auto index = nlohmann::json::parse(e2llm::util::read_file(dir / "model.safetensors.index.json"));
  index["weight_map"]["model.norm.weight"] = "../outside.safetensors";
  e2llm::util::write_file_atomic(dir / "model.safetensors.index.json", index.dump());
  EXPECT_THROW(load_hf_dir(dir.path()), e2llm::Error);
  index["weight_map"]["model.norm.weight"] = "model-00001-of-00004.safetensors";
  index["weight_map"]["model.layers.9.mlp.up_proj.weight"] = "model-00001-of-00004.safetensors";
  e2llm::util::write_file_atomic(dir / "model.safetensors.index.json", index.dump());
  EXPECT_THROW(load_hf_dir(dir.path()), e2llm::Error);
}

TEST(HfDir, ConfigErrors) {
  TempDir dir;
  save_hf_dir(load_gguf(stories_gguf()), dir.path());
  const auto good = nlohmann::json::parse(e2llm::util::read_file(dir / "config.json"));
  auto expect_error = [&](nlohmann::json cfg, const std::string& needle) {
    e2llm::util::write_file_atomic(dir / "config.json", cfg.dump());
    try {
      load_hf_dir(dir.path());
      ADD_FAILURE() << "accepted: " << needle;
    } catch (const e2llm::Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(dir.path().string()), std::string::npos) << e.what();
    }
  };
  auto cfg = good;
  cfg.erase("hidden_size");
  expect_error(cfg, "hidden_size");
  cfg = good;
  cfg["rope_scaling"] = {{"rope_type", "proportional"}, {"factor", 4}};
  expect_error(cfg, "rope_scaling.rope_type");
  cfg = good;
  cfg["intermediate_size"] = 100;
  expect_error(cfg, "the config implies");
  cfg = good;
  cfg["model_type"] = "gpt2";
  expect_error(cfg, "model_type");
  e2llm::util::write_file_atomic(dir / "config.json", "{not json");
  EXPECT_THROW(load_hf_dir(dir.path()), e2llm::Error);
}

TEST(HfDir, TiedEmbeddings) {
  TempDir dir;
  Checkpoint ck = load_gguf(stories_gguf());
  ck.tensors.erase("lm_head.weight");
  ck.config.tied_embeddings = true;
  save_hf_dir(ck, dir.path());
  const Checkpoint hf = load_hf_dir(dir.path());
  EXPECT_TRUE(hf.config.tied_embeddings);
  EXPECT_EQ(hf.tensors.count("lm_head.weight"), 0u);
  // Untied config but no lm_head: refused.
  ck.config.tied_embeddings = false;
  EXPECT_THROW(save_hf_dir(ck, dir / "other"), e2llm::Error);
}

TEST(HfDir, F16Checkpoint) {
  TempDir dir;
  Checkpoint ck = load_gguf(stories_gguf());
  for (auto& [name, t] : ck.tensors) {
    const auto f = to_f32(t);
    std::vector<unsigned char> bytes(f.size() * 2);
    for (size_t i = 0; i < f.size(); ++i) {
      const uint16_t h = f32_to_f16(f[i]);
      std::memcpy(bytes.data() + 2 * i, &h, 2);
    }
    t = make_tensor(DType::F16, t.shape, std::move(bytes));
  }
  save_hf_dir(ck, dir.path());
  const auto cfg = nlohmann::json::parse(e2llm::util::read_file(dir / "config.json"));
  EXPECT_EQ(cfg["torch_dtype"], "float16");
  const Checkpoint hf = with_rope_layout(load_hf_dir(dir.path()), "adjacent");
  expect_same_tensors(ck, hf);
  const Checkpoint f32 = load_gguf(stories_gguf());
  const auto a = to_f32(f32.tensor("model.layers.1.mlp.down_proj.weight"));
  const auto b = to_f32(hf.tensor("model.layers.1.mlp.down_proj.weight"));
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], std::abs(a[i]) * 1e-3 + 1e-7);
}

TEST(Convert, GgufToHfWithTokenizer) {
  TempDir dir;
  convert_to_hf(stories_gguf(), dir / "out", tok512());
  EXPECT_TRUE(std::filesystem::exists(dir / "out" / "tokenizer.model"));
  const Checkpoint hf = load_checkpoint(dir / "out");
  const Checkpoint gguf = load_gguf(stories_gguf());
  EXPECT_EQ(hf.config.extra["converted_from"]["fingerprint"], gguf.fingerprint);
  EXPECT_EQ(hf.config.extra["converted_from"]["format"], "gguf");
  expect_same_tensors(gguf, with_rope_layout(hf, "adjacent"));
  EXPECT_THROW(convert_to_hf(stories_gguf(), dir / "bad", dir / "no_such_tokenizer.model"), e2llm::Error);
}

TEST(HfDir, ExtraTensorsInFiles) {
  TempDir dir;
  save_hf_dir(load_gguf(stories_gguf()), dir.path());
  auto tensors = read_safetensors(dir / "model.safetensors");
  const Checkpoint before = load_hf_dir(dir.path());
  // Older transformers saved the RoPE buffer: ignored, it is derived from the config.
  tensors["model.layers.0.self_attn.rotary_emb.inv_freq"] =
      make_tensor(DType::F32, {4}, std::vector<unsigned char>(16));
  write_safetensors(dir / "model.safetensors", tensors);
  const Checkpoint hf = load_hf_dir(dir.path());
  EXPECT_EQ(hf.tensors.count("model.layers.0.self_attn.rotary_emb.inv_freq"), 0u);
  EXPECT_EQ(hf.fingerprint, before.fingerprint);
  // Anything else unknown is refused, naming the tensor.
  tensors["model.layers.0.self_attn.q_norm.weight"] = make_tensor(DType::F32, {8}, std::vector<unsigned char>(32));
  write_safetensors(dir / "model.safetensors", tensors);
  try {
    load_hf_dir(dir.path());
    FAIL();
  } catch (const e2llm::Error& e) {
    EXPECT_NE(std::string(e.what()).find("q_norm"), std::string::npos) << e.what();
  }
}
