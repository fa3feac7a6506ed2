// The helpers other tests rely on, checked against the defects they exist to catch:
// - the LanguageModel conformance suite fails a model whose log-probabilities are all 0, one
//   that generates nothing, and one whose greedy choice is not its most likely token, and
//   passes a model that keeps the contract;
// - kill_when counts a kill only when its condition held: a condition that never holds is a
//   test failure, not a hit.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include "kill_when.hpp"
#include "language_model_conformance.hpp"

namespace {

class TinyTokenizer final : public e2llm::Tokenizer {
 public:
  void load(const std::string&) override {}
  void train(const e2llm::TokenizerTrainOptions&) override {}
  std::vector<std::int32_t> encode(std::string_view text) const override {
    std::vector<std::int32_t> ids;
    for (unsigned char c : text) ids.push_back(3 + c % 29);
    return ids;
  }
  std::string decode(const std::vector<std::int32_t>& ids) const override { return std::string(ids.size(), 'x'); }
  std::int32_t bos_id() const override { return 1; }
  std::int32_t eos_id() const override { return 2; }
  std::int32_t vocab_size() const override { return 32; }
  bool adds_bos() const override { return true; }
  bool adds_eos() const override { return false; }
  std::optional<std::int32_t> token_id(std::string_view) const override { return std::nullopt; }
  std::string chat_template() const override { return ""; }
  std::string fingerprint() const override { return "tiny"; }
  std::string model_path() const override { return "(tiny)"; }
};

enum class Defect { none, zero_logprobs, empty_generation, greedy_not_argmax };

// A model that keeps the contract (a fixed distribution that prefers token 7, greedy
// generation of 7s) unless given a defect.
class Model final : public e2llm::LanguageModel {
 public:
  explicit Model(Defect defect) : defect_(defect) {}
  std::int64_t window() const override { return 64; }
  const e2llm::Tokenizer& tokenizer() const override { return tok_; }
  std::vector<float> token_logprobs(const std::vector<std::int32_t>& ids, std::size_t from) override {
    e2llm::testing::check_token_logprobs_args(64, 32, ids, from);
    std::vector<float> out;
    for (std::size_t i = from; i < ids.size(); ++i)
      out.push_back(defect_ == Defect::zero_logprobs ? 0.0f : float(std::log(ids[i] == 7 ? 0.5 : 0.5 / 31)));
    return out;
  }
  std::vector<std::int32_t> generate(const std::vector<std::int32_t>& prompt,
                                     const e2llm::GenerationOptions& o) override {
    e2llm::testing::check_generate_args(64, 32, prompt, o);
    if (defect_ == Defect::empty_generation) return {};
    return std::vector<std::int32_t>(std::size_t(o.max_new_tokens), defect_ == Defect::greedy_not_argmax ? 9 : 7);
  }
  std::vector<std::vector<std::int32_t>> generate_batch(const std::vector<e2llm::GenerationRequest>& requests,
                                                        const e2llm::GenerationDone& done) override {
    return e2llm::testing::generate_each(*this, 64, 32, requests, done);
  }
  std::int64_t batch_size() const override { return 2; }
  nlohmann::json describe() const override { return {{"model", "test"}}; }

 private:
  TinyTokenizer tok_;
  Defect defect_;
};

// The failures expect_language_model_contract reports for `model`, as one string.
std::string contract_failures(Model& model) {
  ::testing::TestPartResultArray results;
  {
    ::testing::ScopedFakeTestPartResultReporter reporter(
        ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &results);
    e2llm::testing::expect_language_model_contract(model);
  }
  std::string all;
  for (int i = 0; i < results.size(); ++i) all += std::string(results.GetTestPartResult(i).message()) + "\n";
  return all;
}

}  // namespace

TEST(Conformance, PassesAModelThatKeepsTheContract) {
  Model good(Defect::none);
  EXPECT_EQ(contract_failures(good), "");
  e2llm::testing::expect_next_token_distribution(good, {1, 5, 6});
}

TEST(Conformance, RejectsAModelWhoseLogProbsAreAllZero) {
  Model m(Defect::zero_logprobs);
  EXPECT_NE(contract_failures(m).find("not the log-probabilities of a distribution"), std::string::npos);
}

TEST(Conformance, RejectsAModelThatGeneratesNothing) {
  Model m(Defect::empty_generation);
  EXPECT_NE(contract_failures(m).find("a model that generates nothing fails"), std::string::npos);
}

TEST(Conformance, RejectsGreedyGenerationThatIsNotTheMostLikelyToken) {
  Model m(Defect::greedy_not_argmax);
  EXPECT_NE(contract_failures(m).find("has a higher log-probability after the prompt"), std::string::npos);
}

TEST(KillWhen, KillsWhenTheConditionHolds) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::execl("/bin/sleep", "sleep", "30", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(e2llm::testing::kill_when(
      pid, [&] { return std::chrono::steady_clock::now() - start > std::chrono::milliseconds(50); }));
}

TEST(KillWhen, AConditionThatNeverHoldsIsAFailureNotAHit) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::execl("/bin/sleep", "sleep", "30", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  bool hit = true;
  EXPECT_NONFATAL_FAILURE(hit = e2llm::testing::kill_when(
                              pid, [] { return false; }, std::chrono::milliseconds(200)),
                          "the condition did not hold");
  EXPECT_FALSE(hit);
  EXPECT_NE(::waitpid(pid, nullptr, WNOHANG), 0) << "the process must be killed and reaped";
}

TEST(KillWhen, AProcessThatExitsFirstIsNoKill) {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  EXPECT_FALSE(e2llm::testing::kill_when(
      pid, [] { return false; }, std::chrono::seconds(30)));
}
