// JSON files as analysis reads them (sweep files, results.json, tolerance files): parsing with
// errors that name the file, and a stable 64-bit text hash. Not the scenario loader (sim/).
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace geotrain::analysis {

// Bad user input (missing file, malformed JSON, bad sweep or tolerance file).  what() is the
// complete one-line message: "FILE: PATH: VALUE: WHAT IS ALLOWED" (parts left out when empty).
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

[[noreturn]] void throw_input_error(std::string_view file, std::string_view path, std::string_view value,
                                    std::string_view allowed);

// Reads and parses a JSON file, keeping the key order of the file.  Throws InputError naming the
// file for a missing/unreadable file and for malformed JSON (with the byte offset of the error).
nlohmann::ordered_json read_json(const std::string& file);

// Reads the whole file into `text`; false when it cannot be read.
bool read_text(const std::string& file, std::string& text);

// Writes `text` to `file` through a temporary name and a rename, so readers never see half a
// file.  Throws std::runtime_error when it cannot write.
void write_text_atomically(const std::string& file, const std::string& text);

// FNV-1a, 64 bits: stable across builds and machines (unlike std::hash).
std::uint64_t fnv1a_64(std::string_view text, std::uint64_t seed = 14695981039346656037ull);
// 16 lowercase hex digits of fnv1a_64(text) passed through MurmurHash3's fmix64.
std::string hash_hex(std::string_view text);

// Short text for a JSON value in messages and tables: strings without quotes, long values cut.
std::string value_text(const nlohmann::ordered_json& value);

}  // namespace geotrain::analysis
