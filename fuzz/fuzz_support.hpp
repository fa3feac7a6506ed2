// What every fuzz target shares: the contract a reader keeps with a user, scratch files
// for readers that take a path, and splitting one input into several files.
//
// The contract: a reader accepts its input, or throws e2llm::Error whose message is one
// printable line naming the file. Any other exception, a multi-line or control-character
// message, a crash, a leak or a sanitizer report is a bug; fail() aborts so that libFuzzer
// (and the replay test) records the input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "e2llm/error.hpp"

namespace e2llm::fuzz {

// Each target defines this: runs the reader(s) on one input; true when the input was
// accepted, false when it was refused with a clean e2llm::Error (see expect_contract).
bool one_input(const uint8_t* data, size_t size);

[[noreturn]] void fail(const std::string& what);

// Checks an e2llm::Error message against the contract; `names` must occur in it (one of
// them, when several are given; none when empty).
void check_message(const std::string& message, const std::vector<std::string>& names);

// Runs `read`; true when it returns, false when it throws an e2llm::Error that keeps the
// contract; fail() on anything else.
template <class Read>
bool expect_contract(Read&& read, const std::vector<std::string>& names) {
  try {
    read();
    return true;
  } catch (const Error& e) {
    check_message(e.what(), names);
    return false;
  } catch (const std::exception& e) {
    fail(std::string("a non-e2llm exception escaped: ") + e.what());
  } catch (...) {
    fail("an exception that is not a std::exception escaped");
  }
}

// A folder private to this process (on tmpfs when /dev/shm is writable), removed at exit.
const std::filesystem::path& scratch_dir();
// Writes `bytes` to scratch_dir() / name, replacing it; returns the path.
std::filesystem::path write_scratch(const std::string& name, std::string_view bytes);
// Removes scratch_dir() / name when present.
void remove_scratch(const std::string& name);

// The input cut at its first `parts - 1` NUL bytes (JSON and TOML text hold none): several
// files in one input. Missing parts are empty.
std::vector<std::string_view> split_parts(const uint8_t* data, size_t size, size_t parts);

}  // namespace e2llm::fuzz
