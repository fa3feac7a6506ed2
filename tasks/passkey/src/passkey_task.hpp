// The passkey retrieval task (docs/protocols.md §Passkey).
//
// Config keys (all optional):
//   depths          [0, 0.25, 0.5, 0.75, 1.0]: where the key line sits in the filler
//   trials          10 per (window, depth)
//   threshold       0.9: the report's "largest window with accuracy >= threshold"
//   max_new_tokens  10 greedy tokens; the first integer in them is the answer
//   target_tokens   0 = window - max_new_tokens (the framed prompt, BOS and chat template
//                   included, never exceeds it)
//   chat_template   "none" | "auto" | a family; add_bos "auto" | true | false
//                   (taskkit/prompt_framing.hpp)
// all read and checked by the task kit (taskkit/retrieval_trials.hpp), as kv-retrieval's are.
#pragma once

#include "e2llm/task.hpp"
#include "e2llm/taskkit/retrieval_task.hpp"

namespace e2llm::passkey {

// The retrieval keys (taskkit/retrieval_trials.hpp) with passkey's defaults.
struct PasskeyConfig : taskkit::RetrievalConfig {
  PasskeyConfig() : RetrievalConfig(/*trials per (window, depth)=*/10, /*max_new_tokens=*/10) {}
};

class PasskeyTask final : public taskkit::RetrievalTask<PasskeyConfig> {
 public:
  PasskeyTask() : RetrievalTask("passkey") {}
  TaskInfo info() const override;
  void configure(const nlohmann::json& config) override;
  std::string fingerprint() const override;
  CellResult evaluate(LanguageModel& model, EvalContext& context) override;

 private:
  std::int64_t shortest_prompt(const taskkit::PromptFraming& framing) const override;
  std::string shortest_prompt_what() const override { return "prompt (no filler)"; }
};

}  // namespace e2llm::passkey
