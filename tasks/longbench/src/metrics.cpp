#include "e2llm/longbench/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "e2llm/error.hpp"
#include "e2llm/longbench/python_text.hpp"

namespace e2llm::longbench {

std::string metric_name(Metric metric) {
  return metric == Metric::qa_f1 ? "qa_f1_score" : "rouge_score";
}

namespace {

// Python's string.punctuation (ASCII only).
bool is_ascii_punctuation(char32_t c) {
  return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) || (c >= 0x7B && c <= 0x7E);
}

// re.sub(r"\b(a|an|the)\b", " ", text): whole words only, \b per Python's Unicode \w.
std::u32string remove_articles(const std::u32string& text) {
  static const std::u32string kArticles[] = {U"a", U"an", U"the"};  // tried in this order
  std::u32string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    if (i == 0 || !py::is_word(text[i - 1])) {
      bool matched = false;
      for (const auto& article : kArticles) {
        std::size_t end = i + article.size();
        if (end <= text.size() && text.compare(i, article.size(), article) == 0 &&
            (end == text.size() || !py::is_word(text[end]))) {
          out.push_back(U' ');
          i = end;
          matched = true;
          break;
        }
      }
      if (matched) continue;
    }
    out.push_back(text[i++]);
  }
  return out;
}

std::u32string normalize(std::string_view text) {
  std::u32string lowered = py::lower(py::decode_utf8(text));
  std::u32string kept;
  kept.reserve(lowered.size());
  for (char32_t c : lowered)
    if (!is_ascii_punctuation(c)) kept.push_back(c);
  return py::join_spaces(py::split(remove_articles(kept)));
}

// --- ROUGE-L of pltrdy/rouge 1.0.1 -------------------------------------------------------

// Words are interned: the package compares words as strings, ids compare the same.
using Sentence = std::vector<std::int32_t>;

// `[" ".join(s.split()) for s in text.split(".") if len(s) > 0]`, then each sentence
// `.split(" ")`. A whitespace-only piece survives as the sentence "" whose one word is "".
std::vector<Sentence> rouge_sentences(std::string_view text, std::unordered_map<std::u32string, std::int32_t>& vocab) {
  std::u32string all = py::decode_utf8(text);
  std::vector<Sentence> sentences;
  std::size_t start = 0;
  while (start <= all.size()) {
    std::size_t dot = all.find(U'.', start);
    if (dot == std::u32string::npos) dot = all.size();
    if (dot > start) {
      std::vector<std::u32string> words = py::split(std::u32string_view(all).substr(start, dot - start));
      if (words.empty()) words.emplace_back();  // "".split(" ") == [""]
      Sentence s;
      for (auto& w : words)
        s.push_back(vocab.emplace(std::move(w), static_cast<std::int32_t>(vocab.size())).first->second);
      sentences.push_back(std::move(s));
    }
    start = dot + 1;
  }
  return sentences;
}

// rouge_score._recon is recursive: one Python frame per step of the walk back through the
// LCS table, plus the call that reaches a border. eval.py reaches it 9 frames deep
// (<module>, scorer, rouge_score, get_scores, _get_avg_scores, the metric lambda,
// rouge_l_summary_level, _union_lcs, _recon_lcs); with the default recursion limit of 1000,
// a walk needing more than 991 frames raises RecursionError, which rouge_score turns into 0.
constexpr std::size_t kMaxReconFrames = 1000 - 9;

// Adds the words of _recon_lcs(x, y) to `lcs_union` (with the package's tie-breaking);
// false when Python would have raised RecursionError.
bool add_recon_lcs(const Sentence& x, const Sentence& y, std::unordered_set<std::int32_t>& lcs_union) {
  const std::size_t n = x.size(), m = y.size();
  // The walk takes at least min(n, m) steps: skip the table when it must overflow.
  if (std::min(n, m) + 1 > kMaxReconFrames) return false;
  // LCS lengths are <= min(n, m) < 65536 here, so 16 bits per cell suffice.
  std::vector<std::uint16_t> table((n + 1) * (m + 1), 0);
  auto at = [&](std::size_t i, std::size_t j) -> std::uint16_t& { return table[i * (m + 1) + j]; };
  for (std::size_t i = 1; i <= n; ++i)
    for (std::size_t j = 1; j <= m; ++j)
      at(i, j) = x[i - 1] == y[j - 1] ? static_cast<std::uint16_t>(at(i - 1, j - 1) + 1)
                                      : std::max(at(i - 1, j), at(i, j - 1));
  std::size_t i = n, j = m, frames = 1;
  std::vector<std::int32_t> words;
  while (i > 0 && j > 0) {
    if (x[i - 1] == y[j - 1]) {
      words.push_back(x[i - 1]);
      --i, --j;
    } else if (at(i - 1, j) > at(i, j - 1)) {
      --i;
    } else {
      --j;
    }
    if (++frames > kMaxReconFrames) return false;
  }
  lcs_union.insert(words.begin(), words.end());
  return true;
}

}  // namespace

std::string normalize_answer(std::string_view text) {
  return py::encode_utf8(normalize(text));
}

double qa_f1_score(std::string_view prediction, std::string_view ground_truth) {
  std::vector<std::u32string> pred = py::split(normalize(prediction));
  std::vector<std::u32string> gold = py::split(normalize(ground_truth));
  // Counter(pred) & Counter(gold): the multiset intersection.
  std::unordered_map<std::u32string, long> counts;
  for (const auto& w : pred) ++counts[w];
  long same = 0;
  for (const auto& w : gold) {
    auto it = counts.find(w);
    if (it != counts.end() && it->second > 0) --it->second, ++same;
  }
  if (same == 0) return 0.0;
  double precision = 1.0 * static_cast<double>(same) / static_cast<double>(pred.size());
  double recall = 1.0 * static_cast<double>(same) / static_cast<double>(gold.size());
  return (2 * precision * recall) / (precision + recall);
}

double rouge_score(std::string_view prediction, std::string_view ground_truth) {
  std::unordered_map<std::u32string, std::int32_t> vocab;
  std::vector<Sentence> hyp = rouge_sentences(prediction, vocab);
  std::vector<Sentence> ref = rouge_sentences(ground_truth, vocab);
  // rouge_n / rouge_l_summary_level raise ValueError on an empty side.
  if (hyp.empty() || ref.empty()) return 0.0;
  // m, n: distinct words of the reference and of the hypothesis (exclusive counting).
  std::unordered_set<std::int32_t> ref_words, hyp_words;
  for (const auto& s : ref) ref_words.insert(s.begin(), s.end());
  for (const auto& s : hyp) hyp_words.insert(s.begin(), s.end());
  // The union LCS is one set carried across all reference sentences, so the sum of the
  // per-sentence increments is the size of the final set.
  std::unordered_set<std::int32_t> lcs_union;
  for (const auto& r : ref)
    for (const auto& c : hyp)
      if (!add_recon_lcs(r, c, lcs_union)) return 0.0;
  const double llcs = static_cast<double>(lcs_union.size());
  const double r_lcs = llcs / static_cast<double>(ref_words.size());
  const double p_lcs = llcs / static_cast<double>(hyp_words.size());
  return 2.0 * ((p_lcs * r_lcs) / (p_lcs + r_lcs + 1e-8));
}

double score(Metric metric, std::string_view prediction, std::string_view ground_truth) {
  return metric == Metric::qa_f1 ? qa_f1_score(prediction, ground_truth) : rouge_score(prediction, ground_truth);
}

double score_sample(Metric metric, std::string_view prediction, const std::vector<std::string>& answers) {
  double best = 0.0;
  for (const auto& answer : answers) best = std::max(best, score(metric, prediction, answer));
  return best;
}

double python_round(double x, int ndigits) {
  // glibc's printf rounds the exact binary value half-to-even, as CPython's round() does
  // (via _Py_dg_dtoa mode 3); the decimal string is then read back like CPython does.
  if (!std::isfinite(x)) return x;
  char buf[512];
  int n = std::snprintf(buf, sizeof buf, "%.*f", ndigits, x);
  if (n < 0 || n >= static_cast<int>(sizeof buf)) throw Error("python_round: value out of range");
  return std::strtod(buf, nullptr);
}

double dataset_score(const std::vector<double>& per_sample) {
  if (per_sample.empty()) return 0.0;
  double total = 0.0;
  for (double s : per_sample) total += s;
  return python_round(100 * total / static_cast<double>(per_sample.size()), 2);
}

}  // namespace e2llm::longbench
