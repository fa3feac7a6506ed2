// The LongBench v1 row loader, on the real rows in ../shared/data and on broken files.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "e2llm/error.hpp"
#include "e2llm/longbench/datasets.hpp"
#include "e2llm/longbench/loader.hpp"

namespace fs = std::filesystem;
using namespace e2llm::longbench;

namespace {

const fs::path kRows = fs::path(E2LLM_SHARED_DATA) / "longbench" / "rows";

fs::path write_temp(const std::string& name, const std::string& content) {
  fs::path dir = fs::temp_directory_path() / ("e2llm_longbench_loader_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fs::path file = dir / name;
  std::ofstream(file) << content;
  return file;
}

std::string error_of(const fs::path& file) {
  try {
    load_rows(file);
  } catch (const e2llm::Error& e) {
    return e.what();
  }
  return "(no error)";
}

const char* kGoodRow =
    R"({"input": "q?", "context": "ctx", "answers": ["x"], "length": 3, "dataset": "qasper", "language": "en", "all_classes": null, "_id": "id1", "extra": 1})";

}  // namespace

TEST(longbench_loader, ReadsEveryRealRowFile) {
  std::size_t files = 0;
  for (const auto& entry : fs::directory_iterator(kRows)) {
    if (entry.path().extension() != ".jsonl") continue;
    ++files;
    std::string name = entry.path().stem().string();
    std::vector<Row> rows = load_rows(entry.path());
    ASSERT_EQ(rows.size(), 2u) << name;
    for (const Row& row : rows) {
      EXPECT_EQ(row.dataset, name);
      EXPECT_EQ(row.language, "en");
      EXPECT_FALSE(row.answers.empty());
      EXPECT_FALSE(row.id.empty());
      EXPECT_GT(row.context.size(), 5000u);
      EXPECT_GT(row.length, 0);
      EXPECT_TRUE(row.all_classes.is_null());
      EXPECT_NO_THROW(dataset(row.dataset));  // every real dataset is in the prompt table
    }
    EXPECT_EQ(rows[0].line, 1u);
    EXPECT_EQ(rows[1].line, 2u);
  }
  EXPECT_EQ(files, 7u);
}

TEST(longbench_loader, LimitKeepsTheFirstRows) {
  std::vector<Row> rows = load_rows(kRows / "qasper.jsonl", 1);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].line, 1u);
}

TEST(longbench_loader, MalformedLineNamesFileAndLine) {
  fs::path file = write_temp("bad_json.jsonl", std::string(kGoodRow) + "\n{not json\n");
  std::string what = error_of(file);
  EXPECT_NE(what.find(file.string() + ":2: invalid JSON"), std::string::npos) << what;
}

TEST(longbench_loader, MissingFieldIsNamed) {
  std::string row = kGoodRow;
  row.replace(row.find(R"("answers": ["x"], )"), std::string(R"("answers": ["x"], )").size(), "");
  fs::path file = write_temp("missing.jsonl", "\n" + row + "\n");
  std::string what = error_of(file);
  EXPECT_NE(what.find(file.string() + ":2: field 'answers' is missing"), std::string::npos) << what;
}

TEST(longbench_loader, WrongTypesAreNamed) {
  std::string row = kGoodRow;
  std::string bad_length = row;
  bad_length.replace(bad_length.find(R"("length": 3)"), 11, R"("length": "3")");
  EXPECT_NE(error_of(write_temp("length.jsonl", bad_length)).find(":1: field 'length' must be an integer"),
            std::string::npos);
  std::string bad_answers = row;
  bad_answers.replace(bad_answers.find(R"(["x"])"), 5, "[1]");
  EXPECT_NE(error_of(write_temp("answers.jsonl", bad_answers)).find(":1: field 'answers' item 0 must be a string"),
            std::string::npos);
  std::string bad_classes = row;
  bad_classes.replace(bad_classes.find("null"), 4, "3");
  EXPECT_NE(error_of(write_temp("classes.jsonl", bad_classes)).find("field 'all_classes'"), std::string::npos);
}

TEST(longbench_loader, EmptyFileIsAClearError) {
  fs::path file = write_temp("empty.jsonl", "\n  \n");
  EXPECT_NE(error_of(file).find("empty file"), std::string::npos);
  EXPECT_NE(error_of(kRows / "no_such_dataset.jsonl").find("cannot read"), std::string::npos);
}
