// A run folder written by hand: the cells a sweep would leave, for the report tests.
#pragma once

#include <filesystem>
#include <string>

namespace report_fixture {

// Writes <dir>/cells/*.json, <dir>/backends/*.json and <dir>/sweep.json: backends "none",
// "e2llm" and "<script>alert(1)</script>"; proofpile ppl at 512..2048; passkey accuracy
// with accuracy_by_depth; one LongBench cell at 2048; each task's cells carry views like
// the real task's. Returns the file name of the cell of (e2llm, proofpile, 1024), whose
// ppl is 7.25.
std::string write_run(const std::filesystem::path& dir);

}  // namespace report_fixture
