// LibTorch on a reference BLAS runs matmuls ~36x slower and nothing says so (docs/pitfalls.md, "Optimized BLAS").
// The pinned wheel carries MKL inside libtorch_cpu; check what the library says it was built
// with, not a timing (Machine.MatmulIsNotOnTheReferenceBlas measures the rate per CPU-second).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>

TEST(Blas, LibTorchIsBuiltWithAnOptimizedBlas) {
  const std::string config = at::show_config();
  const auto at = config.find("BLAS_INFO=");
  ASSERT_NE(at, std::string::npos) << config;
  const std::string blas = config.substr(at + 10, config.find_first_of(", \n", at) - at - 10);
  EXPECT_TRUE(blas == "mkl" || blas == "open" || blas == "openblas" || blas == "blis")
      << "LibTorch was built with BLAS '" << blas << "' (a reference BLAS?): install the pinned wheel (scripts/setup.sh)";
  auto a = torch::randn({256, 256});
  EXPECT_TRUE(torch::allclose(torch::mm(a, torch::eye(256)), a, 1e-5, 1e-5));
}
