#include "debian_copyright.hpp"

#include <algorithm>
#include <sstream>

namespace e2llm::proofpile {

namespace {
std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

bool match_from(const std::string& p, std::size_t pi, const std::string& s, std::size_t si) {
  while (pi < p.size()) {
    char c = p[pi];
    if (c == '*') {
      for (std::size_t k = si; k <= s.size(); ++k)
        if (match_from(p, pi + 1, s, k)) return true;
      return false;
    }
    if (si >= s.size()) return false;
    if (c == '?') {
      ++pi, ++si;
      continue;
    }
    if (c == '\\' && pi + 1 < p.size()) c = p[++pi];
    if (c != s[si]) return false;
    ++pi, ++si;
  }
  return si == s.size();
}
}  // namespace

bool dep5_match(const std::string& pattern, const std::string& path) {
  return match_from(pattern, 0, path, 0);
}

std::vector<std::string> DebianCopyright::licenses() const {
  std::vector<std::string> out;
  for (const auto& f : files)
    if (!f.license.empty() && std::find(out.begin(), out.end(), f.license) == out.end()) out.push_back(f.license);
  return out;
}

std::string DebianCopyright::license_of(const std::string& path) const {
  std::string found;
  for (const auto& f : files)
    for (const auto& p : f.patterns)
      if (dep5_match(p, path)) found = f.license;
  return found;
}

DebianCopyright parse_debian_copyright(const std::string& text) {
  DebianCopyright out;
  // Paragraphs are separated by blank lines; a field continues on lines starting with space/tab.
  std::istringstream in(text);
  std::string line, field;
  CopyrightParagraph paragraph;
  bool has_files = false, first = true;
  auto flush = [&] {
    if (has_files) out.files.push_back(paragraph);
    paragraph = CopyrightParagraph{};
    has_files = false;
    field.clear();
  };
  while (std::getline(in, line)) {
    if (trim(line).empty()) {
      if (!first || has_files) flush();
      first = false;
      continue;
    }
    if (line[0] == ' ' || line[0] == '\t') {
      if (field == "Files") {
        std::istringstream words(line);
        std::string w;
        while (words >> w) paragraph.patterns.push_back(w);
      }
      continue;
    }
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    field = line.substr(0, colon);
    std::string value = trim(line.substr(colon + 1));
    if (first && field == "Format") out.machine_readable = true;
    if (field == "Files") {
      has_files = true;
      std::istringstream words(value);
      std::string w;
      while (words >> w) paragraph.patterns.push_back(w);
    } else if (field == "License") {
      paragraph.license = value;
    }
  }
  flush();
  if (!out.machine_readable) out.files.clear();
  return out;
}

}  // namespace e2llm::proofpile
