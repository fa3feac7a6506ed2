#include "e2llm/longbench/predictions.hpp"

#include "e2llm/error.hpp"
#include "e2llm/longbench/datasets.hpp"
#include "e2llm/util/files.hpp"

namespace e2llm::longbench {

namespace {

[[noreturn]] void fail(const std::filesystem::path& file, std::size_t line, const std::string& key,
                       const std::string& what) {
  throw Error(file.string() + ":" + std::to_string(line) + ": field '" + key + "' " + what);
}

std::vector<std::string> string_list(const nlohmann::json& v, const std::filesystem::path& file, std::size_t line,
                                     const std::string& key) {
  if (!v.is_array()) fail(file, line, key, "must be a list of strings, got " + std::string(v.type_name()));
  std::vector<std::string> out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_string()) fail(file, line, key, "item " + std::to_string(i) + " must be a string");
    out.push_back(v[i].get<std::string>());
  }
  return out;
}

// Python's json.dumps(ensure_ascii=False) layout: ", " and ": " separators, keys in the
// given order; strings escape the same characters nlohmann does (", \, control chars).
std::string python_dumps(const nlohmann::ordered_json& v) {
  if (v.is_object()) {
    std::string out = "{";
    bool first = true;
    for (const auto& item : v.items()) {
      if (!first) out += ", ";
      first = false;
      out += nlohmann::json(item.key()).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      out += ": " + python_dumps(item.value());
    }
    return out + "}";
  }
  if (v.is_array()) {
    std::string out = "[";
    for (std::size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + python_dumps(v[i]);
    return out + "]";
  }
  return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::vector<Prediction> read_predictions(const std::filesystem::path& file) {
  std::vector<Prediction> out;
  util::for_each_jsonl(file, [&](const nlohmann::json& row, std::size_t line) {
    Prediction p;
    p.line = line;
    auto pred = row.find("pred");
    if (pred == row.end()) fail(file, line, "pred", "is missing (a LongBench prediction row needs pred and answers)");
    if (!pred->is_string()) fail(file, line, "pred", "must be a string, got " + std::string(pred->type_name()));
    p.pred = pred->get<std::string>();
    auto answers = row.find("answers");
    if (answers == row.end())
      fail(file, line, "answers", "is missing (a LongBench prediction row needs pred and answers)");
    p.answers = string_list(*answers, file, line, "answers");
    if (auto it = row.find("all_classes"); it != row.end()) {
      if (!it->is_null()) string_list(*it, file, line, "all_classes");
      p.all_classes = *it;
    }
    if (auto it = row.find("length"); it != row.end()) {
      if (!it->is_null() && !it->is_number_integer()) fail(file, line, "length", "must be an integer");
      p.length = *it;
    }
    out.push_back(std::move(p));
  });
  return out;
}

std::string prediction_line(const Prediction& p) {
  nlohmann::ordered_json row;
  row["pred"] = p.pred;
  row["answers"] = p.answers;
  row["all_classes"] = p.all_classes;
  row["length"] = p.length;
  return python_dumps(row);
}

void write_predictions(const std::filesystem::path& file, const std::vector<Prediction>& predictions) {
  std::string content;
  for (const auto& p : predictions) content += prediction_line(p) + "\n";
  util::write_file_atomic(file, content);
}

FileScore score_prediction_file(std::string_view dataset_name, const std::filesystem::path& file) {
  const DatasetSpec& spec = dataset(dataset_name);
  FileScore out;
  out.dataset = spec.name;
  out.metric = spec.metric;
  for (const auto& p : read_predictions(file)) out.per_sample.push_back(score_sample(spec.metric, p.pred, p.answers));
  out.n = out.per_sample.size();
  out.score = dataset_score(out.per_sample);
  return out;
}

}  // namespace e2llm::longbench
