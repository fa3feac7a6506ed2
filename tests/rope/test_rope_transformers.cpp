// transformers as the oracle for the RoPE schedules read from a config.json: for each case,
// e2llm's rope_config_from_hf + compute_rope against LlamaConfig.from_pretrained +
// ROPE_INIT_FUNCTIONS (hf_rope_init.py, run from the repository's .venv) on the same JSON —
// inv_freq to 1e-6 relative (transformers computes in float32), the attention factor to 1e-12.
// Cases: Llama 3.1 8B's and Llama 3.2 3B's real llama3 blocks, llama3 on a small head, the
// v5 rope_parameters spelling with a top-level L, and Phi-3-style longrope blocks (48 long and
// short factors, L at the top level, "su" and "longrope", with and without factor and
// attention_factor) below and above L. docs/methods.md §Baselines.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "../support/run_command.hpp"
#include "e2llm/formats/rope_scaling.hpp"
#include "e2llm/util/files.hpp"

namespace fs = std::filesystem;
using namespace e2llm::formats;
using e2llm::testing::quote;
using e2llm::testing::run_command;
using json = nlohmann::json;

namespace {

struct Case {
  std::string name;
  json config;  // config.json, as both sides read it
  int64_t seq_len = 0;
};

json llama31_block() {
  return {{"factor", 8.0},
          {"low_freq_factor", 1.0},
          {"high_freq_factor", 4.0},
          {"original_max_position_embeddings", 8192},
          {"rope_type", "llama3"}};
}

// Factor lists of Phi-3 mini 128k's shape (head_dim 96: 48 pairs): long rising smoothly from
// about 1 to about 2s (s = 32), short from about 1 to 3.
std::pair<std::vector<double>, std::vector<double>> phi3_factors() {
  std::vector<double> long_factor, short_factor;
  for (int j = 0; j < 48; ++j) {
    const double x = j / 47.0;
    long_factor.push_back(1.03 + 63.8 * (1.0 - std::cos(M_PI * x)) / 2.0);
    short_factor.push_back(1.05 + 2.0 * std::pow(x, 0.7));
  }
  return {long_factor, short_factor};
}

json phi3_config(const std::string& type) {
  const auto [long_factor, short_factor] = phi3_factors();
  return {{"hidden_size", 3072},
          {"num_attention_heads", 32},
          {"num_key_value_heads", 32},
          {"max_position_embeddings", 131072},
          {"original_max_position_embeddings", 4096},
          {"rope_theta", 10000.0},
          {"rope_scaling", {{"type", type}, {"long_factor", long_factor}, {"short_factor", short_factor}}}};
}

std::vector<Case> cases() {
  std::vector<Case> out;
  out.push_back({"llama3.1-8b",
                 {{"hidden_size", 4096},
                  {"num_attention_heads", 32},
                  {"num_key_value_heads", 8},
                  {"max_position_embeddings", 131072},
                  {"rope_theta", 500000.0},
                  {"rope_scaling", llama31_block()}},
                 0});
  json llama32 = llama31_block();
  llama32["factor"] = 32.0;
  out.push_back({"llama3.2-3b",
                 {{"hidden_size", 3072},
                  {"num_attention_heads", 24},
                  {"head_dim", 128},
                  {"max_position_embeddings", 131072},
                  {"rope_theta", 500000.0},
                  {"rope_scaling", llama32}},
                 0});
  out.push_back({"llama3-small-head",
                 {{"hidden_size", 64},
                  {"num_attention_heads", 4},
                  {"max_position_embeddings", 2048},
                  {"rope_theta", 10000.0},
                  {"rope_scaling",
                   {{"rope_type", "llama3"},
                    {"factor", 4.0},
                    {"low_freq_factor", 1.0},
                    {"high_freq_factor", 4.0},
                    {"original_max_position_embeddings", 512}}}},
                 0});
  json v5 = llama31_block();
  v5["rope_theta"] = 500000.0;
  v5["low_freq_factor"] = 2.0;
  v5["high_freq_factor"] = 8.0;
  out.push_back({"llama3-rope-parameters-top-level-L",
                 {{"hidden_size", 4096},
                  {"num_attention_heads", 32},
                  {"max_position_embeddings", 131072},
                  {"original_max_position_embeddings", 4096},
                  {"rope_parameters", v5}},
                 0});
  for (int64_t n : {0, 4096, 4097, 20000})
    out.push_back({"phi3-longrope-n" + std::to_string(n), phi3_config("longrope"), n});
  json su = phi3_config("su");  // transformers maps "su" to longrope in Phi-3's config class
  su["model_type"] = "phi3";
  su["rope_scaling"]["original_max_position_embeddings"] = 4096;  // transformers' Phi-3 class needs it in the dict
  out.push_back({"phi3-su-n8192", su, 8192});
  json explicit_factors = phi3_config("longrope");
  explicit_factors["rope_scaling"]["factor"] = 16.0;
  out.push_back({"longrope-explicit-factor-n8192", explicit_factors, 8192});
  explicit_factors["rope_scaling"]["attention_factor"] = 1.3;
  out.push_back({"longrope-explicit-attention-n100", explicit_factors, 100});
  json small = {{"hidden_size", 64},
                {"num_attention_heads", 8},
                {"max_position_embeddings", 2048},
                {"rope_parameters",
                 {{"rope_type", "longrope"},
                  {"rope_theta", 10000.0},
                  {"original_max_position_embeddings", 512},
                  {"long_factor", {1.0, 2.5, 4.0, 4.0}},
                  {"short_factor", {1.0, 1.0, 1.1, 1.2}}}}};
  out.push_back({"longrope-small-head-n1024", small, 1024});
  return out;
}

double relative(double a, double b) {
  return std::abs(a - b) / std::max(std::abs(b), 1e-300);
}

}  // namespace

TEST(RopeTransformers, Llama3AndLongropeEqualRopeInitFunctions) {
  const fs::path dir = fs::temp_directory_path() / ("e2llm-rope-hf-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  json manifest = {{"cases", json::array()}};
  for (const auto& c : cases())
    manifest["cases"].push_back({{"name", c.name}, {"config", c.config}, {"seq_len", c.seq_len}});
  e2llm::util::write_file_atomic(dir / "manifest.json", manifest.dump());
  const fs::path source = E2LLM_SOURCE_DIR;
  const auto r = run_command(quote((source / ".venv/bin/python").string()) + " " +
                             quote((source / "tests/rope/hf_rope_init.py").string()) + " " +
                             quote((dir / "manifest.json").string()));
  fs::remove_all(dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto hf = json::parse(r.out);

  std::map<std::string, std::vector<double>> ours;
  for (const auto& c : cases()) {
    SCOPED_TRACE(c.name);
    const RopeConfig config = rope_config_from_hf(c.config);
    const auto f = compute_rope(config, c.seq_len);
    const auto& want = hf.at(c.name);
    EXPECT_EQ(want["rope_type"].get<std::string>(), rope_type_info(config.type).hf_name);
    const auto w = want["inv_freq"].get<std::vector<double>>();
    ASSERT_EQ(f.inv_freq.size(), w.size());
    for (size_t j = 0; j < w.size(); ++j) EXPECT_LT(relative(f.inv_freq[j], w[j]), 1e-6) << "inv_freq[" << j << "]";
    EXPECT_LT(relative(f.attention_factor, want["attention_factor"].get<double>()), 1e-12);
    ours[c.name] = f.inv_freq;
  }
  // The cases can fail: the long and short factors give different frequencies, and llama3's
  // bands move with L.
  auto differ = [&](const std::string& a, const std::string& b) {
    double most = 0;
    for (size_t j = 0; j < ours[a].size(); ++j) most = std::max(most, relative(ours[a][j], ours[b][j]));
    return most;
  };
  EXPECT_GT(differ("phi3-longrope-n4096", "phi3-longrope-n4097"), 0.1);
  EXPECT_EQ(differ("phi3-longrope-n0", "phi3-longrope-n4096"), 0.0);
  EXPECT_GT(differ("llama3.1-8b", "llama3-rope-parameters-top-level-L"), 0.1);
}
