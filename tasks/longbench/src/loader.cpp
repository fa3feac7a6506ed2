#include "e2llm/longbench/loader.hpp"

#include "e2llm/error.hpp"
#include "e2llm/util/files.hpp"

namespace e2llm::longbench {

namespace {

struct FieldReader {
  const nlohmann::json& object;
  std::string where;  // "FILE:LINE"

  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw Error(where + ": field '" + key + "' " + what);
  }
  const nlohmann::json& need(const std::string& key) const {
    auto it = object.find(key);
    if (it == object.end())
      fail(
          key,
          "is missing (a LongBench v1 row needs input, context, answers, length, dataset, language, all_classes, _id)");
    return *it;
  }
  std::string string(const std::string& key) const {
    const auto& v = need(key);
    if (!v.is_string()) fail(key, "must be a string, got " + std::string(v.type_name()));
    return v.get<std::string>();
  }
  std::vector<std::string> strings(const std::string& key, const nlohmann::json& v) const {
    if (!v.is_array()) fail(key, "must be a list of strings, got " + std::string(v.type_name()));
    std::vector<std::string> out;
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (!v[i].is_string()) fail(key, "item " + std::to_string(i) + " must be a string, got " + v[i].type_name());
      out.push_back(v[i].get<std::string>());
    }
    return out;
  }
};

}  // namespace

Row parse_row(const nlohmann::json& object, const std::string& file, std::size_t line) {
  FieldReader r{object, file + ":" + std::to_string(line)};
  Row row;
  row.line = line;
  row.id = r.string("_id");
  row.input = r.string("input");
  row.context = r.string("context");
  row.answers = r.strings("answers", r.need("answers"));
  if (row.answers.empty()) r.fail("answers", "is an empty list (every row needs at least one answer)");
  const auto& length = r.need("length");
  if (!length.is_number_integer()) r.fail("length", "must be an integer, got " + std::string(length.type_name()));
  row.length = length.get<std::int64_t>();
  row.dataset = r.string("dataset");
  row.language = r.string("language");
  row.all_classes = r.need("all_classes");
  if (!row.all_classes.is_null()) r.strings("all_classes", row.all_classes);
  return row;
}

std::vector<Row> load_rows(const std::filesystem::path& file, std::size_t limit) {
  std::vector<Row> rows;
  util::for_each_jsonl(file, [&](const nlohmann::json& object, std::size_t line) {
    if (limit == 0 || rows.size() < limit) rows.push_back(parse_row(object, file.string(), line));
  });
  return rows;
}

}  // namespace e2llm::longbench
