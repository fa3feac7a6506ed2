// What passkey and kv-retrieval do alike as Task plugins: hold a configuration of the shared
// retrieval keys (taskkit/retrieval_trials.hpp) with the task's own defaults and fields, count the
// items a window plans, check every window of a sweep before it starts, and size the prompt at a
// window. Each task adds its info, configure (reading its own keys), fingerprint and evaluate.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "e2llm/error.hpp"
#include "e2llm/task.hpp"
#include "e2llm/taskkit/prompt_budget.hpp"
#include "e2llm/taskkit/prompt_framing.hpp"
#include "e2llm/taskkit/retrieval_trials.hpp"

namespace e2llm::taskkit {

template <class Config>
class RetrievalTask : public Task {
  static_assert(std::is_base_of_v<RetrievalConfig, Config>, "Config extends taskkit::RetrievalConfig");

 public:
  std::optional<std::int64_t> planned_items(std::int64_t /*window*/) const override { return retrieval_items(config_); }

  // Every window is checked now, before the sweep prepares or trains anything: the answer
  // fits, and, with the sweep's tokenizer, the task's shortest prompt fits the smallest window's
  // target (the prompt target is smallest there).
  void set_sweep(const SweepInfo& sweep) override {
    check_retrieval_windows(name_, sweep.windows, config_.target_tokens, config_.max_new_tokens);
    if (!sweep.tokenizer || sweep.windows.empty()) return;
    const std::int64_t window = *std::min_element(sweep.windows.begin(), sweep.windows.end());
    const std::int64_t target = target_tokens_for(window);
    const std::int64_t shortest = shortest_prompt(PromptFraming(*sweep.tokenizer, config_.framing, kTaskTemplateHint));
    if (shortest <= target) return;
    const std::string fix = config_.target_tokens > 0
                                ? "raise target_tokens to at least " + std::to_string(shortest)
                                : "use windows of at least " + std::to_string(shortest + config_.max_new_tokens) +
                                      " tokens (the prompt and max_new_tokens " +
                                      std::to_string(config_.max_new_tokens) + ")";
    throw ConfigError("target_tokens", name_ + ": window " + std::to_string(window) + " leaves " +
                                           std::to_string(target) + " tokens for the prompt, but its shortest " +
                                           shortest_prompt_what() + " takes " + std::to_string(shortest) +
                                           " tokens with this tokenizer: " + fix);
  }

  const Config& config() const { return config_; }

  // The prompt size used at `window`; throws ConfigError when the prompt and the answer cannot fit.
  std::int64_t target_tokens_for(std::int64_t window) const {
    return retrieval_prompt_tokens(name_, window, config_.target_tokens, config_.max_new_tokens);
  }

 protected:
  explicit RetrievalTask(std::string name) : name_(std::move(name)) {}

  const std::string& name() const { return name_; }

  // The configuration, checked to have been set: `caller` names the method in the error.
  const Config& configured(const char* caller) const {
    if (!configured_) throw Error(name_ + ": " + caller + "() called before configure()");
    return config_;
  }

  // The fewest tokens this task's prompt takes with `framing` (passkey: no filler; kv-retrieval:
  // one pair), for set_sweep's check; and what that shortest prompt is, in words.
  virtual std::int64_t shortest_prompt(const PromptFraming& framing) const = 0;
  virtual std::string shortest_prompt_what() const = 0;

  void set_config(Config config) {
    config_ = std::move(config);
    configured_ = true;
  }

 private:
  std::string name_;
  Config config_;
  bool configured_ = false;
};

}  // namespace e2llm::taskkit
