#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <optional>

#include "e2llm/error.hpp"
#include "e2llm/taskkit/lists.hpp"
#include "e2llm/taskkit/sample_loop.hpp"
#include "e2llm/taskkit/seeded_rng.hpp"
#include "e2llm/taskkit/sliding_window.hpp"
#include "fakes.hpp"

using namespace e2llm;
using namespace e2llm::taskkit;
using e2llm::fakes::ContextProbeModel;
using e2llm::fakes::fake_logprob;

namespace {

std::vector<std::int32_t> sequence(std::int64_t n) {
  std::vector<std::int32_t> ids(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) ids[std::size_t(i)] = std::int32_t((i * 37 + 11) % 251);
  return ids;
}

// The protocol written out token by token, independently of plan_sliding_windows: window k
// starts at k*S, or one token before the previous window's end when that is earlier (so
// that its first scored token has context: S = W); it ends W tokens later or at n. Token
// i >= 1 is scored by the first window that holds it after its first token, with context
// i - begin.
struct Naive {
  double nll = 0.0;
  std::int64_t count = 0, windows = 0;
};
Naive naive_perplexity(const std::vector<std::int32_t>& ids, std::int64_t W, std::int64_t S) {
  const std::int64_t n = std::int64_t(ids.size());
  std::vector<std::pair<std::int64_t, std::int64_t>> windows;  // [begin, end)
  for (std::int64_t k = 0; windows.empty() || windows.back().second < n; ++k) {
    std::int64_t begin = windows.empty() ? 0 : std::min(k * S, windows.back().second - 1);
    windows.emplace_back(begin, std::min(begin + W, n));
  }
  Naive r;
  r.windows = std::int64_t(windows.size());
  for (std::int64_t i = 1; i < n; ++i) {
    auto holder =
        std::find_if(windows.begin(), windows.end(), [&](const auto& w) { return w.first < i && i < w.second; });
    r.nll -= fake_logprob(ids[std::size_t(i)], std::size_t(i - holder->first));
    ++r.count;
  }
  return r;
}

}  // namespace

TEST(TaskkitSlidingWindow, MatchesBruteForceForManyShapes) {
  struct Case {
    std::int64_t W, S, n;
  };
  const Case cases[] = {{8, 4, 5},   {8, 4, 8},   {8, 4, 9},   {8, 3, 23},  {8, 8, 30}, {8, 8, 32},
                        {16, 5, 61}, {16, 1, 40}, {2, 1, 7},   {2, 2, 7},   {7, 3, 2},  {64, 16, 1000},
                        {10, 4, 10}, {10, 4, 11}, {10, 4, 14}, {10, 4, 15}, {5, 5, 5},  {5, 5, 6}};
  for (const auto& c : cases) {
    SCOPED_TRACE(::testing::Message() << "W=" << c.W << " S=" << c.S << " n=" << c.n);
    ContextProbeModel model(c.W);
    auto ids = sequence(c.n);
    auto r = sliding_window_perplexity(model, ids, c.W, c.S, Aggregation::TokenWeighted);
    Naive expected = naive_perplexity(ids, c.W, c.S);
    EXPECT_EQ(r.tokens_scored, c.n - 1);
    EXPECT_EQ(r.tokens_scored, expected.count);
    EXPECT_EQ(r.windows, expected.windows);
    EXPECT_NEAR(r.nll_sum, expected.nll, 1e-4 * std::max(1.0, expected.nll));
    EXPECT_NEAR(r.ppl, std::exp(expected.nll / double(expected.count)), 1e-5 * r.ppl);
    // Each call held at most W tokens, and per-window records add up.
    std::int64_t scored = 0;
    for (const auto& call : model.calls) EXPECT_LE(std::int64_t(call.length), c.W);
    for (const auto& w : r.per_window) {
      scored += w.tokens_scored;
      EXPECT_GT(w.tokens_scored, 0);
    }
    EXPECT_EQ(scored, r.tokens_scored);
  }
}

// Every stride from 1 to W (S = W: non-overlapping windows, the most common setting) and a
// short last window: every token from 1 on is scored exactly once, with context, and the
// model is never asked to score a window's first token (the LibTorch model refuses that).
TEST(TaskkitSlidingWindow, EveryStrideUpToTheWindowScoresEveryTokenOnceWithContext) {
  for (std::int64_t W = 2; W <= 9; ++W)
    for (std::int64_t S = 1; S <= W; ++S)
      for (std::int64_t n = 2; n <= 31; ++n) {
        SCOPED_TRACE(::testing::Message() << "W=" << W << " S=" << S << " n=" << n);
        ContextProbeModel model(W);
        auto ids = sequence(n);
        SlidingWindowResult r;
        ASSERT_NO_THROW(r = sliding_window_perplexity(model, ids, W, S, Aggregation::TokenWeighted));
        Naive expected = naive_perplexity(ids, W, S);
        ASSERT_EQ(r.tokens_scored, n - 1);
        ASSERT_EQ(r.windows, expected.windows);
        ASSERT_NEAR(r.nll_sum, expected.nll, 1e-4 * std::max(1.0, expected.nll));
        std::vector<int> scored(std::size_t(n), 0);
        for (const auto& w : r.per_window) {
          ASSERT_GT(w.score_begin, w.begin);  // context for every scored token
          ASSERT_LE(w.end - w.begin, W);
          for (std::int64_t i = w.score_begin; i < w.end; ++i) ++scored[std::size_t(i)];
        }
        for (std::int64_t i = 1; i < n; ++i) ASSERT_EQ(scored[std::size_t(i)], 1) << "token " << i;
      }
}

TEST(TaskkitSlidingWindow, NonOverlappingWindowsStepBackOneToken) {
  // n = 10, W = S = 4: [0,4) scores 1..3; [3,7) scores 4..6; [6,10) scores 7..9.
  auto plan = plan_sliding_windows(10, 4, 4);
  ASSERT_EQ(plan.size(), 3u);
  EXPECT_EQ(plan[1].begin, 3);
  EXPECT_EQ(plan[1].score_begin, 4);
  EXPECT_EQ(plan[1].end, 7);
  EXPECT_EQ(plan[2].begin, 6);
  EXPECT_EQ(plan[2].end, 10);
  EXPECT_EQ(plan[2].tokens_scored, 3);
}

TEST(TaskkitSlidingWindow, WindowLayoutFollowsTheHuggingFaceLoop) {
  // n = 23, W = 8, S = 4: windows start at 0, 4, 8, 12, 16 (16 + 8 >= 23 ends the loop).
  auto plan = plan_sliding_windows(23, 8, 4);
  ASSERT_EQ(plan.size(), 5u);
  EXPECT_EQ(plan[0].begin, 0);
  EXPECT_EQ(plan[0].end, 8);
  EXPECT_EQ(plan[0].score_begin, 1);  // token 0 has no context
  EXPECT_EQ(plan[1].begin, 4);
  EXPECT_EQ(plan[1].end, 12);
  EXPECT_EQ(plan[1].score_begin, 8);  // the last S tokens of a full window
  EXPECT_EQ(plan[4].begin, 16);
  EXPECT_EQ(plan[4].end, 23);
  EXPECT_EQ(plan[4].score_begin, 20);
  EXPECT_EQ(plan[4].tokens_scored, 3);  // a short last window
  // n < W: one window scoring n - 1 tokens.
  auto one = plan_sliding_windows(5, 8, 4);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].tokens_scored, 4);
}

TEST(TaskkitSlidingWindow, MeanOfWindowMeansByHand) {
  // W = 4, S = 2, n = 7: windows [0,4) scores 1..3, [2,6) scores 4..5, [4,7) scores 6.
  ContextProbeModel model(4);
  std::vector<std::int32_t> ids = {10, 20, 30, 40, 50, 60, 70};
  auto r = sliding_window_perplexity(model, ids, 4, 2, Aggregation::MeanOfWindowMeans);
  ASSERT_EQ(r.windows, 3);
  auto lp = [](std::int32_t t, std::size_t ctx) { return -double(float(fake_logprob(t, ctx))); };
  double w0 = (lp(20, 1) + lp(30, 2) + lp(40, 3)) / 3.0;
  double w1 = (lp(50, 2) + lp(60, 3)) / 2.0;  // window starts at 2: token 4 has context 2
  double w2 = lp(70, 2) / 1.0;                // window starts at 4: token 6 has context 2
  EXPECT_NEAR(r.ppl, std::exp((w0 + w1 + w2) / 3.0), 1e-9);
  double token_weighted = std::exp((3 * w0 + 2 * w1 + w2) / 6.0);
  EXPECT_NEAR(aggregate_perplexity(r.per_window, Aggregation::TokenWeighted), token_weighted, 1e-9);
  EXPECT_NE(r.ppl, token_weighted);
}

TEST(TaskkitSlidingWindow, RejectsBadShapes) {
  ContextProbeModel model(8);
  auto ids = sequence(20);
  EXPECT_THROW(sliding_window_perplexity(model, ids, 8, 9, Aggregation::TokenWeighted), Error);   // S > W
  EXPECT_THROW(sliding_window_perplexity(model, ids, 8, 0, Aggregation::TokenWeighted), Error);   // S = 0
  EXPECT_THROW(sliding_window_perplexity(model, ids, 16, 4, Aggregation::TokenWeighted), Error);  // W > model
  EXPECT_THROW(sliding_window_perplexity(model, {5}, 8, 4, Aggregation::TokenWeighted), Error);   // n < 2
  try {
    sliding_window_perplexity(model, ids, 8, 9, Aggregation::TokenWeighted);
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("stride 9"), std::string::npos) << e.what();
  }
}

TEST(TaskkitSlidingWindow, AggregationNames) {
  EXPECT_EQ(parse_aggregation("token_weighted"), Aggregation::TokenWeighted);
  EXPECT_EQ(parse_aggregation("mean_of_window_means"), Aggregation::MeanOfWindowMeans);
  EXPECT_EQ(aggregation_name(Aggregation::MeanOfWindowMeans), "mean_of_window_means");
  EXPECT_THROW(parse_aggregation("mean"), Error);
}

TEST(TaskkitSeededRng, IsReproducibleAndUniformInRange) {
  SeededRng a(42), b(42), c(43);
  EXPECT_EQ(a.next_u64(), b.next_u64());
  EXPECT_NE(SeededRng(42).next_u64(), c.next_u64());
  // SplitMix64's published first output for seed 0.
  EXPECT_EQ(SeededRng(0).next_u64(), 0xe220a8397b1dcdafull);
  SeededRng r(7);
  std::vector<int> counts(5, 0);
  for (int i = 0; i < 50000; ++i) {
    auto v = r.uniform_int(1, 5);
    ASSERT_GE(v, 1);
    ASSERT_LE(v, 5);
    ++counts[std::size_t(v - 1)];
  }
  for (int count : counts) EXPECT_NEAR(count, 10000, 400);
  EXPECT_EQ(derive_seed(1, "a"), derive_seed(1, "a"));
  EXPECT_NE(derive_seed(1, "a"), derive_seed(2, "a"));
  EXPECT_NE(derive_seed(1, "a"), derive_seed(1, "b"));
}

TEST(TaskkitLists, TokenCounts) {
  EXPECT_EQ(parse_token_count("4096"), 4096);
  EXPECT_EQ(parse_token_count("4k"), 4096);
  EXPECT_EQ(parse_token_count(" 32K "), 32768);
  EXPECT_EQ(parse_token_count("1m"), 1048576);
  EXPECT_THROW(parse_token_count("4kb"), Error);
  EXPECT_THROW(parse_token_count("0"), Error);
  EXPECT_EQ(format_fraction(0.25), "0.25");
  EXPECT_EQ(format_fraction(1.0), "1");
  EXPECT_EQ(format_fraction(0.1), "0.1");
  EXPECT_EQ(number_list(nlohmann::json::parse("[0, 0.5, 1]"), "depths"), (std::vector<double>{0, 0.5, 1}));
  EXPECT_THROW(number_list(nlohmann::json::parse("[0, \"x\"]"), "depths"), ConfigError);
}

// ---- run_generation_samples ----------------------------------------------------------------

namespace {

// Answers every prompt with its last token, keeping the contract; its generate_batch hands
// results over in reverse order (language_model_checks.hpp).
class EchoModel final : public LanguageModel {
 public:
  std::int64_t window() const override { return 64; }
  const Tokenizer& tokenizer() const override { return tokenizer_; }
  std::vector<float> token_logprobs(const std::vector<std::int32_t>& ids, std::size_t from) override {
    e2llm::testing::check_token_logprobs_args(window(), tokenizer_.vocab_size(), ids, from);
    return std::vector<float>(from < ids.size() ? ids.size() - from : 0, -1.0f);
  }
  std::vector<std::int32_t> generate(const std::vector<std::int32_t>& prompt, const GenerationOptions& o) override {
    e2llm::testing::check_generate_args(window(), tokenizer_.vocab_size(), prompt, o);
    ++generated;
    return o.max_new_tokens > 0 ? std::vector<std::int32_t>{prompt.back()} : std::vector<std::int32_t>{};
  }
  std::vector<std::vector<std::int32_t>> generate_batch(const std::vector<GenerationRequest>& requests,
                                                        const GenerationDone& done) override {
    return e2llm::testing::generate_each(*this, window(), tokenizer_.vocab_size(), requests, done);
  }
  std::int64_t batch_size() const override { return 2; }
  nlohmann::json describe() const override { return {{"model", "echo"}}; }
  int generated = 0;

 private:
  e2llm::testing::ByteTokenizer tokenizer_;
};

class MapStore final : public SampleStore {
 public:
  std::optional<nlohmann::json> find(const std::string& id) override {
    auto it = rows.find(id);
    return it == rows.end() ? std::nullopt : std::optional<nlohmann::json>(it->second);
  }
  void put(const std::string& id, const nlohmann::json& record) override { rows[id] = record; }
  std::map<std::string, nlohmann::json> rows;
};

}  // namespace

TEST(TaskkitGenerationSamples, StoresEachAsItFinishesAndReturnsSampleOrder) {
  EchoModel model;
  MapStore store;
  store.rows["s1"] = {{"i", 1}, {"answer", 100}};
  EvalContext context;
  context.samples = &store;
  std::vector<Sample> samples;
  for (int i = 0; i < 5; ++i) samples.push_back({"s" + std::to_string(i)});
  std::vector<std::size_t> requested, finished;
  auto reuse = [](std::size_t, const nlohmann::json& stored) -> std::optional<nlohmann::json> { return stored; };
  auto request = [&](std::size_t i) {
    requested.push_back(i);
    GenerationOptions o;
    o.max_new_tokens = 1;
    return GenerationRequest{{1, std::int32_t(10 + i)}, o};
  };
  auto finish = [&](std::size_t i, const std::vector<std::int32_t>& generated) {
    for (std::size_t f : finished) EXPECT_TRUE(store.rows.count("s" + std::to_string(f))) << "stored as it finished";
    finished.push_back(i);
    return nlohmann::json{{"i", i}, {"answer", generated.at(0)}};
  };
  auto records = run_generation_samples(context, model, samples, "items", reuse, request, finish);
  EXPECT_EQ(requested, (std::vector<std::size_t>{0, 2, 3, 4}));  // the stored one is not asked again
  EXPECT_EQ(finished, (std::vector<std::size_t>{4, 3, 2, 0}));   // the model's order
  ASSERT_EQ(records.size(), 5u);
  for (std::size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(records[i].at("i"), i);
    EXPECT_EQ(records[i].at("answer"), i == 1 ? 100 : int(10 + i));
    EXPECT_EQ(store.rows.at("s" + std::to_string(i)), records[i]);
  }
}

TEST(TaskkitGenerationSamples, AFailureKeepsTheFinishedSamples) {
  EchoModel model;
  MapStore store;
  EvalContext context;
  context.samples = &store;
  std::vector<Sample> samples = {{"a"}, {"b"}, {"c"}};
  auto reuse = [](std::size_t, const nlohmann::json& stored) -> std::optional<nlohmann::json> { return stored; };
  auto request = [](std::size_t i) {
    GenerationOptions o;
    o.max_new_tokens = 2;
    return GenerationRequest{{1, std::int32_t(5 + i)}, o};
  };
  auto finish = [](std::size_t i, const std::vector<std::int32_t>&) -> nlohmann::json {
    if (i == 1) throw Error("disk full");
    return {{"i", i}};
  };
  EXPECT_THROW(run_generation_samples(context, model, samples, "items", reuse, request, finish), Error);
  EXPECT_EQ(store.rows.size(), 1u);  // c finished first (reverse order) and stayed stored
  EXPECT_TRUE(store.rows.count("c"));
  // A resumed run asks only for what is missing.
  int asked = 0;
  auto counting = [&](std::size_t i) {
    ++asked;
    return request(i);
  };
  auto ok = [](std::size_t i, const std::vector<std::int32_t>&) { return nlohmann::json{{"i", i}}; };
  auto records = run_generation_samples(context, model, samples, "items", reuse, counting, ok);
  EXPECT_EQ(asked, 2);
  EXPECT_EQ(records[2].at("i"), 2);
}
