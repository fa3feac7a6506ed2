// The official LongBench v1 metrics (THUDM/LongBench LongBench/metrics.py and eval.py, with
// the Python `rouge` package 1.0.1 by pltrdy), reproduced to the last bit of the double.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace e2llm::longbench {

enum class Metric { qa_f1, rouge };

// The Python function name the official eval.py uses: "qa_f1_score" | "rouge_score".
std::string metric_name(Metric metric);

// normalize_answer: str.lower(), drop ASCII string.punctuation, re.sub(r"\b(a|an|the)\b",
// " "), then " ".join(text.split()).
std::string normalize_answer(std::string_view text);

// qa_f1_score: token-multiset F1 of the normalized texts; 0 when nothing overlaps.
double qa_f1_score(std::string_view prediction, std::string_view ground_truth);

// rouge_score: Rouge().get_scores([pred], [gold], avg=True)["rouge-l"]["f"], i.e.
// summary-level union-LCS ROUGE-L with exclusive (set) counting; 0 where Python raises.
double rouge_score(std::string_view prediction, std::string_view ground_truth);

double score(Metric metric, std::string_view prediction, std::string_view ground_truth);

// eval.py's per-sample score: max over the ground truths, starting from 0.
double score_sample(Metric metric, std::string_view prediction, const std::vector<std::string>& answers);

// Python's round(x, ndigits) for floats: the exact binary value rounded half-to-even.
double python_round(double x, int ndigits);

// eval.py's dataset score: round(100 * total / n, 2), total summed in order; 0 for n = 0.
double dataset_score(const std::vector<double>& per_sample);

}  // namespace e2llm::longbench
