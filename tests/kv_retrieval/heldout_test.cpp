// The kv-retrieval probe's prompts are held out from pretraining's retrieval mix
// (backends/llama/src/train/retrieval_mix.hpp): for the same seed, no training row holds an
// evaluation prompt, one of its values or one of its "key": "value" entries. The two draw
// from different streams (the probe: derive_seed(seed, "kv-retrieval/..."); the mix: its
// own counter-based SplitMix64 domain) and use different formats.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "kv_prompt.hpp"
#include "real_tokenizer.hpp"
#include "retrieval_mix.hpp"

using namespace e2llm::kv_retrieval;

TEST(KvRetrievalHeldOut, EvalPromptsNeverAppearInTheTrainingMix) {
  const e2llm::Tokenizer& tok = kvtest::tok512();
  const std::vector<std::int32_t> corpus =
      tok.encode("Once upon a time there was a small town by the sea where the boats came home every evening.");
  for (std::uint64_t seed : {0ull, 1ull, 1234ull}) {
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::vector<std::vector<std::int32_t>> prompts;
    std::vector<std::string> values, entries;
    for (std::int64_t window : {256, 512})
      for (double depth : {0.0, 0.25, 0.5, 0.75, 1.0})
        for (std::int64_t trial = 0; trial < 2; ++trial) {
          KvPrompt p =
              build_prompt(kvtest::bos_always(tok), trial_seed(seed, window, depth, trial), depth, window - 16);
          prompts.push_back(p.ids);
          for (const auto& pair : p.pairs) {
            values.push_back(pair.value);
            entries.push_back("\"" + pair.key + "\": \"" + pair.value + "\"");
          }
        }
    int key_value_rows = 0;
    for (std::int64_t j = 0; j < 500; ++j) {
      const auto row = e2llm::llama::train::retrieval_row(
          tok, 257, seed, j, [&](std::uint64_t i) { return corpus[i]; }, corpus.size());
      key_value_rows += row.kind == "key-value";
      const std::string text = tok.decode(row.tokens);
      for (const auto& v : values) ASSERT_EQ(text.find(v), std::string::npos) << "row " << j << " holds value " << v;
      for (const auto& e : entries) ASSERT_EQ(text.find(e), std::string::npos) << "row " << j << " holds " << e;
      ASSERT_EQ(text.find(kObjectLabel), std::string::npos) << "row " << j;
      for (const auto& p : prompts)
        ASSERT_EQ(std::search(row.tokens.begin(), row.tokens.end(), p.begin() + 1, p.end()), row.tokens.end())
            << "row " << j << " holds an evaluation prompt";
    }
    EXPECT_GT(key_value_rows, 150);  // the mix's own key-value documents were checked too
  }
}
