// JSON file reading, atomic writes and hashing for the analysis library.
#include "analysis/json_file.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace geotrain::analysis {

void throw_input_error(std::string_view file, std::string_view path, std::string_view value,
                       std::string_view allowed) {
  std::string message(file);
  for (std::string_view part : {path, value, allowed})
    if (!part.empty()) message += (message.empty() ? "" : ": ") + std::string(part);
  throw InputError(message);
}

bool read_text(const std::string& file, std::string& text) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return false;
  std::ostringstream buffer;
  buffer << in.rdbuf();
  text = buffer.str();
  return !in.bad();
}

nlohmann::ordered_json read_json(const std::string& file) {
  if (std::filesystem::is_directory(file)) throw_input_error(file, "", "", "is a folder, expected a JSON file");
  std::string text;
  if (!read_text(file, text)) throw_input_error(file, "", "", "cannot read this file (missing or unreadable)");
  try {
    return nlohmann::ordered_json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw_input_error(file, "", "", fmt::format("malformed JSON at byte {}: {}", e.byte, e.what()));
  }
}

void write_text_atomically(const std::string& file, const std::string& text) {
  const std::string tmp = file + ".partial";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) throw std::runtime_error("cannot write " + tmp);
  }
  std::filesystem::rename(tmp, file);
}

std::uint64_t fnv1a_64(std::string_view text, std::uint64_t seed) {
  constexpr std::uint64_t kFnvPrime = 1099511628211ull;  // FNV-1a 64-bit prime (Fowler, Noll, Vo)
  std::uint64_t h = seed;
  for (const unsigned char c : text) {
    h ^= c;
    h *= kFnvPrime;
  }
  return h;
}

std::string hash_hex(std::string_view text) {
  // MurmurHash3's 64-bit finalizer (fmix64) spreads FNV's last-byte differences over all digits,
  // so the short ids of neighbouring points do not look alike.
  std::uint64_t h = fnv1a_64(text);
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return fmt::format("{:016x}", h);
}

std::string value_text(const nlohmann::ordered_json& value) {
  constexpr std::size_t kMaxChars = 60;
  std::string s = value.is_string() ? value.get<std::string>() : value.dump();
  if (s.size() > kMaxChars) s = s.substr(0, kMaxChars - 3) + "...";
  return s;
}

}  // namespace geotrain::analysis
