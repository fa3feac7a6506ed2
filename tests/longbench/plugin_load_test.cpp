// The built plugin loads the way the registry loads it and describes itself.
#include <gtest/gtest.h>

#include <boost/dll/shared_library.hpp>
#include <memory>
#include <string>

#include "e2llm/plugin.hpp"
#include "e2llm/task.hpp"

TEST(longbench_plugin, LoadsAndDescribesItself) {
  boost::dll::shared_library library(std::string(E2LLM_PLUGIN_DIR) + "/libe2llm_task_longbench.so",
                                     boost::dll::load_mode::rtld_local);
  auto entry = library.get<const e2llm::PluginDescriptor*()>(E2LLM_PLUGIN_ENTRY_POINT_NAME);
  const e2llm::PluginDescriptor* descriptor = entry();
  ASSERT_NE(descriptor, nullptr);
  EXPECT_EQ(descriptor->abi_version, e2llm::kAbiVersion);
  EXPECT_STREQ(descriptor->kind, "task");
  EXPECT_STREQ(descriptor->name, "longbench");
  EXPECT_STREQ(descriptor->version, "1.0.0");
  std::unique_ptr<e2llm::Plugin> plugin(descriptor->create());
  auto* task = dynamic_cast<e2llm::Task*>(plugin.get());
  ASSERT_NE(task, nullptr);
  e2llm::TaskInfo info = task->info();
  EXPECT_EQ(info.name, "longbench");
  ASSERT_FALSE(info.metrics.empty());
  EXPECT_EQ(info.metrics[0].name, "avg_en");
  // The prediction scorer is reachable through the plugin boundary.
  nlohmann::json scored = task->score_predictions(
      {{"dataset", "qasper"}, {"file", std::string(E2LLM_SHARED_DATA) + "/longbench/predictions/qasper.jsonl"}});
  EXPECT_EQ(scored.at("score").get<double>(), 21.75);
  EXPECT_EQ(scored.at("n").get<int>(), 200);
  EXPECT_EQ(scored.at("metric").get<std::string>(), "qa_f1_score");
  EXPECT_FALSE(scored.contains("per_sample"));
}
