// Golden numbers for the RoPE schedules (docs/methods.md §Baselines) plus values worked out by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "e2llm/error.hpp"
#include "e2llm/formats/rope_scaling.hpp"

using namespace e2llm::formats;

namespace {

RopeConfig llama2(RopeType type, double factor) {
  RopeConfig c;
  c.type = type;
  c.factor = factor;
  c.head_dim = 128;
  c.base = 10000.0;
  c.original_max_position = 4096;
  return c;
}

std::vector<double> default_freqs(double base = 10000.0, int64_t d = 128) {
  RopeConfig c;
  c.head_dim = d;
  c.base = base;
  return compute_rope(c).inv_freq;
}

}  // namespace

TEST(RopeDefault, HandValues) {
  const auto f = default_freqs();
  ASSERT_EQ(f.size(), 64u);
  EXPECT_DOUBLE_EQ(f[0], 1.0);
  // 1e4^(-2/128) = 10^(-0.0625); 1e4^(-126/128) = 10^(-3.9375)
  EXPECT_NEAR(f[1], 0.8659643233600653, 1e-15);
  EXPECT_NEAR(f[63], 1.1547819846894582e-4, 1e-18);
  RopeConfig c;
  c.head_dim = 4;
  c.base = 100.0;  // inv = [1, 100^(-1/2)] = [1, 0.1]
  const auto g = compute_rope(c);
  ASSERT_EQ(g.inv_freq.size(), 2u);
  EXPECT_DOUBLE_EQ(g.inv_freq[1], 0.1);
  EXPECT_DOUBLE_EQ(g.attention_factor, 1.0);
}

TEST(RopeLinear, IsDefaultOverFactor) {
  const auto d = default_freqs();
  for (double s : {2.0, 4.0, 8.0}) {
    const auto f = compute_rope(llama2(RopeType::Linear, s));
    for (size_t j = 0; j < d.size(); ++j) EXPECT_DOUBLE_EQ(f.inv_freq[j], d[j] / s);
    EXPECT_DOUBLE_EQ(f.attention_factor, 1.0);
  }
}

TEST(RopeNtk, GoldenBases) {
  EXPECT_NEAR(ntk_base(1e4, 2, 128), 20221.0, 1.0);
  EXPECT_NEAR(ntk_base(1e4, 4, 128), 40890.0, 1.0);
  EXPECT_NEAR(ntk_base(1e4, 8, 128), 82685.0, 1.0);
  // s = 1 leaves the base alone; d = 4: b * s^2.
  EXPECT_DOUBLE_EQ(ntk_base(1e4, 1, 128), 1e4);
  EXPECT_DOUBLE_EQ(ntk_base(100, 3, 4), 900.0);
  const auto f = compute_rope(llama2(RopeType::Ntk, 2));
  const auto expect = default_freqs(ntk_base(1e4, 2, 128));
  for (size_t j = 0; j < expect.size(); ++j) EXPECT_DOUBLE_EQ(f.inv_freq[j], expect[j]);
  EXPECT_DOUBLE_EQ(f.inv_freq[0], 1.0);  // the fastest pair is never changed by NTK
  EXPECT_LT(f.inv_freq[63], default_freqs()[63] / 1.9);
  EXPECT_DOUBLE_EQ(f.attention_factor, 1.0);
}

TEST(RopeDynamicNtk, DefaultUpToOriginalWindow) {
  const auto d = default_freqs();
  for (int64_t n : {0, 1, 2048, 4096}) {
    const auto f = compute_rope(llama2(RopeType::DynamicNtk, 4), n);
    for (size_t j = 0; j < d.size(); ++j) EXPECT_DOUBLE_EQ(f.inv_freq[j], d[j]) << "n=" << n;
  }
}

TEST(RopeDynamicNtk, GrowsWithLength) {
  // s = 2, n = 2L: base' = 1e4 * (2*2 - 1)^(128/126) = 1e4 * 3^(64/63) ≈ 30527.74
  EXPECT_NEAR(dynamic_ntk_base(1e4, 2, 128, 8192, 4096), 30527.7367488067, 1e-6);
  const auto f = compute_rope(llama2(RopeType::DynamicNtk, 2), 8192);
  EXPECT_NEAR(f.inv_freq[1], std::pow(30527.7367488067, -2.0 / 128), 1e-12);
  // n = L(s-1)/s + L/s ... at n = L the ratio is exactly 1.
  EXPECT_DOUBLE_EQ(dynamic_ntk_base(1e4, 8, 128, 4096, 4096), 1e4);
  // At n = sL dynamic NTK reaches base * (s^2 - s + 1)^(d/(d-2)) > static NTK's base.
  EXPECT_GT(dynamic_ntk_base(1e4, 2, 128, 8192, 4096), ntk_base(1e4, 2, 128));
  EXPECT_LT(dynamic_ntk_base(1e4, 2, 128, 4097, 4096), 1e4 * 1.001);
}

TEST(RopeYarn, Llama2CorrectionRange) {
  const auto r = yarn_correction_range(llama2(RopeType::Yarn, 4));
  EXPECT_DOUBLE_EQ(r.low, 20.0);
  EXPECT_DOUBLE_EQ(r.high, 46.0);
}

TEST(RopeYarn, HandComputedRangeStories) {
  // d=64, b=1e4, L=512: cd(32) = 64 ln(512/(64π)) / (2 ln 1e4) = 3.2475 -> 3;
  // cd(1) = 64 ln(512/(2π)) / (2 ln 1e4) = 15.2887 -> 16.
  RopeConfig c;
  c.type = RopeType::Yarn;
  c.factor = 4;
  c.head_dim = 64;
  c.original_max_position = 512;
  const auto r = yarn_correction_range(c);
  EXPECT_DOUBLE_EQ(r.low, 3.0);
  EXPECT_DOUBLE_EQ(r.high, 16.0);
}

TEST(RopeYarn, Mscale) {
  EXPECT_NEAR(yarn_mscale(2), 1.0693, 5e-5);
  EXPECT_NEAR(yarn_mscale(4), 1.1386, 5e-5);
  EXPECT_NEAR(yarn_mscale(8), 1.2079, 5e-5);
  EXPECT_NEAR(yarn_mscale(16), 1.2773, 5e-5);
  EXPECT_DOUBLE_EQ(yarn_mscale(1), 1.0);
  EXPECT_NEAR(compute_rope(llama2(RopeType::Yarn, 8)).attention_factor, 1.2079, 5e-5);
  auto c = llama2(RopeType::Yarn, 8);
  c.attention_factor = 1.5;
  EXPECT_DOUBLE_EQ(compute_rope(c).attention_factor, 1.5);
}

TEST(RopeYarn, RampBlendsExtrapolationAndInterpolation) {
  const double s = 4;
  const auto f = compute_rope(llama2(RopeType::Yarn, s)).inv_freq;
  const auto d = default_freqs();
  for (size_t j = 0; j <= 20; ++j) EXPECT_DOUBLE_EQ(f[j], d[j]) << j;      // high frequency: untouched
  for (size_t j = 46; j < 64; ++j) EXPECT_DOUBLE_EQ(f[j], d[j] / s) << j;  // low frequency: PI
  // j = 33: ramp = (33 - 20) / (46 - 20) = 0.5 -> inv * (0.5 / s + 0.5)
  EXPECT_NEAR(f[33], d[33] * (0.5 / s + 0.5), 1e-18);
  // j = 21: ramp = 1/26
  EXPECT_NEAR(f[21], d[21] * ((1.0 / 26) / s + 25.0 / 26), 1e-15);
}

TEST(RopeType, ParseNamesAndAliases) {
  EXPECT_EQ(parse_rope_type("default"), RopeType::Default);
  EXPECT_EQ(parse_rope_type("none"), RopeType::Default);
  EXPECT_EQ(parse_rope_type("linear"), RopeType::Linear);
  EXPECT_EQ(parse_rope_type("pi"), RopeType::Linear);
  EXPECT_EQ(parse_rope_type("ntk"), RopeType::Ntk);
  EXPECT_EQ(parse_rope_type("dynamic"), RopeType::DynamicNtk);
  EXPECT_EQ(parse_rope_type("dynamic_ntk"), RopeType::DynamicNtk);
  EXPECT_EQ(parse_rope_type("dynamic-ntk"), RopeType::DynamicNtk);
  EXPECT_EQ(parse_rope_type("yarn"), RopeType::Yarn);
  EXPECT_EQ(parse_rope_type("llama3"), RopeType::Llama3);
  EXPECT_EQ(parse_rope_type("longrope"), RopeType::Longrope);
  EXPECT_EQ(parse_rope_type("su"), RopeType::Longrope);  // Phi-3's first 128k configs
  try {
    parse_rope_type("proportional");
    FAIL();
  } catch (const e2llm::Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("proportional"), std::string::npos);
    for (const char* n : {"default", "linear", "ntk", "dynamic", "yarn", "llama3", "longrope"})
      EXPECT_NE(m.find(n), std::string::npos);
  }
  for (auto t : {RopeType::Default, RopeType::Linear, RopeType::Ntk, RopeType::DynamicNtk, RopeType::Yarn,
                 RopeType::Llama3, RopeType::Longrope})
    EXPECT_EQ(parse_rope_type(rope_type_name(t)), t);
}

TEST(RopeConfigCheck, RejectsBadValues) {
  auto c = llama2(RopeType::Linear, 0.5);
  EXPECT_THROW(compute_rope(c), e2llm::Error);
  c = llama2(RopeType::Default, 1);
  c.head_dim = 7;
  EXPECT_THROW(compute_rope(c), e2llm::Error);
  c = llama2(RopeType::Yarn, 2);
  c.original_max_position = 0;
  EXPECT_THROW(compute_rope(c), e2llm::Error);
  c = llama2(RopeType::Ntk, std::nan(""));
  EXPECT_THROW(compute_rope(c), e2llm::Error);
}

TEST(RopeHf, ReadsRopeScaling) {
  nlohmann::json hf = {{"hidden_size", 4096},
                       {"num_attention_heads", 32},
                       {"max_position_embeddings", 4096},
                       {"rope_theta", 10000.0},
                       {"rope_scaling", {{"type", "linear"}, {"factor", 4.0}}}};
  auto c = rope_config_from_hf(hf);
  EXPECT_EQ(c.type, RopeType::Linear);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_DOUBLE_EQ(c.factor, 4.0);
  EXPECT_EQ(c.original_max_position, 4096);

  hf["rope_scaling"] = nullptr;
  EXPECT_EQ(rope_config_from_hf(hf).type, RopeType::Default);
  hf.erase("rope_theta");
  EXPECT_DOUBLE_EQ(rope_config_from_hf(hf).base, 10000.0);

  hf["max_position_embeddings"] = 16384;
  hf["rope_scaling"] = {{"rope_type", "yarn"},
                        {"factor", 4},
                        {"original_max_position_embeddings", 4096},
                        {"beta_fast", 16},
                        {"attention_factor", 1.25}};
  c = rope_config_from_hf(hf);
  EXPECT_EQ(c.type, RopeType::Yarn);
  EXPECT_EQ(c.original_max_position, 4096);
  EXPECT_DOUBLE_EQ(c.beta_fast, 16.0);
  EXPECT_DOUBLE_EQ(c.beta_slow, 1.0);
  EXPECT_EQ(c.attention_factor, 1.25);

  // YaRN without a factor: max_position_embeddings / original (16384 / 4096).
  hf["rope_scaling"] = {{"rope_type", "yarn"}, {"original_max_position_embeddings", 4096}};
  c = rope_config_from_hf(hf);
  EXPECT_DOUBLE_EQ(c.factor, 4.0);
  EXPECT_FALSE(c.attention_factor.has_value());
  hf["rope_scaling"]["truncate"] = false;
  EXPECT_THROW(rope_config_from_hf(hf), e2llm::Error);
}

TEST(RopeHf, ReadsRopeParameters) {
  nlohmann::json hf = {{"hidden_size", 2048},
                       {"num_attention_heads", 32},
                       {"head_dim", 64},
                       {"max_position_embeddings", 8192},
                       {"rope_parameters", {{"rope_type", "dynamic"}, {"factor", 2.0}, {"rope_theta", 500000.0}}}};
  const auto c = rope_config_from_hf(hf);
  EXPECT_EQ(c.type, RopeType::DynamicNtk);
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_DOUBLE_EQ(c.base, 500000.0);
  EXPECT_EQ(c.original_max_position, 8192);
  hf["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 1e6}};
  EXPECT_EQ(rope_config_from_hf(hf).type, RopeType::Default);
  EXPECT_DOUBLE_EQ(rope_config_from_hf(hf).base, 1e6);
}

TEST(RopeHf, ErrorsNameTheField) {
  nlohmann::json hf = {{"hidden_size", 4096},
                       {"num_attention_heads", 32},
                       {"max_position_embeddings", 4096},
                       {"rope_scaling", {{"rope_type", "proportional"}, {"factor", 8.0}}}};
  try {
    rope_config_from_hf(hf);
    FAIL();
  } catch (const e2llm::Error& e) {
    EXPECT_NE(std::string(e.what()).find("rope_scaling.rope_type"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("proportional"), std::string::npos) << e.what();
  }
  hf["rope_scaling"] = {{"type", "linear"}};
  try {
    rope_config_from_hf(hf);
    FAIL();
  } catch (const e2llm::Error& e) {
    EXPECT_NE(std::string(e.what()).find("rope_scaling.factor"), std::string::npos) << e.what();
  }
  hf["rope_scaling"] = {{"type", "linear"}, {"factor", "four"}};
  EXPECT_THROW(rope_config_from_hf(hf), e2llm::Error);
  hf.erase("max_position_embeddings");
  EXPECT_THROW(rope_config_from_hf(hf), e2llm::Error);
}

// Where transformers takes L from (docs/interop.md): dynamic NTK only from
// max_position_embeddings; YaRN from a top-level original_max_position_embeddings first.
TEST(RopeHf, OriginalWindowAsTransformersReadsIt) {
  nlohmann::json hf = {
      {"hidden_size", 4096},
      {"num_attention_heads", 32},
      {"max_position_embeddings", 8192},
      {"rope_scaling", {{"rope_type", "dynamic"}, {"factor", 2.0}, {"original_max_position_embeddings", 4096}}}};
  EXPECT_EQ(rope_config_from_hf(hf).original_max_position, 8192);
  hf["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 2.0}, {"original_max_position_embeddings", 4096}};
  EXPECT_EQ(rope_config_from_hf(hf).original_max_position, 4096);
  hf["original_max_position_embeddings"] = 2048;
  EXPECT_EQ(rope_config_from_hf(hf).original_max_position, 2048);
  hf["rope_scaling"].erase("factor");  // then the factor is max_position_embeddings / that L
  EXPECT_DOUBLE_EQ(rope_config_from_hf(hf).factor, 4.0);
  hf["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 2.0}, {"original_max_position_embeddings", 4096}};
  EXPECT_EQ(rope_config_from_hf(hf).original_max_position, 4096);  // linear: only L for e2llm
}

// ---- llama3 (Llama 3.1; docs/methods.md §Baselines) -------------------------------------

// Llama 3.1's block: d = 128, b = 500000, s = 8, low 1, high 4, L = 8192.
RopeConfig llama31() {
  RopeConfig c;
  c.type = RopeType::Llama3;
  c.factor = 8.0;
  c.head_dim = 128;
  c.base = 500000.0;
  c.original_max_position = 8192;
  c.low_freq_factor = 1.0;
  c.high_freq_factor = 4.0;
  return c;
}

TEST(RopeLlama3, ThreeBandsByWavelength) {
  const auto c = llama31();
  const auto d = default_freqs(500000.0, 128);
  const auto f = compute_rope(c);
  ASSERT_EQ(f.inv_freq.size(), 64u);
  EXPECT_DOUBLE_EQ(f.attention_factor, 1.0);
  int high = 0, low = 0, mid = 0;
  for (size_t j = 0; j < d.size(); ++j) {
    const double wavelen = 2 * M_PI / d[j];
    if (wavelen < 8192.0 / 4) {  // short waves: unchanged
      EXPECT_DOUBLE_EQ(f.inv_freq[j], d[j]) << j;
      ++high;
    } else if (wavelen > 8192.0) {  // long waves: PI by s
      EXPECT_DOUBLE_EQ(f.inv_freq[j], d[j] / 8) << j;
      ++low;
    } else {  // between: smooth = (L/λ − 1)/(4 − 1), a blend
      const double smooth = (8192.0 / wavelen - 1.0) / 3.0;
      EXPECT_NEAR(f.inv_freq[j], (1 - smooth) * d[j] / 8 + smooth * d[j], 1e-15) << j;
      EXPECT_GT(f.inv_freq[j], d[j] / 8);
      EXPECT_LT(f.inv_freq[j], d[j]);
      ++mid;
    }
  }
  // λ_j = 2π · 500000^(j/64): j ≤ 28 below 2048, j ≥ 35 above 8192, 29..34 between.
  EXPECT_EQ(high, 29);
  EXPECT_EQ(mid, 6);
  EXPECT_EQ(low, 29);
  // The divisors llama.cpp stores in rope_freqs: 1 .. s, non-decreasing.
  const auto div = frequency_divisors(c);
  EXPECT_DOUBLE_EQ(div.front(), 1.0);
  EXPECT_NEAR(div.back(), 8.0, 1e-12);
  for (size_t j = 1; j < div.size(); ++j) EXPECT_GE(div[j], div[j - 1] - 1e-12);
}

TEST(RopeLlama3, RejectsBadBands) {
  auto c = llama31();
  c.high_freq_factor = 1.0;  // not above low_freq_factor: the blend divides by zero
  EXPECT_THROW(compute_rope(c), e2llm::Error);
  c = llama31();
  c.low_freq_factor = 0;
  EXPECT_THROW(compute_rope(c), e2llm::Error);
  c = llama31();
  c.factor = 0.5;
  EXPECT_THROW(compute_rope(c), e2llm::Error);
}

// ---- longrope (Phi-3; docs/methods.md §Baselines) -----------------------------------------

// A longrope config of Phi-3 mini 128k's shape (d = 96, L = 4096, max 131072: s = 32) with
// simple lists: short rising 1 → 2, long rising 1 → 2s.
RopeConfig phi3_longrope(int64_t pairs = 48) {
  RopeConfig c;
  c.type = RopeType::Longrope;
  c.head_dim = 2 * pairs;
  c.base = 10000.0;
  c.original_max_position = 4096;
  c.factor = 32.0;
  for (int64_t j = 0; j < pairs; ++j) {
    const double x = static_cast<double>(j) / static_cast<double>(pairs - 1);
    c.short_factor.push_back(1.0 + x);
    c.long_factor.push_back(1.0 + 63.0 * x * x);
  }
  return c;
}

TEST(RopeLongrope, LongFactorsBeyondLShortOtherwise) {
  const auto c = phi3_longrope();
  const auto d = default_freqs(10000.0, 96);
  for (int64_t n : {0, 100, 4096}) {
    const auto f = compute_rope(c, n);
    for (size_t j = 0; j < d.size(); ++j) EXPECT_DOUBLE_EQ(f.inv_freq[j], d[j] / c.short_factor[j]) << n << " " << j;
  }
  const auto f = compute_rope(c, 4097);
  for (size_t j = 0; j < d.size(); ++j) EXPECT_DOUBLE_EQ(f.inv_freq[j], d[j] / c.long_factor[j]) << j;
  // sqrt(1 + ln 32 / ln 4096) = sqrt(1 + 5/12), at every length.
  EXPECT_NEAR(f.attention_factor, std::sqrt(17.0 / 12.0), 1e-15);
  EXPECT_NEAR(compute_rope(c, 10).attention_factor, std::sqrt(17.0 / 12.0), 1e-15);
  auto explicit_factor = c;
  explicit_factor.attention_factor = 1.5;
  EXPECT_DOUBLE_EQ(compute_rope(explicit_factor, 10).attention_factor, 1.5);
  auto unscaled = c;
  unscaled.factor = 1.0;
  EXPECT_DOUBLE_EQ(compute_rope(unscaled).attention_factor, 1.0);
  const auto div = frequency_divisors(c, 5000);
  for (size_t j = 0; j < div.size(); ++j) EXPECT_NEAR(div[j], c.long_factor[j], 1e-13 * c.long_factor[j]) << j;
}

TEST(RopeLongrope, RejectsBadLists) {
  auto c = phi3_longrope();
  c.long_factor.pop_back();
  EXPECT_THROW(compute_rope(c), e2llm::Error);
  c = phi3_longrope();
  c.short_factor[3] = 0.0;
  EXPECT_THROW(compute_rope(c), e2llm::Error);
  c = phi3_longrope();
  c.attention_factor = -1.0;
  EXPECT_THROW(compute_rope(c), e2llm::Error);
}

TEST(RopeHf, ReadsLlama3AndLongrope) {
  // Llama 3.1 8B's config.json (rope_scaling as Meta published it).
  nlohmann::json hf = {{"hidden_size", 4096},
                       {"num_attention_heads", 32},
                       {"max_position_embeddings", 131072},
                       {"rope_theta", 500000.0},
                       {"rope_scaling",
                        {{"factor", 8.0},
                         {"low_freq_factor", 1.0},
                         {"high_freq_factor", 4.0},
                         {"original_max_position_embeddings", 8192},
                         {"rope_type", "llama3"}}}};
  EXPECT_EQ(rope_config_from_hf(hf), llama31());
  hf["rope_parameters"] = hf["rope_scaling"];  // transformers v5 spelling, theta inside
  hf["rope_parameters"]["rope_theta"] = 500000.0;
  hf.erase("rope_scaling");
  hf.erase("rope_theta");
  EXPECT_EQ(rope_config_from_hf(hf), llama31());
  hf["original_max_position_embeddings"] = 4096;  // a top-level L wins, as in transformers
  EXPECT_EQ(rope_config_from_hf(hf).original_max_position, 4096);
  hf.erase("original_max_position_embeddings");
  hf["rope_parameters"].erase("high_freq_factor");
  try {
    rope_config_from_hf(hf);
    FAIL();
  } catch (const e2llm::Error& e) {
    EXPECT_NE(std::string(e.what()).find("rope_parameters.high_freq_factor"), std::string::npos) << e.what();
  }

  // Phi-3 mini 128k's layout: L at the top level, no factor (s = 131072 / 4096), type "su".
  const auto want = phi3_longrope();
  nlohmann::json phi = {
      {"hidden_size", 3072},
      {"num_attention_heads", 32},
      {"max_position_embeddings", 131072},
      {"original_max_position_embeddings", 4096},
      {"rope_theta", 10000.0},
      {"rope_scaling", {{"type", "su"}, {"long_factor", want.long_factor}, {"short_factor", want.short_factor}}}};
  EXPECT_EQ(rope_config_from_hf(phi), want);
  phi["rope_scaling"]["attention_factor"] = 1.2;
  phi["rope_scaling"]["factor"] = 16;
  auto c = rope_config_from_hf(phi);
  EXPECT_EQ(c.attention_factor, 1.2);
  EXPECT_DOUBLE_EQ(c.factor, 16.0);
  phi["rope_scaling"]["long_factor"] = std::vector<double>(47, 1.0);
  try {
    rope_config_from_hf(phi);
    FAIL();
  } catch (const e2llm::Error& e) {
    EXPECT_NE(std::string(e.what()).find("rope_scaling.long_factor"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("48"), std::string::npos) << e.what();
  }
  phi["rope_scaling"]["long_factor"] = "big";
  EXPECT_THROW(rope_config_from_hf(phi), e2llm::Error);
  phi["rope_scaling"].erase("long_factor");
  try {
    rope_config_from_hf(phi);
    FAIL();
  } catch (const e2llm::Error& e) {
    EXPECT_NE(std::string(e.what()).find("rope_scaling.long_factor is missing"), std::string::npos) << e.what();
  }
}

TEST(RopeHf, RoundTrip) {
  for (auto t : {RopeType::Default, RopeType::Linear, RopeType::Ntk, RopeType::DynamicNtk, RopeType::Yarn,
                 RopeType::Llama3, RopeType::Longrope}) {
    auto c = llama2(t, t == RopeType::Default ? 1.0 : 8.0);
    if (t == RopeType::Yarn) {
      c.beta_fast = 24;
      c.attention_factor = 1.1;
    }
    if (t == RopeType::Llama3) c.low_freq_factor = 2, c.high_freq_factor = 8;
    if (t == RopeType::Longrope) {
      c = phi3_longrope(64);
      c.head_dim = 128;
      c.attention_factor = 1.3;
    }
    nlohmann::json hf = {
        {"hidden_size", 4096}, {"num_attention_heads", 32}, {"max_position_embeddings", 4096}, {"rope_theta", 10000.0}};
    hf["rope_scaling"] = rope_config_to_hf(c);
    EXPECT_EQ(hf["rope_scaling"].is_null(), t == RopeType::Default);
    EXPECT_EQ(rope_config_from_hf(hf), c) << c.to_string();
    EXPECT_EQ(RopeConfig::from_json(c.to_json()), c);
  }
}

TEST(RopeCli, Output) {
  const auto j = rope_cli(llama2(RopeType::Yarn, 2), 0);
  ASSERT_EQ(j["inv_freq"].size(), 64u);
  EXPECT_NEAR(j["attention_factor"].get<double>(), 1.0693, 5e-5);
  EXPECT_EQ(j["config"]["type"], "yarn");
  EXPECT_EQ(llama2(RopeType::Yarn, 2).to_string(),
            "yarn(d=128, base=10000, factor=2, L=4096, beta_fast=32, beta_slow=1)");
  EXPECT_EQ(llama31().to_string(),
            "llama3(d=128, base=500000, factor=8, L=8192, low_freq_factor=1, high_freq_factor=4)");
  EXPECT_EQ(phi3_longrope().to_string(), "longrope(d=96, base=10000, factor=32, L=4096, 48 long/short factors)");
  // Older record types keep their fields; the new ones carry theirs.
  EXPECT_FALSE(llama2(RopeType::Yarn, 2).to_json().contains("long_factor"));
  EXPECT_EQ(RopeConfig::from_json(llama31().to_json()), llama31());
  EXPECT_EQ(RopeConfig::from_json(phi3_longrope().to_json()), phi3_longrope());
}
