// Builds a small real corpus from one Debian package. Needs the network (Debian mirrors):
// fails, saying so, when `apt-get download` cannot fetch the package (label `network`;
// E2LLM_TEST_EXCLUDE_LABELS=network leaves it out on purpose). The split of every document is
// recomputed outside the code by Python's hashlib from docs/data-proofpile.md's rule.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>

#include "corpus_builder.hpp"
#include "documents.hpp"
#include "e2llm/util/files.hpp"

using namespace e2llm;
using namespace e2llm::proofpile;
namespace fs = std::filesystem;

TEST(ProofPileCorpus, BuildsFromHolLight) {
  fs::path dir = fs::path(E2LLM_BINARY_DIR) / "tests" / "proofpile_scratch" / "corpus";
  fs::remove_all(dir);
  fs::create_directories(dir / "probe");
  std::string probe = "cd '" + (dir / "probe").string() + "' && apt-get download hol-light >/dev/null 2>&1";
  ASSERT_EQ(std::system(probe.c_str()), 0) << "apt-get download hol-light is not possible here (no network? "
                                              "E2LLM_TEST_EXCLUDE_LABELS=network leaves this test out)";

  fs::path out = dir / "pp";
  auto manifest = build_corpus(parse_corpus_request({{"out", out.string()},
                                                     {"packages", {"hol-light"}},
                                                     {"max_bytes", 2 << 20},
                                                     {"seed", 0},
                                                     {"eval_fraction", 0.2}}));
  EXPECT_FALSE(fs::exists(dir / "pp.tmp"));
  ASSERT_TRUE(fs::exists(out / "MANIFEST.json"));
  auto on_disk = nlohmann::json::parse(util::read_file(out / "MANIFEST.json"));
  EXPECT_EQ(on_disk["packages"][0]["name"], "hol-light");
  EXPECT_FALSE(on_disk["packages"][0]["version"].get<std::string>().empty());
  EXPECT_LE(on_disk["bytes"].get<std::uint64_t>(), std::uint64_t(2) << 20);
  EXPECT_GT(on_disk["bytes"].get<std::uint64_t>(), std::uint64_t(1) << 20);

  auto eval = read_documents({out / "eval.jsonl"});
  auto train = read_documents({out / "train.jsonl"});
  ASSERT_FALSE(eval.empty());
  ASSERT_FALSE(train.empty());
  // Whole documents split near the fraction (77 documents for 2 MB of hol-light in one run).
  double fraction = double(eval.size()) / double(eval.size() + train.size());
  EXPECT_GT(fraction, 0.05);
  EXPECT_LT(fraction, 0.45);
  for (const auto& d : train) EXPECT_EQ(d.meta["split"], "train");
  nlohmann::json paths = nlohmann::json::array();
  for (const auto* docs : {&train, &eval})
    for (const auto& d : *docs) paths.push_back({d.meta["path"], d.meta["split"]});
  for (const auto& d : eval) {
    EXPECT_EQ(d.meta["source_package"], "hol-light");
    EXPECT_EQ(d.meta["split"], "eval");
    EXPECT_FALSE(d.meta["license"].get<std::string>().empty());
    std::string path = d.meta["path"];
    EXPECT_EQ(path.rfind("/usr/share/hol-light/", 0), 0u) << path;
  }
  // The split, recomputed by hashlib from the documented rule (docs/data-proofpile.md): eval iff
  // int(sha256("<package>|<installed path>")[0:8], 16) < eval_fraction * 2^32.
  util::write_file_atomic(dir / "paths.json", paths.dump());
  const std::string rule =
      "import hashlib, json, sys\n"
      "for path, split in json.load(open(sys.argv[1])):\n"
      "    key = int(hashlib.sha256(('hol-light|' + path[1:]).encode()).hexdigest()[:8], 16)\n"
      "    if ('eval' if key < 0.2 * 2 ** 32 else 'train') != split:\n"
      "        print(path)\n";
  util::write_file_atomic(dir / "split.py", rule);
  const std::string command = "'" E2LLM_SOURCE_DIR "/.venv/bin/python' '" + (dir / "split.py").string() + "' '" +
                              (dir / "paths.json").string() + "'";
  FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string wrong;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) wrong.append(buf, n);
  EXPECT_EQ(::pclose(pipe), 0) << command;
  EXPECT_EQ(wrong, "") << "documents on the wrong side of the documented split rule:\n" << wrong;
  // Deterministic: a second build writes identical files.
  auto again = build_corpus(parse_corpus_request({{"out", out.string()},
                                                  {"packages", {"hol-light"}},
                                                  {"max_bytes", 2 << 20},
                                                  {"seed", 0},
                                                  {"eval_fraction", 0.2}}));
  EXPECT_EQ(again["files"]["eval.jsonl"]["sha256"], manifest["files"]["eval.jsonl"]["sha256"]);
  EXPECT_EQ(again["files"]["train.jsonl"]["sha256"], manifest["files"]["train.jsonl"]["sha256"]);
}
