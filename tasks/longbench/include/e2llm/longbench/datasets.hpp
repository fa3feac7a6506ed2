// The LongBench v1 English QA and summarization datasets: prompt template, max new tokens
// and metric of each (docs/protocols.md §LongBench). The one place these facts live.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "e2llm/longbench/metrics.hpp"

namespace e2llm::longbench {

struct DatasetSpec {
  std::string name;
  std::string prompt;  // with the placeholders {context} and {input}
  int max_new_tokens;
  Metric metric;
  // Whether a chat model's prompt is wrapped in its chat template. LongBench's pred.py skips
  // the template for trec, triviaqa, samsum, lsht, lcc and repobench-p (few-shot and code
  // completion sets, none of them in this table); every set here takes it.
  bool chat_template;
};

// narrativeqa, qasper, multifieldqa_en, hotpotqa, 2wikimqa, musique, gov_report, qmsum,
// multi_news, in LongBench's order.
const std::vector<DatasetSpec>& datasets();
std::vector<std::string> dataset_names();

// Throws e2llm::Error "unknown LongBench dataset 'X' (did you mean ...?; known: ...)".
const DatasetSpec& dataset(std::string_view name);

// prompt_format.format(context=..., input=...): one pass, so braces inside the context or
// the question are never substituted again.
std::string build_prompt(const DatasetSpec& spec, std::string_view context, std::string_view input);

}  // namespace e2llm::longbench
