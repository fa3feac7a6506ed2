// The key-value retrieval task (docs/protocols.md §Key-value retrieval).
#pragma once

#include "e2llm/task.hpp"
#include "e2llm/taskkit/retrieval_task.hpp"
#include "kv_prompt.hpp"

namespace e2llm::kv_retrieval {

inline constexpr const char* kName = "kv-retrieval";
inline constexpr const char* kVersion = "1.1.0";  // 1.1: intervals (uncertainty)

// depths (of the asked pair in the object), trials, threshold, max_new_tokens, target_tokens, chat_template, add_bos
// (taskkit/retrieval_trials.hpp), and the shape of the pairs.
struct KvConfig : taskkit::RetrievalConfig {
  KvConfig() : RetrievalConfig(/*trials per (window, depth)=*/2, /*max_new_tokens=*/16) {}
  Shape shape{};
};

class KvRetrievalTask final : public taskkit::RetrievalTask<KvConfig> {
 public:
  KvRetrievalTask() : RetrievalTask(kName) {}
  TaskInfo info() const override;
  void configure(const nlohmann::json& config) override;
  std::string fingerprint() const override;
  CellResult evaluate(LanguageModel& model, EvalContext& context) override;

 private:
  std::int64_t shortest_prompt(const taskkit::PromptFraming& framing) const override;
  std::string shortest_prompt_what() const override { return "prompt (one pair)"; }
};

}  // namespace e2llm::kv_retrieval
