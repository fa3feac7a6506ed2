// e2llm train CONFIG [--nproc N] [--resume] [--set k=v]...: trains through a backend
// plugin (the harness never links LibTorch). `[train] plugin = "e2llm"` names the backend;
// the other [train] keys are its config section, except `out` (the cache folder, default
// <run.out or "runs">/train, relative to the working folder). With --nproc N the command starts N copies of itself as local
// ranks (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR=127.0.0.1, MASTER_PORT
// = a free port) and waits; variables set by an external launcher (torchrun, Slurm) are
// used as they are.
#include <arpa/inet.h>
#include <fmt/core.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <thread>

#include "e2llm/harness/app.hpp"
#include "e2llm/harness/config.hpp"
#include "e2llm/harness/model_notes.hpp"
#include "e2llm/harness/tokenizer_choice.hpp"
#include "e2llm/util/files.hpp"

namespace e2llm::harness {
namespace {

namespace fs = std::filesystem;

// A TCP port nobody listens on now (the OS picks it; a tiny race remains, as with torchrun).
int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw Error("cannot open a socket to find a free port");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw Error("cannot bind a loopback socket to find a free port");
  }
  const int port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

// This process's argv without --nproc (so that the children run as single ranks).
std::vector<std::string> own_args_without_nproc() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(in)), {});
  std::vector<std::string> args;
  for (size_t start = 0; start < all.size();) {
    size_t end = all.find('\0', start);
    if (end == std::string::npos) end = all.size();
    args.push_back(all.substr(start, end - start));
    start = end + 1;
  }
  std::vector<std::string> out;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--nproc") {
      ++i;
      continue;
    }
    if (args[i].rfind("--nproc=", 0) == 0) continue;
    out.push_back(args[i]);
  }
  return out;
}

// Starts `n` ranks and waits. When one fails, the others get `grace_s` to notice (their
// collectives time out) and are then killed; the first failure's exit code is returned.
int launch_local_ranks(int n, double grace_s) {
  const int port = free_port();
  const auto args = own_args_without_nproc();
  std::vector<pid_t> pids;
  for (int rank = 0; rank < n; ++rank) {
    pid_t pid = ::fork();
    if (pid < 0) throw Error("fork failed while starting rank " + std::to_string(rank));
    if (pid == 0) {
      ::setenv("RANK", std::to_string(rank).c_str(), 1);
      ::setenv("LOCAL_RANK", std::to_string(rank).c_str(), 1);
      ::setenv("WORLD_SIZE", std::to_string(n).c_str(), 1);
      ::setenv("LOCAL_WORLD_SIZE", std::to_string(n).c_str(), 1);
      ::setenv("MASTER_ADDR", "127.0.0.1", 1);
      ::setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
      std::vector<char*> argv;
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv("/proc/self/exe", argv.data());
      std::fprintf(stderr, "e2llm: error: cannot exec /proc/self/exe for rank %d\n", rank);
      ::_exit(127);
    }
    pids.push_back(pid);
  }
  int first_failure = 0;
  std::chrono::steady_clock::time_point failed_at;
  size_t alive = pids.size();
  while (alive > 0) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, first_failure ? WNOHANG : 0);
    if (pid > 0) {
      for (auto& p : pids)
        if (p == pid) p = 0, --alive;
      const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      if (code != 0 && first_failure == 0) {
        first_failure = code;
        failed_at = std::chrono::steady_clock::now();
        fmt::print(stderr, "e2llm train: a rank exited with code {}; waiting up to {:.0f} s for the others\n", code, grace_s);
      }
      continue;
    }
    if (pid < 0 && errno == EINTR) continue;
    if (first_failure && std::chrono::duration<double>(std::chrono::steady_clock::now() - failed_at).count() > grace_s) {
      for (pid_t p : pids)
        if (p > 0) ::kill(p, SIGKILL);
      grace_s = 1e30;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return first_failure;
}

struct TrainArgs {
  std::string file, device;
  std::vector<std::string> overrides;
  int nproc = 0;
  bool resume = false;
};

// [train] as the backend's section: `plugin` and `out` taken out, --resume applied.
struct TrainSection {
  std::string plugin;
  fs::path out;
  nlohmann::json section;
};

TrainSection train_section(const Config& config, bool resume) {
  const auto& root = config.json();
  if (!root.contains("train"))
    throw config.error_at("train", "missing [train] section (with plugin = \"e2llm\" | \"pi-ft\" | \"pretrain\")");
  TrainSection t;
  t.section = root["train"];
  nlohmann::json& section = t.section;
  if (!section.contains("plugin") || !section["plugin"].is_string())
    throw config.error_at("train.plugin", "missing: name the training backend (e2llm, pi-ft, pretrain)");
  t.plugin = section["plugin"].get<std::string>();
  section.erase("plugin");
  // Output folders are relative to where e2llm runs (as [run] out everywhere).
  t.out = root.contains("run") && root["run"].contains("out")
              ? fs::path(root["run"]["out"].get<std::string>()) / "train"
              : fs::path("runs/train");
  if (section.contains("out")) {
    t.out = section["out"].get<std::string>();
    section.erase("out");
  }
  if (resume) section["resume"] = true;
  return t;
}

// [tokenizer] model, or the base model's own tokenizer (a GGUF, an HF folder with one), loaded.
std::shared_ptr<Tokenizer> train_tokenizer(const Config& config, const PluginRegistry& registry) {
  const auto& root = config.json();
  const nlohmann::json tok = root.value("tokenizer", nlohmann::json::object());
  const nlohmann::json base = root.value("base", nlohmann::json::object());
  const bool own_base = base.value("source", std::string()) != "pretrain" && base.contains("path");
  if (!tok.contains("model") && !own_base)
    throw config.error_at("tokenizer.model", "missing: the tokenizer model the corpus is tokenized with");
  std::string tokenizer_key = "tokenizer.model";
  fs::path tokenizer_model;
  if (tok.contains("model")) {
    tokenizer_model = config.resolve(tok["model"].get<std::string>());
  } else {
    tokenizer_key = "base.path";
    try {
      tokenizer_model = tokenizer_of_model(config.resolve(base["path"].get<std::string>()), "set [tokenizer] model");
    } catch (const Error& e) {
      throw config.error_at(tokenizer_key, e.what());
    }
  }
  auto tokenizer = registry.make_tokenizer(tokenizer_plugin_for(tokenizer_model, tok.value("plugin", std::string())));
  try {
    tokenizer->load(tokenizer_model.string());
  } catch (const Error& e) {
    if (tokenizer_key == "tokenizer.model") throw;
    throw config.error_at(tokenizer_key, e.what());  // say the tokenizer came from the base
  }
  return tokenizer;
}

// What the backend's prepare() trains from: base model, cache folder, seed, device, windows.
PrepareContext train_context(const Config& config, std::shared_ptr<Tokenizer> tokenizer, const fs::path& out,
                             const std::string& device_flag) {
  const auto& root = config.json();
  const nlohmann::json base = root.value("base", nlohmann::json::object());
  PrepareContext ctx;
  ctx.tokenizer = std::move(tokenizer);
  if (base.value("source", std::string()) != "pretrain" && base.contains("path")) {
    const fs::path path = config.resolve(base["path"].get<std::string>());
    ctx.base_model = {{"path", path.string()}};
    if (base.contains("window")) {
      ctx.base_model["original_window"] = base["window"];
    } else if (const std::int64_t L = original_window_from_notes(path, "e2llm train"); L > 0) {
      ctx.base_model["original_window"] = L;
    }
  } else {
    ctx.base_model = nlohmann::json::object();
    if (base.contains("window")) ctx.base_model["original_window"] = base["window"];
  }
  ctx.cache_dir = out;
  ctx.seed = root.contains("run") ? root["run"].value("seed", 0ull) : 0ull;
  ctx.device = device_flag.empty() && root.contains("run") ? root["run"].value("device", std::string()) : device_flag;
  if (root.contains("sweep") && root["sweep"].contains("windows"))
    for (const auto& w : root["sweep"]["windows"]) ctx.windows.push_back(w.get<std::int64_t>());
  return ctx;
}

void run_train(AppContext& context, const TrainArgs& a) {
  if (a.nproc > 1 && !std::getenv("WORLD_SIZE")) {
    const Config probe = Config::load(a.file, a.overrides);  // fail early, once, on a bad config
    double grace = 90;
    if (probe.json().contains("train") && probe.json()["train"].contains("dist_timeout_s"))
      grace = probe.json()["train"]["dist_timeout_s"].get<double>() + 30;
    context.exit_code = launch_local_ranks(a.nproc, grace);
    return;
  }
  const Config config = Config::load(a.file, a.overrides);
  validate_harness_keys(config);
  const auto& root = config.json();
  TrainSection train = train_section(config, a.resume);

  std::vector<fs::path> extra;
  if (root.contains("plugins") && root["plugins"].contains("path"))
    for (const auto& p : root["plugins"]["path"]) extra.push_back(config.resolve(p.get<std::string>()));
  auto& registry = context.registry(extra);
  const PrepareContext ctx = train_context(config, train_tokenizer(config, registry), train.out, a.device);

  auto backend = registry.make_backend(train.plugin);
  // The backend's path keys (corpus, model, ...) are relative to the config file, as in a sweep.
  train.section = resolve_path_keys(train.section, backend->info().path_keys, config.base_dir());
  try {
    backend->configure(train.section);
  } catch (const ConfigError& e) {
    config.rethrow(e, "train");
  }
  nlohmann::json record;
  try {
    record = backend->prepare(ctx);
  } catch (const ConfigError& e) {  // a key that only training could judge (a budget, a window)
    config.rethrow(e, "train");
  }
  const char* rank = std::getenv("RANK");
  if (!rank || std::string(rank) == "0") {
    util::write_file_atomic(train.out / "train_result.json", record.dump(2) + "\n");
    fmt::print("{}\n", record.dump(2));
  }
}

void install(CLI::App& app, AppContext& context) {
  auto* cmd = app.add_subcommand("train", "Train or fine-tune a model through a training backend ([train] plugin)");
  auto a = std::make_shared<TrainArgs>();
  cmd->add_option("CONFIG", a->file, "TOML config with a [train] section")->required();
  cmd->add_option("--nproc", a->nproc, "Start N local data-parallel ranks (Gloo on CPU; NCCL on CUDA, one rank per GPU)")
      ->check(CLI::Range(0, 1024));
  cmd->add_option("--device", a->device, "auto | cpu | cuda | cuda:N (overrides [run] device and the [train] device)");
  cmd->add_flag("--resume", a->resume,
                "Continue from the newest checkpoint of the same run (the default; resume = false starts over)");
  cmd->add_option("--set", a->overrides, "Override a key: a.b=value (repeatable)");
  cmd->callback([&context, a] { run_train(context, *a); });
}

const RegisterCommand registered(install);

}  // namespace
}  // namespace e2llm::harness
