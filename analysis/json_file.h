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

// The deepest nesting of arrays and objects a JSON input may have (as sim::kMaxJsonDepth).
inline constexpr int kMaxJsonDepth = 256;

// Why `file` is not a regular file ("" when it is), found without opening it: missing, a folder,
// a FIFO, device or socket (opening a FIFO with no writer blocks forever), a name over 255 bytes.
std::string regular_file_problem(const std::string& file);

// Reads and parses a JSON file, keeping the key order of the file.  Throws InputError naming the
// file for a missing, unreadable or non-regular file and for malformed JSON (with the byte offset
// of the error), numbers beyond a double, and nesting deeper than kMaxJsonDepth.
nlohmann::ordered_json read_json(const std::string& file);

// Parses JSON text with the same checks; `file` and `path` name it in messages.
nlohmann::ordered_json parse_json(const std::string& text, std::string_view file, std::string_view path);

// Reads the whole file into `text`; false when it cannot be read or is not a regular file.
bool read_text(const std::string& file, std::string& text);

// A fresh temporary name beside `file`: FILE.partial.PID.COUNTER, so concurrent writers, and a
// rerun after a killed run, never share one.
std::string temporary_name(const std::string& file);

// Writes `text` to `file` through a temporary name and a rename, so readers never see half a
// file.  Throws std::runtime_error when it cannot write (and leaves no temporary file behind).
void write_text_atomically(const std::string& file, const std::string& text);

// FNV-1a, 64 bits: stable across builds and machines (unlike std::hash).
std::uint64_t fnv1a_64(std::string_view text, std::uint64_t seed = 14695981039346656037ull);
// 16 lowercase hex digits of fnv1a_64(text) passed through MurmurHash3's fmix64.
std::string hash_hex(std::string_view text);

// Short text for a JSON value in messages and tables: strings without quotes, long values cut.
std::string value_text(const nlohmann::ordered_json& value);

}  // namespace geotrain::analysis
