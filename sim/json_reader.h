// Validating reader over a JSON object: every accessor checks type and range and remembers the
// key; finish() rejects the keys nobody asked for. Errors are BadInput exceptions whose message
// is one line naming the file, the JSON path (RFC 6901 pointer), the value and what is allowed.
// This is the only place that turns user JSON into numbers; the rest of sim/ sees plain structs.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace geotrain::sim {

// Bad user input.  what() is the complete one-line message for the user.
class BadInput : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Builds the one-line message: "FILE: PATH: VALUE: ALLOWED" (parts left out when empty).
[[noreturn]] void throw_bad_input(std::string_view file, std::string_view path,
                                  std::string_view value, std::string_view allowed);

// The deepest nesting of arrays and objects any JSON input may have (deeper documents are refused
// while parsing, before anything recursive can overflow the stack).
inline constexpr int kMaxJsonDepth = 256;

// Refuses, without opening it, a path that is not a regular file: missing, a folder, a FIFO, a
// device or a socket (opening a FIFO with no writer would block forever), or a path the system
// cannot look up (a name over 255 bytes).  `path` is the JSON path (or option) that named it, if any.
void check_regular_file(const std::string& file, std::string_view path = "");
// Why `file` is not a regular file, as check_regular_file says it ("" when it is one).
std::string regular_file_problem(const std::string& file);

// Parses JSON text with the nesting limit.  Malformed JSON (with line and column), numbers beyond
// a double and nesting deeper than kMaxJsonDepth are BadInput errors naming `file` and `path`.
nlohmann::json parse_json_text(const std::string& text, std::string_view file, std::string_view path = "");

// Reads and parses a JSON file (check_regular_file, then parse_json_text).  Every problem is a
// BadInput error naming the file.
nlohmann::json read_json_file(const std::string& file);

// True when `text` is valid UTF-8 (what JSON strings must be).
bool is_valid_utf8(std::string_view text);

// Appends `key` to a JSON pointer, escaping '~' and '/'.
std::string json_pointer_append(std::string_view base, std::string_view key);

// Short text for a JSON value in messages (long values are cut).
std::string json_value_text(const nlohmann::json& value);

class JsonReader {
 public:
  // REQUIRES: `json` outlives the reader.  `path` is the pointer of `json` inside `file`.
  JsonReader(const nlohmann::json& json, std::string file, std::string path = "");

  const std::string& file() const { return file_; }
  const std::string& path() const { return path_; }
  std::string path_of(std::string_view key) const { return json_pointer_append(path_, key); }
  bool has(std::string_view key) const;

  // A number in [min, max]; min_exclusive makes the lower bound strict (e.g. "> 0").
  double number(std::string_view key, double min, double max, bool min_exclusive = false);
  double number_or(std::string_view key, double fallback, double min, double max,
                   bool min_exclusive = false);
  // Shorthands: > 0 and >= 0.
  double positive(std::string_view key) { return number(key, 0, kInf, true); }
  double positive_or(std::string_view key, double fallback) {
    return number_or(key, fallback, 0, kInf, true);
  }
  double non_negative(std::string_view key) { return number(key, 0, kInf); }
  double non_negative_or(std::string_view key, double fallback) {
    return number_or(key, fallback, 0, kInf);
  }
  std::int64_t integer(std::string_view key, std::int64_t min, std::int64_t max);
  std::int64_t integer_or(std::string_view key, std::int64_t fallback, std::int64_t min,
                          std::int64_t max);
  std::uint64_t unsigned_integer(std::string_view key);
  std::string string(std::string_view key);
  std::string string_or(std::string_view key, std::string fallback);
  // One of `allowed`; the message lists them.
  std::string choice(std::string_view key, const std::vector<std::string>& allowed);
  std::string choice_or(std::string_view key, std::string fallback,
                        const std::vector<std::string>& allowed);
  bool boolean_or(std::string_view key, bool fallback);

  // A nested object (required).
  JsonReader object(std::string_view key);
  // The members of a required array of objects (at least min_size of them).
  std::vector<JsonReader> objects(std::string_view key, std::size_t min_size);
  // The raw value of a key (marks it known); a missing key is a BadInput error.
  const nlohmann::json& raw(std::string_view key);
  // Iterates over the members of this object (marks all known).
  std::vector<std::string> keys();

  // Marks an optional key as allowed without reading it (documentation-only keys, keys read only
  // when present), so that finish() lists it among the allowed keys.
  void allow(std::string_view key) { known_.emplace(key); }

  // Rejects every key that no accessor read.  Call once, after reading.
  void finish() const;

  // Reports a bad value at `key` of this object.
  [[noreturn]] void fail(std::string_view key, std::string_view allowed) const;
  // Reports a bad value at this object's own path.
  [[noreturn]] void fail_here(std::string_view allowed) const;

  static constexpr double kInf = 1e308;

 private:
  const nlohmann::json& require(std::string_view key, nlohmann::json::value_t type,
                                std::string_view allowed);
  double check_range(std::string_view key, const nlohmann::json& v, double min, double max,
                     bool min_exclusive);

  const nlohmann::json& json_;
  std::string file_;
  std::string path_;
  std::set<std::string, std::less<>> known_;
};

}  // namespace geotrain::sim
