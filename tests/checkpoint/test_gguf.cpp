// Loading the real stories260K GGUF (llama2.c model converted by llama.cpp).
#include <gtest/gtest.h>

#include <cstring>

#include "checkpoint_test_util.hpp"
#include "e2llm/error.hpp"
#include "e2llm/formats/checkpoint.hpp"
#include "e2llm/formats/export.hpp"
#include "e2llm/util/sha256.hpp"

using namespace e2llm::formats;
namespace formats = e2llm::formats;
using namespace e2llm::formats::test;

TEST(Gguf, StoriesConfig) {
  const Checkpoint ck = load_gguf(stories_gguf());
  const ModelConfig& c = ck.config;
  EXPECT_EQ(ck.format, "gguf");
  EXPECT_EQ(ck.source, stories_gguf().string());
  EXPECT_EQ(c.dim, 64);
  EXPECT_EQ(c.n_layers, 5);
  EXPECT_EQ(c.n_heads, 8);
  EXPECT_EQ(c.n_kv_heads, 4);
  EXPECT_EQ(c.hidden_dim, 172);
  EXPECT_EQ(c.vocab_size, 512);
  EXPECT_EQ(c.head_dim(), 8);
  EXPECT_DOUBLE_EQ(c.norm_eps, 1e-5);  // stored as float32; read back as the decimal it was
  EXPECT_EQ(c.max_position, 2048);     // what the file's llama.context_length says
  EXPECT_FALSE(c.tied_embeddings);
  EXPECT_EQ(c.rope_layout, "adjacent");
  EXPECT_EQ(c.rope.type, RopeType::Default);
  EXPECT_DOUBLE_EQ(c.rope.base, 10000.0);
  EXPECT_EQ(c.rope.head_dim, 8);
  EXPECT_EQ(c.rope.original_max_position, 2048);
  EXPECT_EQ(ck.fingerprint.size(), 64u);
}

TEST(Gguf, StoriesTensors) {
  const Checkpoint ck = load_gguf(stories_gguf());
  EXPECT_EQ(ck.tensors.size(), 2u + 1u + 5u * 9u);
  const std::map<std::string, std::vector<int64_t>> shapes = {{"model.embed_tokens.weight", {512, 64}},
                                                              {"lm_head.weight", {512, 64}},
                                                              {"model.norm.weight", {64}},
                                                              {"model.layers.0.self_attn.q_proj.weight", {64, 64}},
                                                              {"model.layers.0.self_attn.k_proj.weight", {32, 64}},
                                                              {"model.layers.4.self_attn.v_proj.weight", {32, 64}},
                                                              {"model.layers.4.self_attn.o_proj.weight", {64, 64}},
                                                              {"model.layers.2.mlp.gate_proj.weight", {172, 64}},
                                                              {"model.layers.2.mlp.up_proj.weight", {172, 64}},
                                                              {"model.layers.2.mlp.down_proj.weight", {64, 172}},
                                                              {"model.layers.3.input_layernorm.weight", {64}},
                                                              {"model.layers.3.post_attention_layernorm.weight", {64}}};
  for (const auto& [name, shape] : shapes) {
    const TensorView& t = ck.tensor(name);
    EXPECT_EQ(t.shape, shape) << name;
    EXPECT_EQ(t.dtype, DType::F32) << name;
    EXPECT_EQ(t.nbytes, static_cast<size_t>(t.numel()) * 4) << name;
  }
  EXPECT_THROW(ck.tensor("model.layers.5.mlp.up_proj.weight"), e2llm::Error);
  // The data points into the file: token_embd is the first tensor of the data section.
  const std::string raw = read_bytes(stories_gguf());
  const TensorView& embed = ck.tensor("model.embed_tokens.weight");
  const size_t data_start = 14176;  // the tensor infos end at 14152; aligned up to 32
  EXPECT_EQ(std::memcmp(embed.data, raw.data() + data_start, embed.nbytes), 0);
  // RMSNorm weights of a trained model are finite and mostly positive.
  const auto norm = to_f32(ck.tensor("model.norm.weight"));
  ASSERT_EQ(norm.size(), 64u);
  for (float v : norm) EXPECT_TRUE(std::isfinite(v));
}

TEST(Gguf, StoriesVocabulary) {
  const Checkpoint ck = load_gguf(stories_gguf());
  ASSERT_TRUE(ck.vocab.has_value());
  const Vocabulary& v = *ck.vocab;
  ASSERT_EQ(v.tokens.size(), 512u);
  ASSERT_EQ(v.scores.size(), 512u);
  ASSERT_EQ(v.types.size(), 512u);
  EXPECT_EQ(v.tokens[0], "<unk>");
  EXPECT_EQ(v.tokens[1], "<s>");
  EXPECT_EQ(v.tokens[2], "</s>");
  EXPECT_EQ(v.tokens[3], "<0x00>");
  EXPECT_EQ(v.tokens[13], "<0x0A>");
  EXPECT_EQ(v.types[0], 2);   // unknown
  EXPECT_EQ(v.types[1], 3);   // control
  EXPECT_EQ(v.types[13], 6);  // byte
  EXPECT_EQ(v.bos, 1);
  EXPECT_EQ(v.eos, 2);
  // Normal pieces use SentencePiece's "▁" for a leading space; scores decrease with rank.
  size_t with_space = 0;
  for (const auto& t : v.tokens) with_space += t.rfind("\xe2\x96\x81", 0) == 0;
  EXPECT_GT(with_space, 50u);
  EXPECT_GT(v.scores[300], v.scores[500]);
}

TEST(Gguf, FingerprintIsStable) {
  const Checkpoint a = load_gguf(stories_gguf());
  const Checkpoint b = load_checkpoint(stories_gguf());
  EXPECT_EQ(a.fingerprint, b.fingerprint);
  EXPECT_EQ(a.fingerprint, compute_fingerprint(a.tensors));
}

TEST(Gguf, LoadCheckpointDispatch) {
  TempDir dir;
  EXPECT_THROW(load_checkpoint(dir / "missing.gguf"), e2llm::Error);
  write_bytes(dir / "model.bin", "xxxx");
  try {
    load_checkpoint(dir / "model.bin");
    FAIL();
  } catch (const e2llm::Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.bin"), std::string::npos);
  }
  EXPECT_THROW(load_checkpoint(dir.path()), e2llm::Error);  // a directory without config.json
}

TEST(Fingerprint, MatchesDocumentedDefinitionAtAnySize) {
  // Small (hashed inline) and > 64 MiB (hashed by several threads): both must match the
  // definition in checkpoint.hpp, computed here one tensor at a time.
  for (size_t big : {size_t{1} << 10, (size_t{2} << 20) + 16384}) {
    std::map<std::string, TensorView> tensors;
    for (int i = 0; i < 8; ++i) {
      std::vector<unsigned char> bytes(big * 4 + static_cast<size_t>(i) * 4);
      for (size_t k = 0; k < bytes.size(); ++k) bytes[k] = static_cast<unsigned char>((k * 131 + i) >> 3);
      const int64_t n = static_cast<int64_t>(bytes.size() / 4);
      tensors["t" + std::to_string(i)] = make_tensor(DType::F32, {n}, std::move(bytes));
    }
    e2llm::util::Sha256 h;
    for (const auto& [name, t] : tensors) {
      const std::string meta = name + std::string(1, '\0') + "F32" + std::string(1, '\0') + std::to_string(t.shape[0]) +
                               std::string(1, '\0');
      h.update(meta);
      e2llm::util::Sha256 inner;
      inner.update(t.data, t.nbytes);
      h.update(inner.hex_digest() + "\n");
    }
    EXPECT_EQ(compute_fingerprint(tensors), h.hex_digest()) << big;
  }
}

// ---- llama3 and longrope in GGUF (docs/interop.md §GGUF) ----------------------------------
// llama.cpp carries both as per-pair divisor tensors: llama3 as rope_freqs.weight (applied at
// every length, no parameters), longrope as rope_factors_long / _short with
// rope.scaling.type = longrope and rope.scaling.attn_factor.

namespace {

RopeConfig stories_rope(RopeType type) {
  RopeConfig c = load_gguf(stories_gguf()).config.rope;  // d = 8, b = 10000
  c.type = type;
  c.factor = 4.0;
  c.original_max_position = 512;
  if (type == RopeType::Longrope) {
    c.long_factor = {1.0, 1.5, 3.0, 4.0};
    c.short_factor = {1.0, 1.0, 1.25, 1.5};
  }
  return c;
}

Checkpoint written_and_read(const RopeConfig& served, const PortableRope& rope, const TempDir& dir) {
  Checkpoint ck = load_gguf(stories_gguf());
  ck.config.rope = served;
  save_gguf(ck, rope, 2048, *ck.vocab, dir / "out.gguf");
  return load_gguf(dir / "out.gguf");
}

void expect_same_frequencies(const RopeConfig& got, const RopeConfig& want, int64_t n) {
  const auto g = compute_rope(got, n), w = compute_rope(want, n);
  ASSERT_EQ(g.inv_freq.size(), w.inv_freq.size());
  for (size_t j = 0; j < w.inv_freq.size(); ++j)
    EXPECT_NEAR(g.inv_freq[j], w.inv_freq[j], 1e-7 * w.inv_freq[j]) << "pair " << j << " at n = " << n;  // F32 tensors
  EXPECT_NEAR(g.attention_factor, w.attention_factor, 1e-7);
}

}  // namespace

TEST(GgufRope, Llama3IsWrittenAsRopeFreqsAndReadAsItsDivisors) {
  TempDir dir;
  const RopeConfig llama3 = stories_rope(RopeType::Llama3);
  const PortableRope rope = portable_rope(llama3);
  EXPECT_EQ(rope.gguf_type, "none");
  ASSERT_EQ(rope.gguf_rope_freqs.size(), 4u);
  const Checkpoint back = written_and_read(llama3, rope, dir);
  // No parameters in the file: what comes back is the per-pair divisors (longrope's formula
  // with one list and attention factor 1), the same frequencies at every length.
  EXPECT_EQ(back.config.rope.type, RopeType::Longrope);
  EXPECT_EQ(back.config.rope.long_factor, back.config.rope.short_factor);
  EXPECT_EQ(back.config.rope.attention_factor, 1.0);
  for (int64_t n : {0, 100, 2048}) expect_same_frequencies(back.config.rope, llama3, n);
  EXPECT_EQ(back.tensors.size(), load_gguf(stories_gguf()).tensors.size());  // not a weight
  EXPECT_EQ(back.fingerprint, load_gguf(stories_gguf()).fingerprint);
}

TEST(GgufRope, LongropeRoundTrips) {
  TempDir dir;
  const RopeConfig longrope = stories_rope(RopeType::Longrope);
  const PortableRope rope = portable_rope(longrope);
  EXPECT_EQ(rope.gguf_type, "longrope");
  const Checkpoint back = written_and_read(longrope, rope, dir);
  const RopeConfig& r = back.config.rope;
  EXPECT_EQ(r.type, RopeType::Longrope);
  EXPECT_EQ(r.original_max_position, 512);
  EXPECT_EQ(r.long_factor, longrope.long_factor);  // exact in float32
  EXPECT_EQ(r.short_factor, longrope.short_factor);
  ASSERT_TRUE(r.attention_factor.has_value());
  for (int64_t n : {0, 512, 513, 2048}) expect_same_frequencies(r, longrope, n);
  EXPECT_NE(compute_rope(r, 512).inv_freq, compute_rope(r, 513).inv_freq);  // short, then long factors
}

TEST(GgufRope, InconsistentRopeTensorsAreOneLineErrors) {
  TempDir dir;
  const RopeConfig plain = stories_rope(RopeType::Default);
  PortableRope stray = portable_rope(plain);
  stray.gguf_long_factors = {1, 2, 3, 4};  // factor tensors without rope.scaling.type = longrope
  stray.gguf_short_factors = {1, 1, 1, 1};
  PortableRope half = portable_rope(stories_rope(RopeType::Longrope));
  half.gguf_short_factors.clear();  // longrope with one of its two tensors
  PortableRope both = portable_rope(stories_rope(RopeType::Linear));
  both.gguf_rope_freqs = {1, 1, 2, 2};  // rope_freqs on top of linear scaling
  for (const auto& [name, rope] : {std::pair{"stray", stray}, {"half", half}, {"both", both}}) {
    SCOPED_TRACE(name);
    Checkpoint ck = load_gguf(stories_gguf());
    save_gguf(ck, rope, 2048, *ck.vocab, dir / "bad.gguf");
    try {
      load_gguf(dir / "bad.gguf");
      FAIL();
    } catch (const e2llm::Error& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find("bad.gguf"), std::string::npos) << m;
      EXPECT_NE(m.find("rope_"), std::string::npos) << m;
      EXPECT_EQ(m.find('\n'), std::string::npos) << m;
    }
  }
}
