// Device names (e2llm/util/device_name.hpp): the one parser the harness and the backends share.
#include <gtest/gtest.h>

#include "e2llm/error.hpp"
#include "e2llm/util/device_name.hpp"

using e2llm::util::DeviceName;
using e2llm::util::is_cuda_device;
using e2llm::util::parse_device_name;

TEST(DeviceName, TheListedNamesParse) {
  EXPECT_EQ(parse_device_name("auto")->kind, DeviceName::Kind::automatic);
  EXPECT_EQ(parse_device_name("cpu")->kind, DeviceName::Kind::cpu);
  EXPECT_EQ(parse_device_name("cuda")->kind, DeviceName::Kind::cuda);
  EXPECT_EQ(parse_device_name("cuda")->index, -1);  // the current device
  EXPECT_EQ(parse_device_name("cuda:0")->index, 0);
  EXPECT_EQ(parse_device_name("cuda:12")->index, 12);
  EXPECT_TRUE(is_cuda_device("cuda:3"));
  EXPECT_TRUE(is_cuda_device("cuda"));
  EXPECT_FALSE(is_cuda_device("cpu"));
  EXPECT_FALSE(is_cuda_device("auto"));  // may resolve to CUDA; as written it does not name it
}

TEST(DeviceName, AnythingElseIsAConfigErrorNamingTheField) {
  for (const char* bad : {"", "CPU", "gpu", "cuda:", "cuda:x", "cuda:-1", "cuda:12345", "cuda0", " cpu", "mps"}) {
    EXPECT_FALSE(parse_device_name(bad).has_value()) << bad;
    EXPECT_FALSE(is_cuda_device(bad)) << bad;
    try {
      e2llm::util::check_device_name(bad, "run.device");
      ADD_FAILURE() << bad << " was accepted";
    } catch (const e2llm::ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("must be \"auto\", \"cpu\", \"cuda\" or \"cuda:N\""), std::string::npos)
          << e.what();
    }
  }
}
