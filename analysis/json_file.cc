// JSON file reading, atomic writes and hashing for the analysis library.
#include "analysis/json_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "common/files.h"

namespace geotrain::analysis {

void throw_input_error(std::string_view file, std::string_view path, std::string_view value,
                       std::string_view allowed) {
  std::string message(file);
  for (std::string_view part : {path, value, allowed})
    if (!part.empty()) message += (message.empty() ? "" : ": ") + std::string(part);
  throw InputError(message);
}

std::string regular_file_problem(const std::string& file) { return common::regular_file_problem(file); }

bool read_text(const std::string& file, std::string& text) {
  if (!regular_file_problem(file).empty()) return false;  // never opens a FIFO: that could block forever
  std::ifstream in(file, std::ios::binary);
  if (!in) return false;
  std::ostringstream buffer;
  buffer << in.rdbuf();
  text = buffer.str();
  return !in.bad();
}

nlohmann::ordered_json parse_json(const std::string& text, std::string_view file, std::string_view path) {
  struct TooDeep {};
  const nlohmann::ordered_json::parser_callback_t limit_depth = [](int depth, nlohmann::json::parse_event_t event,
                                                                   nlohmann::ordered_json&) {
    if (depth >= kMaxJsonDepth &&
        (event == nlohmann::json::parse_event_t::object_start || event == nlohmann::json::parse_event_t::array_start))
      throw TooDeep{};
    return true;
  };
  try {
    return nlohmann::ordered_json::parse(text, limit_depth);
  } catch (const TooDeep&) {
    throw_input_error(file, path, "", fmt::format("malformed JSON: arrays and objects nested deeper than {} levels", kMaxJsonDepth));
  } catch (const nlohmann::json::parse_error& e) {
    throw_input_error(file, path, "", fmt::format("malformed JSON at byte {}: {}", e.byte, e.what()));
  } catch (const nlohmann::json::exception& e) {
    // "[json.exception.out_of_range.406] number overflow parsing '1e400'"
    throw_input_error(file, path, "", fmt::format("malformed JSON: {} (numbers must fit in a double, |x| <= 1.8e308)", e.what()));
  }
}

nlohmann::ordered_json read_json(const std::string& file) {
  if (const std::string problem = regular_file_problem(file); !problem.empty())
    throw_input_error(file, "", "", problem == "no such file" ? "cannot read this file (missing or unreadable)" : problem);
  std::string text;
  if (!read_text(file, text)) throw_input_error(file, "", "", "cannot read this file (missing or unreadable)");
  return parse_json(text, file, "");
}

std::string temporary_name(const std::string& file) {
  static std::atomic<unsigned long> counter{0};
  return fmt::format("{}.partial.{}.{}", file, static_cast<long>(::getpid()), counter.fetch_add(1));
}

void write_text_atomically(const std::string& file, const std::string& text) {
  const std::string tmp = temporary_name(file);
  try {
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out << text;
      if (!out) throw std::runtime_error("cannot write " + tmp);
    }
    std::filesystem::rename(tmp, file);
  } catch (...) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);  // no stray temporary file
    throw;
  }
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
