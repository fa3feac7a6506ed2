// LongBench prediction files (`e2llm score longbench PRED.jsonl`): read, score with both
// official metrics, and write back the way pred.py does; what is written must read back
// to the same predictions.
#include "e2llm/longbench/predictions.hpp"
#include "fuzz_support.hpp"

namespace e2llm::fuzz {
namespace {

void check_round_trip(const std::vector<longbench::Prediction>& predictions) {
  for (const auto& p : predictions) {
    const auto row = nlohmann::json::parse(longbench::prediction_line(p));
    if (row.at("pred") != p.pred || row.at("answers") != p.answers || row.at("all_classes") != p.all_classes ||
        row.at("length") != p.length)
      fail("prediction_line does not read back to the prediction of line " + std::to_string(p.line));
  }
}

}  // namespace

bool one_input(const uint8_t* data, size_t size) {
  const auto path = write_scratch("pred.jsonl", {reinterpret_cast<const char*>(data), size});
  std::vector<longbench::Prediction> predictions;
  const bool accepted = expect_contract([&] { predictions = longbench::read_predictions(path); }, {path.string()});
  for (const auto& p : predictions) {
    for (auto metric : {longbench::Metric::qa_f1, longbench::Metric::rouge}) {
      const double s = longbench::score_sample(metric, p.pred, p.answers);
      if (!(s >= 0.0 && s <= 1.0)) fail("a score outside [0, 1] on line " + std::to_string(p.line));
    }
  }
  check_round_trip(predictions);
  return accepted;
}

}  // namespace e2llm::fuzz
