// "none": no method added. Serves the model with the RoPE its file declares — plain RoPE for
// most checkpoints (extrapolation beyond the trained window L), the file's own scaling where
// config.json's rope_scaling or the GGUF's rope keys declare one, as transformers and llama.cpp
// serve it. Key `rope`: "file" (default) or "plain" (plain RoPE; on a file that declares a
// scaling this replaces it, so it needs rope_override = true).
#include "e2llm/config_reader.hpp"
#include "e2llm/error.hpp"
#include "e2llm/llama/rope_scaling_backend.hpp"
#include "e2llm/plugin.hpp"

namespace {

class NoneBackend : public e2llm::llama::RopeScalingBackend {
 public:
  NoneBackend()
      : RopeScalingBackend("none",
                           "no method: the RoPE the model's file declares (plain RoPE for most; "
                           "extrapolation past the trained window)") {}

 protected:
  void configure_extra(e2llm::ConfigReader& reader) override {
    const auto rope = reader.get<std::string>("rope", "file");
    if (rope != "file" && rope != "plain")
      throw e2llm::ConfigError("rope",
                               "must be \"file\" (the RoPE the model's file declares) or \"plain\" (plain "
                               "RoPE), got \"" +
                                   rope + "\"");
    plain_ = rope == "plain";
  }
  bool serves_file_rope() const override { return !plain_; }
  e2llm::formats::RopeConfig rope_for_window(int64_t /*window*/) const override {
    return plain_ ? base_rope() : file_rope();
  }

 private:
  bool plain_ = false;
};

}  // namespace

E2LLM_PLUGIN("backend", "none", "0.1.0", NoneBackend)
