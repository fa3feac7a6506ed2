// LongBench prediction files (what pred.py writes and eval.py reads): one JSON object per
// line, {"pred", "answers", "all_classes", "length"}.
#pragma once

#include <cstddef>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "e2llm/longbench/metrics.hpp"

namespace e2llm::longbench {

struct Prediction {
  std::string pred;
  std::vector<std::string> answers;
  nlohmann::json all_classes;  // null or a list of strings
  nlohmann::json length;       // an integer (null when a file lacks it)
  std::size_t line = 0;
};

// Throws e2llm::Error "FILE:LINE: field 'pred' ..." for a bad row; "pred" and "answers"
// are required, "all_classes" and "length" optional, other keys ignored.
std::vector<Prediction> read_predictions(const std::filesystem::path& file);

// One line as pred.py's json.dump(..., ensure_ascii=False) writes it (no newline).
std::string prediction_line(const Prediction& prediction);

// All lines, written atomically (temp file + rename).
void write_predictions(const std::filesystem::path& file, const std::vector<Prediction>& predictions);

struct FileScore {
  std::string dataset;
  Metric metric = Metric::qa_f1;
  std::size_t n = 0;
  double score = 0;                // round(100 * mean, 2), as eval.py prints it
  std::vector<double> per_sample;  // max over answers, before the x100
};

// eval.py's scorer() on one prediction file of a known dataset (its metric comes from the
// dataset table).
FileScore score_prediction_file(std::string_view dataset, const std::filesystem::path& file);

}  // namespace e2llm::longbench
