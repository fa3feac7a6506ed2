// SHA-256 (FIPS 180-4) for content-addressed caches and fingerprints.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace e2llm::util {

class Sha256 {
 public:
  Sha256();
  Sha256& update(std::string_view bytes);
  Sha256& update(const void* data, std::size_t size);
  std::array<std::uint8_t, 32> digest();  // finalizes; the object may not be updated again
  std::string hex_digest();               // lowercase, 64 characters

 private:
  void compress(const std::uint8_t* block);
  std::array<std::uint32_t, 8> state_;
  std::array<std::uint8_t, 64> buffer_{};
  std::size_t buffered_ = 0;
  std::uint64_t total_bytes_ = 0;
};

std::string sha256_hex(std::string_view bytes);
std::string sha256_file(const std::filesystem::path& path);  // throws e2llm::Error naming the path

}  // namespace e2llm::util
