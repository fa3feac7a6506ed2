// PITFALLS.md: without libopenblas0-pthread LibTorch silently uses the reference BLAS
// (~36x slower here). Check which BLAS the process really mapped, not a timing.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <string>

TEST(Blas, LibTorchIsNotOnTheReferenceBlas) {
  auto a = torch::randn({256, 256});
  auto c = torch::mm(a, a);  // forces the BLAS library to be resolved and used
  ASSERT_EQ(c.size(0), 256);
  std::ifstream maps("/proc/self/maps");
  std::string line, blas;
  while (std::getline(maps, line)) {
    if (line.find("libblas.so") != std::string::npos || line.find("libopenblas") != std::string::npos) {
      blas = line.substr(line.find('/'));
      if (line.find("openblas") != std::string::npos) break;
    }
  }
  ASSERT_FALSE(blas.empty()) << "no BLAS library mapped";
  EXPECT_NE(blas.find("openblas"), std::string::npos)
      << "LibTorch uses " << blas << " (reference BLAS); install libopenblas0-pthread (scripts/setup.sh)";
}
