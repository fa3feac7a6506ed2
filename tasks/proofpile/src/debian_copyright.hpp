// Licence of a file shipped in a Debian package, read from the package's
// /usr/share/doc/PKG/copyright. Machine-readable files (DEP-5,
// https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/) are matched per file:
// the last "Files:" paragraph whose pattern matches the path wins.
#pragma once

#include <string>
#include <vector>

namespace e2llm::proofpile {

struct CopyrightParagraph {
  std::vector<std::string> patterns;  // "Files:" globs, relative to the upstream source root
  std::string license;                // first line of "License:" (the short name)
};

struct DebianCopyright {
  bool machine_readable = false;  // has a "Format:" header (DEP-5)
  std::vector<CopyrightParagraph> files;
  std::vector<std::string> licenses() const;  // distinct short names, in order of appearance
  // The licence of `path` (relative to the upstream source root), or "" if no paragraph matches.
  std::string license_of(const std::string& path) const;
};

DebianCopyright parse_debian_copyright(const std::string& text);

// DEP-5 glob: '*' matches any run of characters including '/', '?' one character, '\'
// escapes the next character.
bool dep5_match(const std::string& pattern, const std::string& path);

}  // namespace e2llm::proofpile
