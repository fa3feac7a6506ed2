// pip:<package>/<file> paths (util/package_path.hpp): found in the Python environment named by
// E2LLM_PYTHON_ENV, refused with one line naming what was tried; plain paths pass unchanged.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "e2llm/error.hpp"
#include "e2llm/util/package_path.hpp"

namespace fs = std::filesystem;
using e2llm::util::resolve_user_path;

namespace {

class PackagePath : public ::testing::Test {
 protected:
  void SetUp() override {
    env_ = fs::temp_directory_path() / ("e2llm_pkg_" + std::to_string(::getpid()));
    fs::create_directories(env_ / "lib/python3.11/site-packages/somepkg/sub");
    std::ofstream(env_ / "lib/python3.11/site-packages/somepkg/sub/model.gguf") << "x";
    ::setenv("E2LLM_PYTHON_ENV", env_.c_str(), 1);
  }
  void TearDown() override {
    ::unsetenv("E2LLM_PYTHON_ENV");
    fs::remove_all(env_);
  }
  fs::path env_;
};

TEST_F(PackagePath, FindsTheFileInTheNamedEnvironment) {
  EXPECT_EQ(resolve_user_path("pip:somepkg/sub/model.gguf"),
            fs::weakly_canonical(env_) / "lib/python3.11/site-packages/somepkg/sub/model.gguf");
}

TEST_F(PackagePath, PlainPathsAreReturnedAsWritten) {
  EXPECT_EQ(resolve_user_path("models/x.gguf"), fs::path("models/x.gguf"));
  EXPECT_EQ(resolve_user_path("/abs/pip:x"), fs::path("/abs/pip:x"));
}

TEST_F(PackagePath, AMissingPackageIsOneLineNamingTheSpecAndTheEnvironment) {
  try {
    resolve_user_path("pip:otherpkg/model.gguf");
    FAIL() << "no error";
  } catch (const e2llm::Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("pip:otherpkg/model.gguf"), std::string::npos) << m;
    EXPECT_NE(m.find(fs::weakly_canonical(env_).string()), std::string::npos) << m;
    EXPECT_NE(m.find("scripts/setup.sh"), std::string::npos) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  }
}

TEST_F(PackagePath, MalformedSpecsAreRefused) {
  for (const char* spec : {"pip:", "pip:onlypackage", "pip:../x/y", "pip:/abs/file"})
    EXPECT_THROW(resolve_user_path(spec), e2llm::Error) << spec;
}

}  // namespace
