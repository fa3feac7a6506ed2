// Sliding-window perplexity of one token sequence (docs/protocols.md §Perplexity; Press et al. 2022,
// "Train Short, Test Long", and the Hugging Face "Perplexity of fixed-length models" guide).
//
// Windows of up to W = `window` tokens start every S = `stride` tokens (0, S, 2S, ...) until
// one reaches the end of the sequence. Each window scores only the tokens no earlier window
// scored; the first window scores all of its tokens except token 0, which has no context.
// So every token 1..n-1 is scored exactly once, with as much context as the window allows.
// A window's first token has no context inside it, so a window never starts later than one
// token before the previous window's end: begin_k = min(k*S, end_{k-1} - 1), end_k =
// min(begin_k + W, n), scored [max(end_{k-1}, begin_k + 1), end_k). For S < W that is the
// plain k*S; for S = W (non-overlapping windows) window k starts at end_{k-1} - 1 and
// scores W - 1 new tokens, each with at least one token of context.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "e2llm/language_model.hpp"

namespace e2llm::taskkit {

// How the per-token losses become one perplexity.
enum class Aggregation {
  // exp(sum of NLL over all scored tokens / number of scored tokens): the definition.
  TokenWeighted,
  // exp(mean over windows of each window's mean NLL): what jquesnelle/yarn's eval code
  // computes (one `outputs.loss` per window, then the mean). Weights a short last window
  // like a full one, so it differs from TokenWeighted unless every window scores S tokens.
  MeanOfWindowMeans,
};

// "token_weighted" | "mean_of_window_means"
std::string aggregation_name(Aggregation aggregation);
// Throws e2llm::Error naming the accepted spellings.
Aggregation parse_aggregation(const std::string& name);

struct WindowRecord {
  std::int64_t begin = 0;        // first token of the window (inclusive)
  std::int64_t end = 0;          // one past its last token
  std::int64_t score_begin = 0;  // first token this window scores (absolute index)
  std::int64_t tokens_scored = 0;
  double nll_sum = 0.0;
  double mean_nll() const { return tokens_scored > 0 ? nll_sum / double(tokens_scored) : 0.0; }
};

struct SlidingWindowResult {
  double nll_sum = 0.0;            // over all scored tokens
  std::int64_t tokens_scored = 0;  // n - 1 for a sequence of n tokens
  std::int64_t windows = 0;
  std::int64_t tokens_forwarded = 0;  // sum of window lengths: the work the model did
  double ppl = 0.0;                   // by the requested aggregation
  Aggregation aggregation = Aggregation::TokenWeighted;
  std::vector<WindowRecord> per_window;
};

// The windows the protocol visits for n tokens, without calling a model (for planning and
// tests). Throws e2llm::Error if n < 2, window < 2 or stride is not in [1, window].
std::vector<WindowRecord> plan_sliding_windows(std::int64_t n, std::int64_t window, std::int64_t stride);

// Scores `ids` with model.token_logprobs(ids[begin:end), score_begin - begin) per window.
// `window` may not exceed model.window(). `on_window` (optional) is called after each
// window, e.g. for progress.
SlidingWindowResult sliding_window_perplexity(LanguageModel& model, const std::vector<std::int32_t>& ids,
                                              std::int64_t window, std::int64_t stride, Aggregation aggregation,
                                              const std::function<void(const WindowRecord&)>& on_window = {});

// exp(nll_sum / tokens) or exp(mean of window means) over already-scored windows; used to
// combine several documents' windows into one number with the same rule.
double aggregate_perplexity(const std::vector<WindowRecord>& windows, Aggregation aggregation);

}  // namespace e2llm::taskkit
