// transformers as the oracle for the LLaMA model and the RoPE family (docs/interop.md).
//
// Checkpoints made the way the harness makes them: a base with random weights saved by
// save_hf_dir, then an E²-LLM fine-tune and PI fine-tunes at W = 2L and 8L trained from it by
// `e2llm train` (which saves through the trainer). For every checkpoint, every RoPE type
// transformers implements (default, linear, dynamic, yarn with default and with explicit
// betas and attention factor, llama3 with Llama 3.1's and other bands, longrope with lists of
// its own) and W = L, 2L, 8L, e2llm writes the model directory with that
// RoPE in config.json, loads it back with its own loader and computes the logits of W token
// ids in one forward; hf_logits.py loads the same directory with
// transformers.LlamaForCausalLM.from_pretrained (float32) and computes them too. Each case
// must agree to kTolerance everywhere. The PI fine-tunes are also compared as saved: their
// config.json must carry the RoPE the harness serves them with.
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "../support/run_command.hpp"
#include "e2llm/formats/checkpoint.hpp"
#include "e2llm/llama/model.hpp"
#include "e2llm/formats/rope_scaling.hpp"
#include "e2llm/util/files.hpp"

namespace fs = std::filesystem;
using namespace e2llm::llama;
namespace formats = e2llm::formats;
using e2llm::testing::quote;
using e2llm::testing::run_command;

namespace {

constexpr int64_t kL = 64;       // the base's window
constexpr int64_t kVocab = 512;  // tok512, the tokenizer the fine-tunes read their corpus with
constexpr double kTolerance = 1e-4;
const std::vector<int64_t> kWindows = {kL, 2 * kL, 8 * kL};

const fs::path kSource = E2LLM_SOURCE_DIR;

struct WorkDir {
  fs::path path = fs::temp_directory_path() / ("e2llm-hf-oracle-" + std::to_string(::getpid()));
  WorkDir() {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~WorkDir() { fs::remove_all(path); }
};

// A base with random weights, saved by save_hf_dir. The init's std 0.02 would leave attention
// almost uniform, so that RoPE barely moved the logits and a wrong RoPE could pass: the
// matrices are scaled up 5x, which makes the RoPE variants differ by far more than kTolerance
// (asserted below).
fs::path make_base(const fs::path& dir) {
  formats::ModelConfig c;
  c.dim = 64, c.n_layers = 2, c.n_heads = 4, c.n_kv_heads = 2, c.hidden_dim = 128, c.vocab_size = kVocab;
  c.max_position = kL;
  c.rope.head_dim = c.head_dim();
  c.rope.original_max_position = kL;
  torch::manual_seed(14);
  LlamaModel model(c);
  {
    torch::NoGradGuard no_grad;
    for (const auto& [name, t] : model.hf_parameters())
      if (t.dim() == 2) t.mul_(5.0);
  }
  formats::save_hf_dir(to_checkpoint(model), dir);
  return dir;
}

// `e2llm train` with the given [train] keys; returns its result record (stdout).
nlohmann::json train(const fs::path& work, const std::string& name, const fs::path& base, const std::string& keys,
                     const std::string& windows = "") {
  std::string corpus;
  for (int i = 0; i < 200; ++i)
    corpus += nlohmann::json{{"text", "Once upon a time, a little cat named " + std::to_string(i) +
                                          " saw a big red ball. The cat was very happy and played all day. "}}
                  .dump() +
              "\n";
  e2llm::util::write_file_atomic(work / "corpus.jsonl", corpus);
  const std::string toml = "[tokenizer]\nmodel = \"" E2LLM_SHARED_DATA "/models/tok512.model\"\n[base]\npath = \"" +
                           base.string() + "\"\n" + windows + "[train]\nout = \"" + (work / name).string() +
                           "\"\ncorpus = \"" + (work / "corpus.jsonl").string() +
                           "\"\nlr = 1e-4\nwarmup = 0\nthreads = 1\ncheck_blas = false\nlog_every = 100\n" + keys;
  e2llm::util::write_file_atomic(work / (name + ".toml"), toml);
  const auto r = run_command(std::string(E2LLM_EXE) + " train " + quote((work / (name + ".toml")).string()));
  if (r.exit_code != 0) throw std::runtime_error("e2llm train " + name + " failed: " + r.err);
  return nlohmann::json::parse(r.out.substr(r.out.find("{\n")));
}

// The RoPE variants transformers implements, at window W over L (factor W/L as the harness's
// factor_rule gives for multiples of L).
struct Variant {
  std::string name;
  formats::RopeConfig (*make)(formats::RopeConfig base, int64_t window);
};
formats::RopeConfig scaled(formats::RopeConfig r, formats::RopeType type, int64_t window) {
  r.type = type;
  r.factor = static_cast<double>(window) / static_cast<double>(kL);
  r.original_max_position = kL;
  return r;
}
const std::vector<Variant>& variants() {
  static const std::vector<Variant> v = {
      {"default", [](formats::RopeConfig r, int64_t) { return scaled(r, formats::RopeType::Default, kL); }},
      {"linear", [](formats::RopeConfig r, int64_t w) { return scaled(r, formats::RopeType::Linear, w); }},
      {"dynamic", [](formats::RopeConfig r, int64_t w) { return scaled(r, formats::RopeType::DynamicNtk, w); }},
      {"yarn", [](formats::RopeConfig r, int64_t w) { return scaled(r, formats::RopeType::Yarn, w); }},
      {"yarn-custom",
       [](formats::RopeConfig r, int64_t w) {
         r = scaled(r, formats::RopeType::Yarn, w);
         r.beta_fast = 16, r.beta_slow = 2, r.attention_factor = 1.25;
         return r;
       }},
      {"llama3", [](formats::RopeConfig r, int64_t w) { return scaled(r, formats::RopeType::Llama3, w); }},
      {"llama3-bands",
       [](formats::RopeConfig r, int64_t w) {
         r = scaled(r, formats::RopeType::Llama3, w);
         r.low_freq_factor = 2, r.high_freq_factor = 8;
         return r;
       }},
      // longrope with lists of its own: long factors rising 1 → s, short ones 1 → 1.7 (so W = L
      // uses non-trivial short factors), the default attention factor.
      {"longrope",
       [](formats::RopeConfig r, int64_t w) {
         r = scaled(r, formats::RopeType::Longrope, w);
         const int64_t pairs = r.head_dim / 2;
         for (int64_t j = 0; j < pairs; ++j) {
           r.long_factor.push_back(1.0 + (r.factor - 1.0) * static_cast<double>(j) / static_cast<double>(pairs - 1));
           r.short_factor.push_back(1.0 + 0.1 * static_cast<double>(j));
         }
         return r;
       }},
  };
  return v;
}

struct Case {
  std::string name;
  fs::path model;   // the directory both sides load
  formats::RopeConfig rope;  // what e2llm must have read from its config.json
  int64_t window = 0;
  torch::Tensor logits;  // e2llm's, [W, V]
};

std::vector<int64_t> token_ids(int64_t n) {
  std::mt19937 rng(static_cast<unsigned>(n));
  std::uniform_int_distribution<int64_t> pick(0, kVocab - 1);
  std::vector<int64_t> ids(static_cast<size_t>(n));
  for (auto& id : ids) id = pick(rng);
  return ids;
}

// e2llm's side of a case: the directory loaded with the project's loader, one forward over
// W tokens at positions 0..W-1 with the RoPE its config.json gives (dynamic NTK: n = W, as
// token_logprobs fixes it).
torch::Tensor e2llm_logits(const formats::Checkpoint& ck, int64_t window) {
  torch::NoGradGuard no_grad;
  auto model = load_model(ck);
  const auto ids = torch::tensor(token_ids(window), torch::kLong).unsqueeze(0);
  return model->forward(ids, RopeInputs::make(formats::compute_rope(ck.config.rope, window), 1, window)).squeeze(0);
}

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

}  // namespace

TEST(HfOracle, LogitsEqualTransformersForEveryRopeVariant) {
  set_threads(1);
  const WorkDir work;
  const fs::path base = make_base(work.path / "base");
  const auto e2 = train(work.path, "e2llm", base, "plugin = \"e2llm\"\nsteps = 2\nbatch = 2\nseq_len = 64\ngmax = 8\n");
  const auto pi = train(work.path, "pi-ft", base, "plugin = \"pi-ft\"\nsteps = 1\nbatch = 1\n",
                        "[sweep]\nwindows = [64, 128, 512]\n");
  ASSERT_EQ(pi["trained"].size(), 2u) << pi.dump();

  // Every checkpoint, with the windows it serves.
  struct Source {
    std::string name;
    fs::path dir;
    std::vector<int64_t> windows;
  };
  std::vector<Source> sources = {{"base", base, kWindows},
                                 {"e2llm", e2["checkpoint_path"].get<std::string>(), kWindows}};
  for (const auto& t : pi["trained"])
    sources.push_back({"pi-ft" + std::to_string(t["window"].get<int64_t>()),
                       t["checkpoint_path"].get<std::string>(),
                       {t["window"].get<int64_t>()}});

  std::vector<Case> cases;
  nlohmann::json manifest = {{"cases", nlohmann::json::array()}};
  auto add_case = [&](Case c) {
    formats::Checkpoint ck = formats::load_checkpoint(c.model);
    EXPECT_EQ(ck.config.rope, c.rope) << c.name << ": config.json does not carry the RoPE it was saved with";
    c.logits = e2llm_logits(ck, c.window);
    const fs::path out = work.path / "hf" / (c.name + ".f32");
    manifest["cases"].push_back(
        {{"name", c.name}, {"model", c.model.string()}, {"ids", token_ids(c.window)}, {"out", out.string()}});
    cases.push_back(std::move(c));
  };
  fs::create_directories(work.path / "hf");

  for (const auto& s : sources) {
    const formats::Checkpoint ck = formats::load_checkpoint(s.dir);
    if (s.name.rfind("pi-ft", 0) == 0) {
      // As saved by the trainer: the RoPE the harness serves a PI fine-tune at W with.
      const int64_t W = s.windows[0];
      add_case({s.name + "-as-saved", s.dir, scaled(ck.config.rope, formats::RopeType::Linear, W), W, {}});
    } else {
      EXPECT_EQ(ck.config.rope.type, formats::RopeType::Default) << s.name;  // served with g chosen per window
    }
    for (const auto& v : variants()) {
      for (const int64_t W : s.windows) {
        formats::Checkpoint variant = ck;
        variant.config.rope = v.make(ck.config.rope, W);
        variant.config.max_position = kL;  // a PI fine-tune says W; plain RoPE reads L from here
        const fs::path dir = work.path / "variants" / (s.name + "-" + v.name + "-" + std::to_string(W));
        formats::save_hf_dir(variant, dir);
        add_case({s.name + "-" + v.name + "-" + std::to_string(W), dir, variant.config.rope, W, {}});
      }
    }
  }

  const fs::path manifest_path = work.path / "hf" / "manifest.json";
  e2llm::util::write_file_atomic(manifest_path, manifest.dump());
  const auto r =
      run_command(quote((kSource / ".venv/bin/python").string()) + " " +
                  quote((kSource / "tests/interop/hf_logits.py").string()) + " " + quote(manifest_path.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto hf_rope = nlohmann::json::parse(e2llm::util::read_file(work.path / "hf" / "hf_rope.json"));

  double worst = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string bytes = e2llm::util::read_file(work.path / "hf" / (c.name + ".f32"));
    ASSERT_EQ(static_cast<int64_t>(bytes.size()), c.logits.numel() * 4);
    const auto hf = torch::from_blob(const_cast<char*>(bytes.data()), c.logits.sizes(), torch::kFloat32).clone();
    // The RoPE first: transformers' inv_freq (float32) and attention scaling against compute_rope.
    const auto f = formats::compute_rope(c.rope, c.window);
    const auto& h = hf_rope.at(c.name);
    ASSERT_EQ(h["inv_freq"].size(), f.inv_freq.size());
    for (size_t j = 0; j < f.inv_freq.size(); ++j)
      EXPECT_NEAR(h["inv_freq"][j].get<double>(), f.inv_freq[j], 1e-6 * f.inv_freq[j]) << "pair " << j;
    EXPECT_NEAR(h["attention_scaling"].get<double>(), f.attention_factor, 1e-12);
    const double diff = max_abs_diff(c.logits, hf);
    worst = std::max(worst, diff);
    EXPECT_LE(diff, kTolerance) << "max |logit difference| at W = " << c.window;
    std::cout << c.name << ": max |diff| " << diff << ", max |logit| " << hf.abs().max().item<double>() << "\n";
  }
  std::cout << cases.size() << " cases, worst max |diff| " << worst << "\n";

  // The comparison can fail: beyond L the variants' logits differ by far more than kTolerance.
  std::map<std::string, const Case*> by_name;
  for (const auto& c : cases) by_name[c.name] = &c;
  for (const char* s : {"base", "e2llm"}) {
    for (const int64_t W : {2 * kL, 8 * kL}) {
      const std::string w = "-" + std::to_string(W);
      const std::vector<std::string> names = {"default",     "linear", "dynamic",      "yarn",
                                              "yarn-custom", "llama3", "llama3-bands", "longrope"};
      for (size_t i = 0; i < names.size(); ++i)
        for (size_t j = i + 1; j < names.size(); ++j)
          EXPECT_GT(
              max_abs_diff(by_name.at(s + ("-" + names[i]) + w)->logits, by_name.at(s + ("-" + names[j]) + w)->logits),
              100 * kTolerance)
              << s << " " << names[i] << " vs " << names[j] << " at W = " << W;
    }
  }
}
