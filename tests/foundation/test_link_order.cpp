// docs/pitfalls.md, "libstdc++ before LibTorch": the wheel's LibTorch exports its own copies
// of libstdc++ pieces (std::filesystem among them) that crash when they serve our calls. Every
// ELF file the build makes that links LibTorch directly must name libstdc++ first in its
// DT_NEEDED list, so that the system's copy comes first in the lookup order.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

bool is_elf(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  char magic[4] = {};
  return in.read(magic, 4) && magic[0] == 0x7f && magic[1] == 'E' && magic[2] == 'L' && magic[3] == 'F';
}

std::vector<std::string> needed(const fs::path& p) {
  std::vector<std::string> out;
  FILE* pipe = ::popen(("readelf -d '" + p.string() + "' 2>/dev/null").c_str(), "r");
  if (!pipe) return out;
  std::array<char, 512> line{};
  while (std::fgets(line.data(), line.size(), pipe)) {
    const std::string l = line.data();
    if (l.find("(NEEDED)") == std::string::npos) continue;
    const auto a = l.find('['), b = l.find(']');
    if (a != std::string::npos && b != std::string::npos) out.push_back(l.substr(a + 1, b - a - 1));
  }
  ::pclose(pipe);
  return out;
}

}  // namespace

TEST(LinkOrder, LibstdcxxPrecedesLibTorchInEveryBinary) {
  int checked = 0;
  for (const char* sub : {"bin", "lib", "tests"}) {
    const fs::path dir = fs::path(E2LLM_BINARY_DIR) / sub;
    if (!fs::is_directory(dir)) continue;
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
      if (!e.is_regular_file() || !is_elf(e.path())) continue;
      const auto libs = needed(e.path());
      size_t torch = libs.size(), stdcxx = libs.size();
      for (size_t i = 0; i < libs.size(); ++i) {
        if (libs[i].rfind("libtorch", 0) == 0 && torch == libs.size()) torch = i;
        if (libs[i].rfind("libstdc++", 0) == 0) stdcxx = i;
      }
      if (torch == libs.size()) continue;
      ++checked;
      EXPECT_LT(stdcxx, torch) << e.path() << " lists " << libs[torch] << " before libstdc++ (or no libstdc++)";
    }
  }
  EXPECT_GT(checked, 3) << "expected the model library, the tests and the benchmarks to link LibTorch";
}
