// What passkey and kv-retrieval do alike as Task plugins: hold a configuration of the shared
// retrieval keys (taskkit/retrieval_trials.hpp) with the task's own defaults and fields, count the
// items a window plans, check every window of a sweep before it starts, and size the prompt at a
// window. Each task adds its info, configure (reading its own keys), fingerprint and evaluate.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "e2llm/error.hpp"
#include "e2llm/task.hpp"
#include "e2llm/taskkit/prompt_budget.hpp"
#include "e2llm/taskkit/retrieval_trials.hpp"

namespace e2llm::taskkit {

template <class Config>
class RetrievalTask : public Task {
  static_assert(std::is_base_of_v<RetrievalConfig, Config>, "Config extends taskkit::RetrievalConfig");

 public:
  std::optional<std::int64_t> planned_items(std::int64_t /*window*/) const override { return retrieval_items(config_); }

  // Every window is checked now, before the sweep prepares or trains anything.
  void set_sweep(const SweepInfo& sweep) override {
    check_retrieval_windows(name_, sweep.windows, config_.target_tokens, config_.max_new_tokens);
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
