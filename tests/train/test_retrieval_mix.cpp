// The retrieval mix of pretraining (backends/llama/src/train/retrieval_mix.hpp): rows of the
// right length that end with a retrievable answer, the same every time, at the configured
// share of the train split, and never one of the passkey probe's held-out prompts.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/dll/shared_library.hpp>
#include <filesystem>
#include <fstream>

#include "e2llm/error.hpp"
#include "e2llm/llama/train/token_data.hpp"
#include "e2llm/plugin.hpp"
#include "passkey_prompt.hpp"
#include "retrieval_mix.hpp"

namespace fs = std::filesystem;
using namespace e2llm::llama::train;

namespace {

struct Tok {
  boost::dll::shared_library lib;
  std::shared_ptr<e2llm::Tokenizer> tok;
};
const Tok& tokenizer() {
  static Tok t = [] {
    Tok t;
    t.lib = boost::dll::shared_library(E2LLM_PLUGIN_DIR "/libe2llm_tokenizer_sentencepiece.so",
                                       boost::dll::load_mode::rtld_deepbind | boost::dll::load_mode::rtld_local);
    auto entry = t.lib.get<const e2llm::PluginDescriptor*()>("e2llm_plugin_descriptor");
    t.tok.reset(static_cast<e2llm::Tokenizer*>(entry()->create()));
    t.tok->load(E2LLM_SHARED_DATA "/models/tok512.model");
    return t;
  }();
  return t;
}

const std::vector<int32_t>& corpus() {
  static const std::vector<int32_t> c = tokenizer().tok->encode(
      "Once upon a time there was a small town by the sea where the boats came home every evening.");
  return c;
}

RetrievalRow row(int64_t index, uint64_t seed = 7, int64_t row_len = 257) {
  const auto& c = corpus();
  return retrieval_row(*tokenizer().tok, row_len, seed, index, [&](uint64_t i) { return c[i]; }, c.size());
}

}  // namespace

TEST(RetrievalMix, RowsFillTheRowEndWithTheAnswerAndRepeat) {
  int passkey = 0;
  for (int64_t j = 0; j < 60; ++j) {
    const auto r = row(j);
    ASSERT_EQ(r.tokens.size(), 257u) << j;
    ASSERT_GT(r.document_tokens, 0) << j;
    const std::vector<int32_t> doc(r.tokens.end() - r.document_tokens + 1, r.tokens.end());
    const std::string text = tokenizer().tok->decode(doc);
    ASSERT_GE(text.size(), r.answer.size() + 1);
    EXPECT_EQ(text.substr(text.size() - r.answer.size() - 1), r.answer + ".") << text;
    if (r.kind == "passkey") {
      ++passkey;
      EXPECT_NE(text.find("The pass key is " + r.answer + ". Remember it."), std::string::npos) << text;
    } else {
      EXPECT_EQ(r.kind, "key-value");
      EXPECT_NE(text.find(" is " + r.answer + ".\n"), std::string::npos) << text;  // the line that holds it
    }
    EXPECT_EQ(row(j).tokens, r.tokens);  // counter-based: the same row every time
  }
  EXPECT_GT(passkey, 15);
  EXPECT_LT(passkey, 45);
  EXPECT_NE(row(0, 8).tokens, row(0, 7).tokens);  // another seed, another row
}

// The probe's held-out prompts (the passkey task's keys for its seed, window, depth and
// trial, at the sizes a sweep evaluates within R) never occur in the synthetic rows.
TEST(RetrievalMix, HeldOutPasskeyPromptsNeverAppear) {
  std::vector<std::vector<int32_t>> held_out;
  for (uint64_t seed : {0ull, 1ull, 1234ull})
    for (double depth : {0.0, 0.25, 0.5, 0.75, 1.0})
      for (int64_t trial = 0; trial < 10; ++trial) {
        const auto key = e2llm::passkey::draw_key(seed, 256, depth, trial);
        const e2llm::taskkit::PromptFraming no_bos(*tokenizer().tok, {"none", e2llm::taskkit::BosRule::never}, "");
        auto p = e2llm::passkey::build_prompt(no_bos, key, depth, 256);
        held_out.push_back(p.ids);
      }
  int64_t passkey_rows = 0;
  for (uint64_t seed : {1ull, 1234ull}) {
    for (int64_t j = 0; j < 1500; ++j) {
      const auto r = row(j, seed);
      passkey_rows += r.kind == "passkey";
      for (const auto& p : held_out)
        ASSERT_EQ(std::search(r.tokens.begin(), r.tokens.end(), p.begin(), p.end()), r.tokens.end())
            << "row " << j << " of seed " << seed << " holds a held-out probe prompt";
    }
  }
  EXPECT_GT(passkey_rows, 1000);
}

TEST(RetrievalMix, TrainSplitGetsTheConfiguredShare) {
  const fs::path dir = fs::temp_directory_path() / ("e2llm-mix-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  {
    std::ofstream f(dir / "c.jsonl");
    for (int i = 0; i < 50; ++i) f << "{\"text\": \"Lily had a red ball and a blue kite, and she played in the park every day.\"}\n";
  }
  DataOptions o;
  o.corpus = {dir / "c.jsonl"};
  o.seq_len = 256;
  o.cache_dir = dir / "cache";
  const auto plain = load_or_build_dataset(o, *tokenizer().tok);
  o.retrieval_fraction = 0.25;
  o.retrieval_seed = 3;
  const auto mixed = load_or_build_dataset(o, *tokenizer().tok);
  EXPECT_NE(mixed.hash, plain.hash);
  const int64_t corpus_rows = plain.train.size();
  EXPECT_EQ(mixed.train.size(), corpus_rows + retrieval_rows_for(0.25, corpus_rows));
  EXPECT_EQ(retrieval_rows_for(0.25, 30), 10);  // 10 of 40 rows
  EXPECT_EQ(mixed.val.size(), plain.val.size());  // validation stays corpus-only
  std::vector<int64_t> ids(257);
  mixed.train.read(mixed.train.size() - 1, ids.data());
  std::vector<int32_t> ids32(ids.begin(), ids.end());
  const std::string text = tokenizer().tok->decode(ids32);
  EXPECT_TRUE(text.find("pass key") != std::string::npos || text.find("value of key") != std::string::npos) << text;
  o.retrieval_fraction = 1.0;
  EXPECT_THROW(load_or_build_dataset(o, *tokenizer().tok), e2llm::ConfigError);
  fs::remove_all(dir);
}
