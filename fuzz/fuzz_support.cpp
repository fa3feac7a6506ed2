#include "fuzz_support.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>

namespace e2llm::fuzz {
namespace fs = std::filesystem;

void fail(const std::string& what) {
  std::fprintf(stderr, "e2llm fuzz: contract broken: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

void check_message(const std::string& message, const std::vector<std::string>& names) {
  if (message.empty()) fail("an e2llm::Error with an empty message");
  // One line, and no control character a terminal would act on (newline, carriage return,
  // escape sequences): a file's bytes must be escaped before they reach a message.
  for (unsigned char ch : message)
    if (ch < 0x20) fail("the message holds control byte " + std::to_string(ch) + ": " + message);
  if (names.empty()) return;
  const bool named = std::any_of(names.begin(), names.end(),
                                 [&](const std::string& n) { return message.find(n) != std::string::npos; });
  if (!named) fail("the message names neither " + names.front() + " nor what else was expected: " + message);
}

namespace {

fs::path make_scratch_dir() {
  std::error_code ec;
  const bool shm = ::access("/dev/shm", W_OK) == 0;
  const fs::path root = shm ? fs::path("/dev/shm") : fs::temp_directory_path(ec);
  std::string pattern = (root / "e2llm-fuzz-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) fail("cannot create a scratch folder under " + root.string());
  return pattern;
}

struct ScratchDir {
  fs::path path = make_scratch_dir();
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

}  // namespace

const fs::path& scratch_dir() {
  static const ScratchDir dir;
  return dir.path;
}

fs::path write_scratch(const std::string& name, std::string_view bytes) {
  const fs::path path = scratch_dir() / name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out.flush()) fail("cannot write " + path.string());
  return path;
}

void remove_scratch(const std::string& name) {
  std::error_code ec;
  fs::remove(scratch_dir() / name, ec);
}

std::vector<std::string_view> split_parts(const uint8_t* data, size_t size, size_t parts) {
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> out;
  while (out.size() + 1 < parts) {
    const size_t cut = rest.find('\0');
    if (cut == std::string_view::npos) break;
    out.push_back(rest.substr(0, cut));
    rest.remove_prefix(cut + 1);
  }
  out.push_back(rest);
  out.resize(parts);
  return out;
}

}  // namespace e2llm::fuzz
