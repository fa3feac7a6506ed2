// Errors that cross the plugin boundary. The message is one line a user can act on:
// what is wrong, where (file:line or config field), and what to do.
#pragma once

#include <stdexcept>
#include <string>

namespace e2llm {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A bad value in a configuration section. `field` is the dotted path relative to the
// section handed to configure() (e.g. "gmax"); the harness prefixes the section path and
// the TOML file:line:column where the value was written.
class ConfigError : public Error {
 public:
  ConfigError(std::string field, const std::string& message)
      : Error(message), field_(std::move(field)) {}
  const std::string& field() const { return field_; }

 private:
  std::string field_;
};

}  // namespace e2llm
