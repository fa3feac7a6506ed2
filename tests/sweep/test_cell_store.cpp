// Cell keys, the sample journal and cell locks (harness/src/cell_store.cpp).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "../support/run_command.hpp"
#include "e2llm/error.hpp"
#include "e2llm/harness/cell_store.hpp"
#include "e2llm/util/files.hpp"
#include "e2llm/util/sha256.hpp"

using namespace e2llm::harness;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

fs::path fresh_dir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("e2llm_cellstore_" + name + "_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

CellKeyInputs sample_inputs() {
  CellKeyInputs in;
  in.backend_label = "yarn";
  in.backend_plugin = "yarn";
  in.backend_version = "1.0.0";
  in.backend_config = {{"factor_rule", "window"}, {"beta_fast", 32}};
  in.checkpoint_hash = "abc123";
  in.base = {{"format", "gguf"}, {"original_window", 512}};
  in.tokenizer_fingerprint = "tok-fp";
  in.task_label = "passkey";
  in.task_plugin = "passkey";
  in.task_version = "1.0.0";
  in.task_config = {{"trials", 5}};
  in.task_fingerprint = "task-fp";
  in.window = 2048;
  in.seed = 7;
  return in;
}

}  // namespace

TEST(CellKey, IsTheSha256OfTheCanonicalMaterial) {
  json material = cell_key_material(sample_inputs());
  std::string key = cell_key(material);
  EXPECT_EQ(key.size(), 64u);
  EXPECT_EQ(key, e2llm::util::sha256_hex(material.dump()));
  EXPECT_EQ(cell_stem(key), key.substr(0, 16));
  // Key order in the config does not matter (objects are canonical), the values do.
  CellKeyInputs reordered = sample_inputs();
  reordered.backend_config = json::parse(R"({"beta_fast": 32, "factor_rule": "window"})");
  EXPECT_EQ(cell_key(cell_key_material(reordered)), key);
}

TEST(CellKey, IsStableAcrossVersionsOfThisCode) {
  // The material in the canonical form docs/results-schema.md describes (sorted keys, no
  // spaces), written out here by hand from the inputs above, and its SHA-256 from coreutils'
  // sha256sum. If this changes, every existing cell is recomputed: bump kCellKeyVersion on
  // purpose when that is intended, and update the text.
  const std::string canonical =
      R"({"backend":{"checkpoint_hash":"abc123","config":{"beta_fast":32,"factor_rule":"window"},"label":"yarn",)"
      R"("plugin":"yarn","version":"1.0.0"},"base":{"format":"gguf","original_window":512},"key_version":1,"seed":7,)"
      R"("task":{"config":{"trials":5},"fingerprint":"task-fp","label":"passkey","plugin":"passkey",)"
      R"("version":"1.0.0"},"tokenizer":"tok-fp","window":2048})";
  EXPECT_EQ(cell_key_material(sample_inputs()).dump(), canonical);
  auto sum = e2llm::testing::run_command("printf '%s' " + e2llm::testing::quote(canonical) + " | sha256sum");
  ASSERT_EQ(sum.exit_code, 0) << sum.err;
  EXPECT_EQ(cell_key(cell_key_material(sample_inputs())), sum.out.substr(0, 64));
}

TEST(CellKey, ChangesWithEveryPart) {
  const std::string base = cell_key(cell_key_material(sample_inputs()));
  std::vector<std::pair<std::string, void (*)(CellKeyInputs&)>> edits = {
      {"backend label", [](CellKeyInputs& i) { i.backend_label = "yarn2"; }},
      {"backend plugin", [](CellKeyInputs& i) { i.backend_plugin = "ntk"; }},
      {"backend version", [](CellKeyInputs& i) { i.backend_version = "1.0.1"; }},
      {"backend config", [](CellKeyInputs& i) { i.backend_config["beta_fast"] = 31; }},
      {"checkpoint hash", [](CellKeyInputs& i) { i.checkpoint_hash = "abc124"; }},
      {"base", [](CellKeyInputs& i) { i.base["original_window"] = 1024; }},
      {"tokenizer", [](CellKeyInputs& i) { i.tokenizer_fingerprint = "tok-fp2"; }},
      {"task label", [](CellKeyInputs& i) { i.task_label = "passkey2"; }},
      {"task plugin", [](CellKeyInputs& i) { i.task_plugin = "proofpile"; }},
      {"task version", [](CellKeyInputs& i) { i.task_version = "2.0.0"; }},
      {"task config", [](CellKeyInputs& i) { i.task_config["trials"] = 6; }},
      {"task fingerprint", [](CellKeyInputs& i) { i.task_fingerprint = "task-fp2"; }},
      {"window", [](CellKeyInputs& i) { i.window = 4096; }},
      {"seed", [](CellKeyInputs& i) { i.seed = 8; }},
  };
  for (const auto& [what, edit] : edits) {
    CellKeyInputs in = sample_inputs();
    edit(in);
    EXPECT_NE(cell_key(cell_key_material(in)), base) << what;
  }
  // The base model's path is not part of the key (the checkpoint hash stands for it).
  CellKeyInputs moved = sample_inputs();
  moved.base["path"] = "/elsewhere/model.gguf";
  EXPECT_EQ(cell_key(cell_key_material(moved)), base);
}

TEST(JournalSampleStore, ResumesFinishedSamplesAndIgnoresATornLine) {
  fs::path dir = fresh_dir("journal");
  fs::path path = dir / "x.samples.jsonl";
  {
    JournalSampleStore store(path);
    EXPECT_EQ(store.loaded(), 0u);
    store.put("a", {{"v", 1}});
    store.put("b", {{"v", 2}});
  }
  {  // a crash in the middle of writing the third record
    std::ofstream out(path, std::ios::app | std::ios::binary);
    out << R"({"id":"c","record":{"v":)";
  }
  {
    JournalSampleStore store(path);
    EXPECT_EQ(store.loaded(), 2u);
    ASSERT_TRUE(store.find("a"));
    EXPECT_EQ((*store.find("b"))["v"], 2);
    EXPECT_FALSE(store.find("c"));
    EXPECT_EQ(store.resumed(), 2u);
    store.put("c", {{"v", 3}});  // goes on a line of its own: the torn one was cut
  }
  JournalSampleStore again(path);
  EXPECT_EQ(again.loaded(), 3u);
  EXPECT_EQ((*again.find("c"))["v"], 3);
  std::size_t lines = 0;
  e2llm::util::for_each_jsonl(path, [&](const json&, std::size_t) { ++lines; });  // every line valid JSON
  EXPECT_EQ(lines, 3u);
}

TEST(CellStore, WritesTheCellAndRecordsAndDropsTheJournal) {
  fs::path dir = fresh_dir("store");
  CellStore store(dir / "cells");
  std::string key = cell_key(cell_key_material(sample_inputs()));
  EXPECT_FALSE(store.find_finished(key));
  { JournalSampleStore(store.journal_path(key)).put("s0", {{"v", 1}}); }
  store.write_finished(key, {{"key", key}, {"metrics", {{"ppl", 3.5}}}}, {{{"v", 1}}});
  auto cell = store.find_finished(key);
  ASSERT_TRUE(cell);
  EXPECT_EQ((*cell)["metrics"]["ppl"], 3.5);
  EXPECT_TRUE(fs::exists(store.records_path(key)));
  EXPECT_FALSE(fs::exists(store.journal_path(key)));
  // A corrupt cell file counts as not finished (it is recomputed).
  e2llm::util::write_file_atomic(store.cell_path(key), "{ not json");
  EXPECT_FALSE(store.find_finished(key));
  // A file with another full key under the same 16-character stem is an error.
  e2llm::util::write_file_atomic(store.cell_path(key), json({{"key", "0000"}}).dump());
  EXPECT_THROW(store.find_finished(key), e2llm::Error);
}

TEST(CellLock, IsExclusiveAndReleasedOnDestruction) {
  fs::path lock = fresh_dir("lock") / "k.lock";
  {
    auto first = CellLock::try_acquire(lock);
    ASSERT_TRUE(first);
    EXPECT_FALSE(first->took_over());
    EXPECT_EQ(CellLock::holder(lock), getpid());
    EXPECT_FALSE(CellLock::try_acquire(lock));  // held (even by this same process)
  }
  EXPECT_FALSE(fs::exists(lock));
  EXPECT_TRUE(CellLock::try_acquire(lock));
}

TEST(CellLock, TakesOverALockWhoseOwnerIsDead) {
  fs::path lock = fresh_dir("stale") / "k.lock";
  e2llm::util::write_file_atomic(lock, "999999999\n");  // a pid that cannot exist, no flock
  auto taken = CellLock::try_acquire(lock);
  ASSERT_TRUE(taken);
  EXPECT_TRUE(taken->took_over());
  EXPECT_EQ(CellLock::holder(lock), getpid());
}

TEST(CellLock, ALiveOwnerInAnotherProcessKeepsIt_UntilSigkill) {
  fs::path lock = fresh_dir("child") / "k.lock";
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto held = CellLock::try_acquire(lock);
    char c = held ? 'y' : 'n';
    if (write(ready[1], &c, 1) != 1) _exit(2);
    for (;;) pause();
  }
  char c = 0;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  ASSERT_EQ(c, 'y');
  EXPECT_EQ(CellLock::holder(lock), child);
  EXPECT_FALSE(CellLock::try_acquire(lock));
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  auto taken = CellLock::try_acquire(lock);  // the lock file is still there, its owner is gone
  ASSERT_TRUE(taken);
  EXPECT_TRUE(taken->took_over());
}

// Several files as one step: when one cannot be written, none is changed and no temp file
// stays.
TEST(WriteFilesAtomic, AFailedFileLeavesEveryFileAsItWas) {
  const fs::path dir = fs::temp_directory_path() / ("e2llm_write_files_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  e2llm::util::write_file_atomic(dir / "a.json", "old a");
  e2llm::util::write_file_atomic(dir / "blocker", "a file where a folder is needed");
  EXPECT_THROW(e2llm::util::write_files_atomic({{dir / "a.json", "new a"}, {dir / "blocker" / "b.json", "new b"}}),
               e2llm::Error);
  EXPECT_EQ(e2llm::util::read_file(dir / "a.json"), "old a");
  for (const auto& e : fs::directory_iterator(dir))
    EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos) << e.path();
  e2llm::util::write_files_atomic({{dir / "a.json", "new a"}, {dir / "sub" / "b.json", "new b"}});
  EXPECT_EQ(e2llm::util::read_file(dir / "a.json"), "new a");
  EXPECT_EQ(e2llm::util::read_file(dir / "sub" / "b.json"), "new b");
  fs::remove_all(dir);
}

// Temp files of a writer that died are removed; a live writer's (here: this process's) stay.
TEST(WriteFilesAtomic, StaleTempFilesOfDeadWritersAreRemoved) {
  const fs::path dir = fs::temp_directory_path() / ("e2llm_stale_tmp_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "cells");
  const pid_t child = fork();
  if (child == 0) _exit(0);
  waitpid(child, nullptr, 0);  // reaped: no process has this pid now
  const std::string dead = std::to_string(child), alive = std::to_string(getpid());
  for (const std::string& name : std::vector<std::string>{"sweep.json.tmp." + dead, "cells/x.json.tmp." + dead,
                                                          "cells/y.json.tmp." + alive, "cells/z.tmp.notapid"})
    std::ofstream(dir / name) << "partial";
  EXPECT_EQ(e2llm::util::remove_stale_temp_files(dir, /*recursive=*/false), 1u);
  EXPECT_FALSE(fs::exists(dir / ("sweep.json.tmp." + dead)));
  EXPECT_TRUE(fs::exists(dir / "cells" / ("x.json.tmp." + dead)));
  EXPECT_EQ(e2llm::util::remove_stale_temp_files(dir, /*recursive=*/true), 1u);
  EXPECT_FALSE(fs::exists(dir / "cells" / ("x.json.tmp." + dead)));
  EXPECT_TRUE(fs::exists(dir / "cells" / ("y.json.tmp." + alive)));
  EXPECT_TRUE(fs::exists(dir / "cells" / "z.tmp.notapid"));
  fs::remove_all(dir);
}
