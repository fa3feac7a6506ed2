#include "e2llm/taskkit/sliding_window.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "e2llm/error.hpp"

namespace e2llm::taskkit {

std::string aggregation_name(Aggregation aggregation) {
  switch (aggregation) {
    case Aggregation::TokenWeighted:
      return "token_weighted";
    case Aggregation::MeanOfWindowMeans:
      return "mean_of_window_means";
  }
  return "unknown";
}

Aggregation parse_aggregation(const std::string& name) {
  if (name == "token_weighted") return Aggregation::TokenWeighted;
  if (name == "mean_of_window_means") return Aggregation::MeanOfWindowMeans;
  throw Error("aggregation '" + name + "' is not one of token_weighted, mean_of_window_means");
}

std::vector<WindowRecord> plan_sliding_windows(std::int64_t n, std::int64_t window, std::int64_t stride) {
  if (n < 2) throw Error(fmt::format("sliding window: a sequence of {} token(s) has nothing to score (need >= 2)", n));
  if (window < 2) throw Error(fmt::format("sliding window: window {} is too small (need >= 2)", window));
  if (stride < 1 || stride > window)
    throw Error(
        fmt::format("sliding window: stride {} must be in [1, window = {}] (a larger stride would leave "
                    "tokens unscored)",
                    stride, window));
  std::vector<WindowRecord> plan;
  std::int64_t previous_end = 0;
  for (std::int64_t k = 0; plan.empty() || previous_end < n; ++k) {
    WindowRecord w;
    // Window k starts at k*S, but no later than one token before the previous window's end:
    // its first scored token needs context inside the window (when S = W it would have none).
    w.begin = plan.empty() ? 0 : std::min(k * stride, previous_end - 1);
    w.end = std::min(w.begin + window, n);
    // Token 0 has no context; later windows start scoring where the previous one stopped.
    w.score_begin = std::max(previous_end, w.begin + 1);
    w.tokens_scored = w.end - w.score_begin;
    plan.push_back(w);
    previous_end = w.end;
  }
  return plan;
}

double aggregate_perplexity(const std::vector<WindowRecord>& windows, Aggregation aggregation) {
  if (windows.empty()) throw Error("perplexity of zero windows is undefined");
  double nll = 0.0, mean_sum = 0.0;
  std::int64_t tokens = 0;
  for (const auto& w : windows) nll += w.nll_sum, tokens += w.tokens_scored, mean_sum += w.mean_nll();
  if (aggregation == Aggregation::TokenWeighted) return std::exp(nll / double(tokens));
  return std::exp(mean_sum / double(windows.size()));
}

SlidingWindowResult sliding_window_perplexity(LanguageModel& model, const std::vector<std::int32_t>& ids,
                                              std::int64_t window, std::int64_t stride, Aggregation aggregation,
                                              const std::function<void(const WindowRecord&)>& on_window) {
  if (window > model.window())
    throw Error(fmt::format("sliding window: window {} exceeds the model's window {}", window, model.window()));
  SlidingWindowResult result;
  result.aggregation = aggregation;
  result.per_window = plan_sliding_windows(std::int64_t(ids.size()), window, stride);
  for (auto& w : result.per_window) {
    std::vector<std::int32_t> chunk(ids.begin() + w.begin, ids.begin() + w.end);
    std::vector<float> logprobs = model.token_logprobs(chunk, std::size_t(w.score_begin - w.begin));
    if (std::int64_t(logprobs.size()) != w.tokens_scored)
      throw Error(
          fmt::format("sliding window: the model returned {} log-probabilities for {} scored tokens "
                      "(window [{}, {}))",
                      logprobs.size(), w.tokens_scored, w.begin, w.end));
    for (float lp : logprobs) {
      if (!std::isfinite(lp))
        throw Error(fmt::format("sliding window: the model returned a non-finite log-probability in window [{}, {})",
                                w.begin, w.end));
      w.nll_sum -= double(lp);
    }
    result.nll_sum += w.nll_sum;
    result.tokens_scored += w.tokens_scored;
    result.tokens_forwarded += w.end - w.begin;
    ++result.windows;
    if (on_window) on_window(w);
  }
  result.ppl = aggregate_perplexity(result.per_window, aggregation);
  return result;
}

}  // namespace e2llm::taskkit
