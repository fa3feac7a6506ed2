// Golden tests: the official LongBench metrics.py scores of real prediction files, per row
// (to 1e-9) and per file (exactly), plus hand cases of the Python semantics they rest on.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "e2llm/longbench/metrics.hpp"
#include "e2llm/longbench/predictions.hpp"
#include "e2llm/longbench/python_text.hpp"

using namespace e2llm::longbench;

namespace {

const std::string kPredictions = std::string(E2LLM_SHARED_DATA) + "/longbench/predictions/";

std::vector<double> official_row_scores(const std::string& name) {
  std::vector<double> out;
  std::ifstream in(kPredictions + name + ".scores.jsonl");
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(nlohmann::json::parse(line).at("score").get<double>());
  return out;
}

nlohmann::json official_file_scores() {
  std::ifstream in(kPredictions + "official_scores.json");
  return nlohmann::json::parse(in);
}

void check_golden(const std::string& name) {
  FileScore scored = score_prediction_file(name, kPredictions + name + ".jsonl");
  std::vector<double> official = official_row_scores(name);
  ASSERT_EQ(scored.per_sample.size(), official.size());
  double max_error = 0;
  for (std::size_t i = 0; i < official.size(); ++i) {
    double error = std::abs(scored.per_sample[i] - official[i]);
    max_error = std::max(max_error, error);
    EXPECT_LE(error, 1e-9) << name << " row " << i + 1;
  }
  ::testing::Test::RecordProperty("max_abs_error", std::to_string(max_error));
  std::printf("%s: max |row - official| = %.3g\n", name.c_str(), max_error);
  nlohmann::json file = official_file_scores().at(name);
  EXPECT_EQ(scored.n, file.at("n").get<std::size_t>());
  EXPECT_EQ(metric_name(scored.metric), file.at("metric").get<std::string>());
  EXPECT_EQ(scored.score, file.at("score").get<double>());  // exact: same rounding as Python
}

}  // namespace

TEST(longbench_golden, QasperMatchesOfficialScores) {
  check_golden("qasper");
}
TEST(longbench_golden, GovReportMatchesOfficialScores) {
  check_golden("gov_report");
}

TEST(longbench_normalize_answer, LowercasesAndDropsAsciiPunctuation) {
  EXPECT_EQ(normalize_answer("Hello, World!"), "hello world");
  EXPECT_EQ(normalize_answer("\"Yes.\""), "yes");
  EXPECT_EQ(normalize_answer("a_b-c"), "abc");  // '_' and '-' are both string.punctuation
  // Non-ASCII punctuation is not in string.punctuation and stays.
  EXPECT_EQ(normalize_answer("\u201cquoted\u201d \u2014 dash"), "\u201cquoted\u201d \u2014 dash");
}

TEST(longbench_normalize_answer, LowercasesNonAscii) {
  EXPECT_EQ(normalize_answer("\u00C9COLE \u00C7A"), "\u00E9cole \u00E7a");  // "ÉCOLE ÇA"
  EXPECT_EQ(normalize_answer("\u0130"), "i\u0307");                         // İ has a two-character lowercase
  EXPECT_EQ(normalize_answer("\u039F\u0394\u039F\u03A3"), "\u03BF\u03B4\u03BF\u03C2");  // final sigma
  EXPECT_EQ(normalize_answer("\u03A3\u0391"), "\u03C3\u03B1");
  // 'ª' is cased (Other_Lowercase), so the sigma before it is not final; U+0301 is skipped.
  EXPECT_EQ(normalize_answer("\u039F\u03A3\u0301\u00AA"), "\u03BF\u03C3\u0301\u00AA");
  EXPECT_EQ(normalize_answer("\u039F\u03A3\u0301 x"), "\u03BF\u03C2\u0301 x");
}

TEST(longbench_normalize_answer, RemovesWholeArticlesOnly) {
  EXPECT_EQ(normalize_answer("The cat and a dog, an owl"), "cat and dog owl");
  EXPECT_EQ(normalize_answer("theory another ant thesis bathe"), "theory another ant thesis bathe");
  EXPECT_EQ(normalize_answer("the-end"), "theend");  // punctuation goes first, joining the words
  // A combining mark is not a word character: "the" + U+0301 still ends a word.
  EXPECT_EQ(normalize_answer("the\u0301 x"), "\u0301 x");
  EXPECT_EQ(normalize_answer("an\u00B2"), "an\u00B2");  // '²' is numeric, so a word character
}

TEST(longbench_normalize_answer, ArticleBoundariesAreUnicodeAware) {
  // \b: 'é' is a word character, so "aé" is one word; U+3000 is not, so "a" stands alone.
  EXPECT_EQ(normalize_answer("a\u00E9 the\u3000x"), "a\u00E9 x");
  // Digits and underscores count as word characters too ("_" is removed before though).
  EXPECT_EQ(normalize_answer("a1 the2"), "a1 the2");
}

TEST(longbench_normalize_answer, SplitsOnUnicodeWhitespace) {
  EXPECT_EQ(normalize_answer("x\u3000y\u00A0z\u2009w"), "x y z w");
  EXPECT_EQ(normalize_answer("x\x1cy\x1fz\u0085w\u2028v"), "x y z w v");
  EXPECT_EQ(normalize_answer("  \t\n "), "");
  // U+200B (zero width space) is not whitespace for Python.
  EXPECT_EQ(normalize_answer("x\u200By"), "x\u200By");
}

TEST(longbench_qa_f1, CountsTokenMultisets) {
  EXPECT_DOUBLE_EQ(qa_f1_score("the cat sat", "a cat sat down"), 2 * (1.0 * (2.0 / 3.0)) / (1.0 + 2.0 / 3.0));
  EXPECT_EQ(qa_f1_score("yes yes", "yes"), (2 * 0.5 * 1.0) / 1.5);
  EXPECT_EQ(qa_f1_score("", "yes"), 0.0);
  EXPECT_EQ(qa_f1_score("no", "yes"), 0.0);
  EXPECT_EQ(qa_f1_score("Yes!", "yes"), 1.0);
}

TEST(longbench_rouge, EmptySidesScoreZero) {
  EXPECT_EQ(rouge_score("", "a reference."), 0.0);     // ValueError in Python
  EXPECT_EQ(rouge_score("...", "a reference."), 0.0);  // only empty pieces
  EXPECT_EQ(rouge_score("a hypothesis", ""), 0.0);
}

TEST(longbench_rouge, SentenceWithoutFullStop) {
  // One sentence each; LCS "the cat on mat"; both sides have 5 distinct words ("the" twice).
  double p = 4.0 / 5.0, r = 4.0 / 5.0;
  EXPECT_EQ(rouge_score("the cat sat on mat", "the cat lay on the mat"), 2.0 * ((p * r) / (p + r + 1e-8)));
}

TEST(longbench_rouge, IsCaseSensitiveAndCountsDistinctWords) {
  EXPECT_EQ(rouge_score("The Cat", "the cat"), 0.0);
  double p = 1.0, r = 1.0;
  EXPECT_EQ(rouge_score("x x x", "x"), 2.0 * ((p * r) / (p + r + 1e-8)));
}

TEST(longbench_rouge, WhitespaceOnlyPieceIsTheEmptyWord) {
  // "a. . b" -> sentences ["a", "", "b"]: the word "" counts like any other.
  double p = 1.0, r = 1.0;
  EXPECT_EQ(rouge_score("a. . b", "a. . b"), 2.0 * ((p * r) / (p + r + 1e-8)));
  double p2 = 2.0 / 3.0, r2 = 1.0;
  EXPECT_EQ(rouge_score("a. . b", "a. b"), 2.0 * ((p2 * r2) / (p2 + r2 + 1e-8)));
}

TEST(longbench_rouge, DeepReconstructionRaisesInPython) {
  // _recon recurses once per LCS step: 990 identical words fit under Python's recursion
  // limit from eval.py, 991 raise RecursionError (scored 0).
  auto words = [](int n) {
    std::string s;
    for (int i = 0; i < n; ++i) s += (i ? " w" : "w") + std::to_string(i);
    return s;
  };
  EXPECT_GT(rouge_score(words(990), words(990)), 0.99);
  EXPECT_EQ(rouge_score(words(991), words(991)), 0.0);
}

TEST(longbench_score_sample, TakesTheMaxOverAnswers) {
  EXPECT_EQ(score_sample(Metric::qa_f1, "paris", {"london", "Paris", "paris france"}), 1.0);
  EXPECT_EQ(score_sample(Metric::qa_f1, "paris", {}), 0.0);
}

TEST(longbench_python_round, RoundsTheBinaryValueHalfToEven) {
  EXPECT_EQ(python_round(2.675, 2), 2.67);  // 2.675 is 2.67499999... in binary
  EXPECT_EQ(python_round(0.125, 2), 0.12);  // an exact tie: to even
  EXPECT_EQ(python_round(0.375, 2), 0.38);
  EXPECT_EQ(python_round(21.752897792840150, 2), 21.75);
  EXPECT_EQ(python_round(-1.005, 2), -1.0);
  EXPECT_EQ(dataset_score({0.5, 0.25}), 37.5);
  EXPECT_EQ(dataset_score({}), 0.0);
}

TEST(longbench_python_text, IsSpaceMatchesCPython) {
  for (char32_t c :
       {U'\t',     U'\n',     U'\v',     U'\f',     U'\r',     U'\x1c',   U'\x1d',   U'\x1e',   U'\x1f',   U' ',
        U'\u0085', U'\u00A0', U'\u1680', U'\u2000', U'\u200A', U'\u2028', U'\u2029', U'\u202F', U'\u205F', U'\u3000'})
    EXPECT_TRUE(py::is_space(c)) << static_cast<unsigned>(c);
  for (char32_t c : {U'\u180E', U'\u200B', U'\uFEFF', U'a', U'\u00A1'}) EXPECT_FALSE(py::is_space(c));
}
