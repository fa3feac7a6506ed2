// The key-value retrieval task (docs/protocols.md §Key-value retrieval).
#pragma once

#include <cstdint>
#include <vector>

#include "e2llm/task.hpp"
#include "kv_prompt.hpp"

namespace e2llm::kv_retrieval {

inline constexpr const char* kName = "kv-retrieval";
inline constexpr const char* kVersion = "1.1.0";  // 1.1: intervals (uncertainty)

struct KvConfig {
  std::vector<double> depths{0.0, 0.25, 0.5, 0.75, 1.0};  // of the asked pair in the object
  std::int64_t trials = 2;                                // per (window, depth)
  Shape shape{};
  std::int32_t max_new_tokens = 16;
  std::int64_t target_tokens = 0;  // framed prompt tokens (BOS, template); 0 = window - max_new_tokens
  taskkit::FramingConfig framing;  // chat_template, add_bos (taskkit/prompt_framing.hpp)
  double threshold = 0.9;  // the report's "largest window with accuracy >= threshold"
};

class KvRetrievalTask final : public Task {
 public:
  TaskInfo info() const override;
  void configure(const nlohmann::json& config) override;
  std::string fingerprint() const override;
  CellResult evaluate(LanguageModel& model, EvalContext& context) override;
  std::optional<std::int64_t> planned_items(std::int64_t window) const override;
  void set_sweep(const SweepInfo& sweep) override;

  const KvConfig& config() const { return config_; }
  std::int64_t target_tokens_for(std::int64_t window) const;

 private:
  KvConfig config_;
  bool configured_ = false;
};

}  // namespace e2llm::kv_retrieval
