// A tokenizer.json model end to end through the real CLI: transformers writes a tiny random
// LLaMA with the OpenLLaMA tokenizer's vocabulary (hf_model.py) and computes, with the
// `tokenizers` package, the perplexity of a text and a greedy continuation; `e2llm
// perplexity` and `e2llm generate` given the tokenizer.json must agree.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "../support/run_command.hpp"
#include "e2llm/util/files.hpp"

namespace fs = std::filesystem;
using e2llm::testing::quote;
using e2llm::testing::run_command;

namespace {

const fs::path kSource = E2LLM_SOURCE_DIR;
const fs::path kTokenizer = kSource / "tests/data/tokenizers/open-llama-3b";

// The model and the reference, made once per process (ctest runs each test in its own
// process, in parallel: each gets its own folder, removed at exit).
struct WorkDir {
  fs::path path = fs::path(E2LLM_BINARY_DIR) / "tests" / "tokenizer_json" / ("e2e-" + std::to_string(::getpid()));
  ~WorkDir() { fs::remove_all(path); }
};

const fs::path& work() {
  static const WorkDir holder;
  static const fs::path dir = [] {
    const fs::path d = holder.path;
    fs::remove_all(d);
    const fs::path python = kSource / ".venv" / "bin" / "python";
    auto r = run_command(quote(python.string()) + " " + quote((kSource / "tests/tokenizer_json/hf_model.py").string()) +
                         " " + quote(kTokenizer.string()) + " " + quote(d.string()));
    if (r.exit_code != 0) ADD_FAILURE() << "hf_model.py failed:\n" << r.err;
    return d;
  }();
  return dir;
}

nlohmann::json reference() {
  return nlohmann::json::parse(e2llm::util::read_file(work() / "reference.json"));
}

}  // namespace

TEST(TokenizerJsonE2E, PerplexityWithTokenizerJsonEqualsTransformers) {
  const auto ref = reference();
  const std::string window = std::to_string(ref["window"].get<int>());
  auto r = run_command(std::string(E2LLM_EXE) + " perplexity --model " + quote((work() / "model").string()) +
                       " --tokenizer " + quote((kTokenizer / "tokenizer.json").string()) + " --input " +
                       quote((work() / "text.txt").string()) + " --window " + window + " --stride " + window +
                       " --truncate " + window + " --threads 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto out = nlohmann::json::parse(r.out);
  EXPECT_EQ(out["tokens"].get<int>(), ref["tokens"].get<int>());
  const double nll = out["nll"].get<double>(), ref_nll = std::log(ref["ppl"].get<double>());
  EXPECT_NEAR(nll, ref_nll, 1e-4 * std::max(1.0, std::abs(ref_nll))) << r.out;
}

TEST(TokenizerJsonE2E, GenerateWithATokenizerFolderEqualsTransformers) {
  const auto ref = reference();
  auto r = run_command(std::string(E2LLM_EXE) + " generate --model " + quote((work() / "model").string()) +
                       " --tokenizer " + quote(kTokenizer.string()) + " --prompt " +
                       quote(ref["prompt"].get<std::string>()) + " --max-new-tokens 8 --temperature 0 --threads 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, ref["generated"].get<std::string>() + "\n");
}

TEST(TokenizerJsonE2E, UnsupportedTokenizerJsonIsOneLine) {
  const fs::path dir = work() / "unigram";
  fs::create_directories(dir);
  e2llm::util::write_file_atomic(dir / "tokenizer.json", R"({"model": {"type": "Unigram", "vocab": [["a", 0.0]]}})");
  auto r = run_command(std::string(E2LLM_EXE) + " perplexity --model " + quote((work() / "model").string()) +
                       " --tokenizer " + quote(dir.string()) + " --input " + quote((work() / "text.txt").string()) +
                       " --window 64");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("model type 'Unigram' is not supported (supported: BPE"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

TEST(TokenizerJsonE2E, SweepChoosesTheTokenizerByFile) {
  const fs::path out = work() / "sweep-out";
  std::string jsonl;
  const std::string text = e2llm::util::read_file(work() / "text.txt");
  for (int i = 0; i < 2; ++i) jsonl += nlohmann::json{{"text", text + " " + text}}.dump() + "\n";
  e2llm::util::write_file_atomic(work() / "eval.jsonl", jsonl);
  // No `plugin` in [tokenizer]: the tokenizer.json picks hf-json. (No BLAS speed check: the
  // test machine may be busy.)
  const std::string toml = "[run]\nname = \"tokjson\"\nout = \"" + out.string() + "\"\nthreads = 1\n" +
                           "[tokenizer]\nmodel = \"" + (kTokenizer / "tokenizer.json").string() + "\"\n" +
                           "[base]\nsource = \"hf\"\npath = \"" + (work() / "model").string() + "\"\nwindow = 128\n" +
                           "[backends.none]\ncheck_blas = false\n[backends.yarn]\ncheck_blas = false\n" +
                           "[tasks.proofpile]\nplugin = \"proofpile\"\ndata = \"eval.jsonl\"\nmin_tokens = 256\n" +
                           "max_documents = 2\nstride = 64\n" +
                           "[sweep]\nwindows = [128, 256]\nbackends = [\"none\", \"yarn\"]\n";
  e2llm::util::write_file_atomic(work() / "sweep.toml", toml);
  auto r = run_command(std::string(E2LLM_EXE) + " sweep " + quote((work() / "sweep.toml").string()));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  int cells = 0;
  for (const auto& entry : fs::directory_iterator(out / "cells")) {
    if (entry.path().extension() != ".json") continue;  // the .records.jsonl journals
    auto cell = nlohmann::json::parse(e2llm::util::read_file(entry.path()));
    EXPECT_EQ(cell["tokenizer"]["plugin"], "hf-json");
    const double ppl = cell["metrics"]["ppl"].get<double>();
    EXPECT_TRUE(std::isfinite(ppl) && ppl > 1.0) << entry.path();
    ++cells;
  }
  EXPECT_EQ(cells, 4);
}
