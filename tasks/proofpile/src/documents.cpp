#include "documents.hpp"

#include <algorithm>

#include "e2llm/error.hpp"
#include "e2llm/util/files.hpp"
#include "e2llm/util/sha256.hpp"

namespace e2llm::proofpile {
namespace fs = std::filesystem;

std::vector<fs::path> resolve_data_files(const fs::path& data) {
  std::error_code ec;
  if (fs::is_regular_file(data, ec)) return {data};
  if (!fs::is_directory(data, ec))
    throw Error("proofpile data " + data.string() +
                " does not exist (build a corpus with 'e2llm data proofpile --out DIR' and set data = DIR)");
  if (fs::is_regular_file(data / "eval.jsonl", ec)) return {data / "eval.jsonl"};
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(data))
    if (entry.is_regular_file() && entry.path().extension() == ".jsonl") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  if (files.empty()) throw Error("proofpile data folder " + data.string() + " has no eval.jsonl and no *.jsonl file");
  return files;
}

std::vector<Document> read_documents(const std::vector<fs::path>& files) {
  std::vector<Document> documents;
  for (const auto& file : files) {
    util::for_each_jsonl(file, [&](const nlohmann::json& row, std::size_t line) {
      std::string where = file.string() + ":" + std::to_string(line);
      auto text = row.find("text");
      if (text == row.end() || !text->is_string())
        throw Error(where + ": row has no string field \"text\" (expected {\"text\": ..., \"meta\": {...}})");
      Document d;
      d.id = file.filename().string() + ":" + std::to_string(line);
      d.text = text->get<std::string>();
      auto meta = row.find("meta");
      if (meta != row.end() && !meta->is_null()) {
        if (!meta->is_object()) throw Error(where + ": field \"meta\" must be an object");
        d.meta = *meta;
      }
      documents.push_back(std::move(d));
    });
  }
  return documents;
}

std::string data_fingerprint(const std::vector<fs::path>& files) {
  util::Sha256 h;
  for (const auto& file : files) h.update(file.filename().string() + "=" + util::sha256_file(file) + "\n");
  return h.hex_digest();
}

}  // namespace e2llm::proofpile
