// Reads LongBench v1 rows (one JSON object per line); unknown keys are ignored.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace e2llm::longbench {

struct Row {
  std::string id;  // "_id"
  std::string input;
  std::string context;
  std::vector<std::string> answers;
  std::int64_t length = 0;
  std::string dataset;
  std::string language;
  nlohmann::json all_classes;  // null or a list of strings, written back verbatim
  std::size_t line = 0;        // 1-based line in the file
};

// Parses one row; throws e2llm::Error "FILE:LINE: field 'answers' ..." naming the field.
Row parse_row(const nlohmann::json& object, const std::string& file, std::size_t line);

// The first `limit` rows (0 = all). Throws e2llm::Error "FILE:LINE: ..." for a malformed
// line or field, and "FILE: empty file (no JSON rows)" for a file without rows.
std::vector<Row> load_rows(const std::filesystem::path& file, std::size_t limit = 0);

}  // namespace e2llm::longbench
