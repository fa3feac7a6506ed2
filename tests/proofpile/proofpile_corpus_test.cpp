// Builds a small real corpus from one Debian package. Needs the network (Debian mirrors);
// skipped when `apt-get download` cannot fetch the package.
#include <gtest/gtest.h>

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
  if (std::system(probe.c_str()) != 0) GTEST_SKIP() << "apt-get download hol-light is not possible here";

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
  for (const auto& d : eval) {
    EXPECT_EQ(d.meta["source_package"], "hol-light");
    EXPECT_EQ(d.meta["split"], "eval");
    EXPECT_FALSE(d.meta["license"].get<std::string>().empty());
    std::string path = d.meta["path"];
    EXPECT_EQ(path.rfind("/usr/share/hol-light/", 0), 0u) << path;
    // The split is the documented rule, recomputed here.
    EXPECT_TRUE(is_eval_document(split_key("hol-light", path.substr(1)), 0.2));
  }
  // Deterministic: a second build writes identical files.
  auto again = build_corpus(parse_corpus_request({{"out", out.string()},
                                                  {"packages", {"hol-light"}},
                                                  {"max_bytes", 2 << 20},
                                                  {"seed", 0},
                                                  {"eval_fraction", 0.2}}));
  EXPECT_EQ(again["files"]["eval.jsonl"]["sha256"], manifest["files"]["eval.jsonl"]["sha256"]);
  EXPECT_EQ(again["files"]["train.jsonl"]["sha256"], manifest["files"]["train.jsonl"]["sha256"]);
}
