// The Proof-Pile task: sliding-window perplexity over long documents (docs/protocols.md §Perplexity).
//
// Config keys (all optional except data):
//   data          JSONL file or folder (see documents.hpp)
//   max_documents 128 (the paper's count); 0 = every document that passes the filter
//   min_tokens    0 = no filter; documents with fewer tokens (BOS included) are skipped
//                 (the paper used 65536)
//   truncation    "fixed" (default): every window scores the same text, each document's
//                 first N tokens, N = truncate or, when 0, the sweep's largest window (PI's
//                 protocol: a method that uses more context shows a falling curve);
//                 "per_window": each document's first W tokens at window W (YaRN's
//                 --truncate code path; the scored text changes with W)
//   truncate      N for "fixed" (>= the sweep's largest window); 0 = the largest window
//                 (outside a sweep: the evaluated window)
//   stride        256 (the paper's S)
//   aggregation   "token_weighted" (default) | "mean_of_window_means" (YaRN's eval code)
//   add_bos       "auto": BOS (and EOS) as the tokenizer file says, as Hugging Face tokenizers
//                 frame a text; true: BOS always; false: never (taskkit/prompt_framing.hpp)
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "documents.hpp"
#include "e2llm/task.hpp"
#include "e2llm/taskkit/prompt_framing.hpp"
#include "e2llm/taskkit/sliding_window.hpp"

namespace e2llm::proofpile {

struct ProofPileConfig {
  std::filesystem::path data;
  std::int64_t max_documents = 128;
  std::int64_t min_tokens = 0;
  bool fixed_text = true;           // truncation = "fixed" | "per_window"
  std::int64_t truncate = 0;
  std::int64_t sweep_max_window = 0;  // from set_sweep(); 0 outside a sweep
  std::int64_t stride = 256;
  taskkit::Aggregation aggregation = taskkit::Aggregation::TokenWeighted;
  taskkit::BosRule add_bos = taskkit::BosRule::tokenizer;
};

class ProofPileTask final : public Task {
 public:
  TaskInfo info() const override;
  void configure(const nlohmann::json& config) override;
  // Fixed text: N = truncate or the largest window; refuses truncate < the largest window.
  void set_sweep(const SweepInfo& sweep) override;
  std::string fingerprint() const override;
  CellResult evaluate(LanguageModel& model, EvalContext& context) override;
  std::optional<std::int64_t> planned_items(std::int64_t window) const override;
  // {"out": DIR, "max_bytes", "seed", "eval_fraction", "packages"}; see corpus_builder.hpp.
  nlohmann::json prepare_data(const nlohmann::json& request) override;

  const ProofPileConfig& config() const { return config_; }

 private:
  nlohmann::json resolved_config() const;
  // The tokens each document keeps at `window` (before min(len, N)).
  std::int64_t text_length(std::int64_t window) const;
  // The documents, tokenized with `tokenizer` (cached across windows of one run).
  const std::vector<std::int32_t>& tokens_of(std::size_t index, const Tokenizer& tokenizer);
  struct Selection {
    std::vector<std::size_t> documents;  // indices into documents_
    std::int64_t filtered_short = 0;
  };
  Selection select_documents(const Tokenizer& tokenizer);
  // A document's record: its first `used` tokens scored by sliding windows; `tick` after
  // each window.
  nlohmann::json score_document(LanguageModel& model, std::size_t index, std::int64_t used, std::int64_t window,
                                const std::function<void()>& tick);
  // The metrics and protocol facts of the documents' records.
  void summarize(CellResult& result, const Selection& selection, std::int64_t window, std::int64_t truncate,
                 const Tokenizer& tokenizer) const;
  // The cell's intervals (CellResult::uncertainty): a bootstrap over the documents' records.
  nlohmann::json uncertainty(const std::vector<nlohmann::json>& records, std::uint64_t seed) const;

  ProofPileConfig config_;
  bool configured_ = false;
  std::vector<std::filesystem::path> files_;
  std::string data_sha256_;
  std::vector<Document> documents_;  // loaded on first evaluate
  bool loaded_ = false;
  std::string tokens_fingerprint_;
  std::vector<std::vector<std::int32_t>> tokens_;
  std::vector<bool> tokenized_;
};

}  // namespace e2llm::proofpile
