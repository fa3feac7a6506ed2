// What a sweep reads back on resume (harness/src/cell_store.cpp): a finished cell file, a
// cell's per-sample journal (possibly torn by a crash) and its lock file. The input is the
// three files' contents separated by NUL bytes (the cell and journal are JSON text).
// Beyond the contract: a record put after any journal content must be found on the next
// resume, as it would be after a SIGKILL.
#include "e2llm/harness/cell_store.hpp"
#include "fuzz_support.hpp"

namespace e2llm::fuzz {
namespace {

const std::string kKey(64, 'a');  // any 64-hex-digit key

void check_journal(const std::filesystem::path& path) {
  const nlohmann::json record = {{"loss", 1.5}, {"tokens", 7}};
  {
    harness::JournalSampleStore journal(path);
    (void)journal.find("sample-0");
    journal.put("fuzz-sample", record);
  }
  harness::JournalSampleStore resumed(path);
  const auto found = resumed.find("fuzz-sample");
  if (!found || *found != record) fail("a record put into the journal is not found on resume");
}

}  // namespace

bool one_input(const uint8_t* data, size_t size) {
  const auto parts = split_parts(data, size, 3);
  const harness::CellStore store(scratch_dir());
  const auto cell = write_scratch(store.cell_path(kKey).filename().string(), parts[0]);
  const auto journal = write_scratch(store.journal_path(kKey).filename().string(), parts[1]);
  const auto lock = write_scratch(store.lock_path(kKey).filename().string(), parts[2]);
  const bool accepted = expect_contract([&] { (void)store.find_finished(kKey); }, {cell.string()});
  expect_contract([&] { check_journal(journal); }, {journal.string()});
  (void)harness::CellLock::holder(lock);
  return accepted;
}

}  // namespace e2llm::fuzz
