// How `e2llm report` shows LongBench cells: one table of datasets x backends per window,
// in LongBench's dataset order with avg_en last, and the paper's numbers beside ours.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "e2llm/report_view.hpp"

namespace e2llm::longbench {

// Published LongBench v1 English scores of one model (0..100).
struct PaperReference {
  std::string model;  // e.g. "Llama2-7B-chat-4k"
  std::string source;
  std::vector<std::pair<std::string, double>> scores;  // dataset -> score
};
const std::vector<PaperReference>& paper_reference();

ReportView report_view();

}  // namespace e2llm::longbench
