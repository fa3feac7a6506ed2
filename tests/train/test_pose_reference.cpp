// PoSE's position ids (docs/methods.md §PoSE) against an independent Python reference written
// from the paper and its training code (pose_reference.py, run from the repository's .venv):
//   - given draws (chunk lengths and skips): the position ids are equal, exactly;
//   - drawn: the joint distribution of the chunk lengths and of the skips over tens of
//     thousands of draws passes Pearson chi-square tests against the paper's sampling,
//     enumerated exactly, and a two-sample test against the reference's own sampler; the same
//     test rejects a plausible wrong sampler (independent skips, sorted), so it can fail.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "../support/run_command.hpp"
#include "e2llm/llama/train/position_policy.hpp"
#include "e2llm/util/files.hpp"

namespace fs = std::filesystem;
using namespace e2llm::llama::train;
using e2llm::testing::quote;
using e2llm::testing::run_command;
using json = nlohmann::json;

namespace {

PolicyOptions pose(int64_t L, int64_t R, int64_t Lt, int64_t N, uint64_t seed = 7) {
  PolicyOptions o;
  o.kind = PolicyKind::Pose;
  o.original_window = L;
  o.seq_len = R;
  o.target_window = Lt;
  o.chunks = N;
  o.seed = seed;
  return o;
}

struct Scratch {
  fs::path path = fs::temp_directory_path() / ("e2llm-pose-ref-" + std::to_string(::getpid()));
  Scratch() { fs::create_directories(path); }
  ~Scratch() { fs::remove_all(path); }
};

json reference(const std::string& command, const json& input, const Scratch& dir) {
  const fs::path file = dir.path / (command + ".json");
  e2llm::util::write_file_atomic(file, input.dump());
  const fs::path source = E2LLM_SOURCE_DIR;
  const auto r = run_command(quote((source / ".venv/bin/python").string()) + " " +
                             quote((source / "tests/train/pose_reference.py").string()) + " " + command + " " +
                             quote(file.string()));
  if (r.exit_code != 0) throw std::runtime_error("pose_reference.py " + command + " failed: " + r.err);
  return json::parse(r.out);
}

}  // namespace

TEST(PoseReference, GivenDrawsGiveTheReferencePositions) {
  struct Case {
    int64_t L, R, Lt;
    std::vector<int64_t> lengths, skips;
  };
  const std::vector<Case> cases = {
      {16, 16, 64, {5, 11}, {0, 30}},
      {16, 16, 64, {8, 8}, {0, 48}},  // skip at its largest: L_t − R
      {16, 16, 64, {1, 15}, {0, 0}},
      {16, 12, 48, {3, 4, 5}, {0, 7, 7}},
      {256, 256, 4096, {100, 156}, {0, 3000}},
      {16, 16, 64, {16}, {0}},  // N = 1: plain PI
      {10, 8, 30, {2, 2, 2, 2}, {0, 1, 5, 22}},
  };
  json input = json::array();
  std::vector<std::vector<double>> ours;
  for (const auto& c : cases) {
    PositionPolicy p(pose(c.L, c.R, c.Lt, static_cast<int64_t>(c.lengths.size())));
    PositionDraw d;
    d.chunk_lengths = c.lengths;
    d.skips = c.skips;
    ours.push_back(p.positions(d));
    input.push_back({{"L", c.L}, {"R", c.R}, {"Lt", c.Lt}, {"lengths", c.lengths}, {"skips", c.skips}});
  }
  Scratch dir;
  const auto want = reference("positions", input, dir);
  ASSERT_EQ(want.size(), cases.size());
  for (size_t i = 0; i < cases.size(); ++i) EXPECT_EQ(ours[i], want[i].get<std::vector<double>>()) << "case " << i;
}

TEST(PoseReference, DrawsFollowThePapersSampling) {
  struct Case {
    int64_t L, R, Lt, N, draws;
  };
  // Sizes chosen so that every cell of the joint tables expects well over 5 draws.
  for (const auto& c : {Case{16, 16, 64, 2, 40000}, Case{16, 12, 36, 3, 60000}}) {
    SCOPED_TRACE("N = " + std::to_string(c.N));
    PositionPolicy p(pose(c.L, c.R, c.Lt, c.N, 20231));
    json draws = json::array();
    for (int64_t s = 0; s < c.draws; ++s) {
      const auto d = p.draw(s / 8, s);
      json row = d.chunk_lengths;
      for (auto u : d.skips) row.push_back(u);
      draws.push_back(row);
    }
    Scratch dir;
    const auto r =
        reference("distribution", {{"R", c.R}, {"Lt", c.Lt}, {"N", c.N}, {"draws", draws}, {"seed", 5}}, dir);
    std::cout << "N = " << c.N << ": " << r.dump() << "\n";
    EXPECT_GT(r["exact_lengths_p"].get<double>(), 1e-4);
    EXPECT_GT(r["exact_skips_p"].get<double>(), 1e-4);
    EXPECT_GT(r["two_sample_lengths_p"].get<double>(), 1e-4);
    EXPECT_GT(r["two_sample_skips_p"].get<double>(), 1e-4);
    if (c.N >= 3) {
      EXPECT_LT(r["wrong_skips_p"].get<double>(), 1e-8) << "the test must be able to reject a sampler";
    }
  }
}
