// Proof-Pile-style documents: JSONL rows {"text": ..., "meta": {...}}.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace e2llm::proofpile {

struct Document {
  std::string id;  // "<file name>:<line>", stable while the file is
  std::string text;
  nlohmann::json meta = nlohmann::json::object();
};

// `data` is a JSONL file, or a folder: its eval.jsonl (the held-out split written by
// `e2llm data proofpile`) if present, else every *.jsonl in it in name order.
// Throws e2llm::Error naming the path when nothing is there.
std::vector<std::filesystem::path> resolve_data_files(const std::filesystem::path& data);

// Every row of every file, in order. A row without a string "text" throws
// "FILE:LINE: ..."; invalid JSON throws the same way (e2llm::util::for_each_jsonl).
std::vector<Document> read_documents(const std::vector<std::filesystem::path>& files);

// sha256 over each file's name and content hash: the data part of the task fingerprint.
std::string data_fingerprint(const std::vector<std::filesystem::path>& files);

}  // namespace e2llm::proofpile
