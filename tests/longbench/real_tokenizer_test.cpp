// Middle truncation with the real SentencePiece plugin (tok512.model) on real LongBench
// rows: the instruction and the question survive, and decode/re-encode drifts the length
// only slightly from the budget (pred.py accepts that drift as well).
#include <gtest/gtest.h>

#include <boost/dll/shared_library.hpp>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "e2llm/longbench/datasets.hpp"
#include "e2llm/longbench/loader.hpp"
#include "e2llm/longbench/middle_truncate.hpp"
#include "e2llm/plugin.hpp"
#include "e2llm/tokenizer.hpp"

using namespace e2llm::longbench;

TEST(longbench_real_tokenizer, MiddleTruncationKeepsInstructionAndQuestion) {
  // RTLD_DEEPBIND: SentencePiece's protobuf must bind to itself (docs/pitfalls.md, "SentencePiece and LibTorch").
  boost::dll::shared_library library(std::string(E2LLM_PLUGIN_DIR) + "/libe2llm_tokenizer_sentencepiece.so",
                                     boost::dll::load_mode::rtld_local | boost::dll::load_mode::rtld_deepbind);
  auto entry = library.get<const e2llm::PluginDescriptor*()>(E2LLM_PLUGIN_ENTRY_POINT_NAME);
  std::unique_ptr<e2llm::Plugin> plugin(entry()->create());
  auto* tokenizer = dynamic_cast<e2llm::Tokenizer*>(plugin.get());
  ASSERT_NE(tokenizer, nullptr);
  tokenizer->load(std::string(E2LLM_SHARED_DATA) + "/models/tok512.model");

  const e2llm::taskkit::PromptFraming plain(*tokenizer, {}, "");  // SentencePiece's rule: BOS first
  const std::size_t budget = 2000;
  for (const std::string name : {"qasper", "gov_report", "hotpotqa"}) {
    const DatasetSpec& spec = dataset(name);
    for (const Row& row : load_rows(std::string(E2LLM_SHARED_DATA) + "/longbench/rows/" + name + ".jsonl")) {
      std::string prompt = build_prompt(spec, row.context, row.input);
      TruncatedPrompt cut = truncate_prompt(plain, plain, prompt, budget);
      ASSERT_TRUE(cut.truncated) << name;
      std::printf("%s %s: %zu tokens -> %zu (budget %zu)\n", name.c_str(), row.id.substr(0, 8).c_str(),
                  cut.original_tokens, cut.ids.size(), budget);
      EXPECT_GT(cut.original_tokens, budget);
      EXPECT_EQ(cut.ids.front(), tokenizer->bos_id());
      // Re-encoding two decoded halves may merge or split a few pieces at the seam.
      EXPECT_NEAR(static_cast<double>(cut.ids.size()), static_cast<double>(budget), 8.0) << name;
      std::string text = tokenizer->decode(std::vector<std::int32_t>(cut.ids.begin() + 1, cut.ids.end()));
      std::string head = spec.prompt.substr(0, spec.prompt.find('{'));
      std::string tail = spec.prompt.substr(spec.prompt.rfind('}') + 1);
      EXPECT_EQ(text.substr(0, 40), head.substr(0, 40)) << name;
      EXPECT_EQ(text.substr(text.size() - tail.size()), tail) << name;
      if (spec.prompt.find("{input}") != std::string::npos && !row.input.empty()) {
        EXPECT_NE(text.find(row.input.substr(0, 30)), std::string::npos) << name;
      }
    }
  }
}
