// JsonReader: typed, range-checked access to user JSON with one-line error messages.
#include "sim/json_reader.h"

#include <sys/stat.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "common/files.h"

namespace geotrain::sim {
namespace {

std::string range_text(double min, double max, bool min_exclusive) {
  const bool has_max = max < JsonReader::kInf;
  if (has_max) return fmt::format("a number in {}{}, {}]", min_exclusive ? "(" : "[", min, max);
  return fmt::format("a number {} {}", min_exclusive ? ">" : ">=", min);
}

std::string type_name(nlohmann::json::value_t t) {
  using vt = nlohmann::json::value_t;
  switch (t) {
    case vt::object: return "an object";
    case vt::array: return "an array";
    case vt::string: return "a string";
    case vt::boolean: return "true or false";
    default: return "a number";
  }
}

bool type_matches(const nlohmann::json& v, nlohmann::json::value_t t) {
  using vt = nlohmann::json::value_t;
  if (t == vt::number_float) return v.is_number();
  return v.type() == t;
}

}  // namespace

void throw_bad_input(std::string_view file, std::string_view path, std::string_view value,
                     std::string_view allowed) {
  std::string msg(file);
  if (!path.empty()) msg += fmt::format(": {}", path);
  if (!value.empty()) msg += fmt::format(": {}", value);
  if (!allowed.empty()) msg += fmt::format(": {}", allowed);
  throw BadInput(msg);
}

std::string regular_file_problem(const std::string& file) { return common::regular_file_problem(file); }

void check_regular_file(const std::string& file, std::string_view path) {
  if (const std::string problem = regular_file_problem(file); !problem.empty()) throw_bad_input(file, path, "", problem);
}

nlohmann::json parse_json_text(const std::string& text, std::string_view file, std::string_view path) {
  struct TooDeep {};
  const nlohmann::json::parser_callback_t limit_depth = [](int depth, nlohmann::json::parse_event_t event,
                                                           nlohmann::json&) {
    if (depth >= kMaxJsonDepth && (event == nlohmann::json::parse_event_t::object_start ||
                                   event == nlohmann::json::parse_event_t::array_start))
      throw TooDeep{};
    return true;
  };
  try {
    return nlohmann::json::parse(text, limit_depth);
  } catch (const TooDeep&) {
    throw_bad_input(file, path, "", fmt::format("malformed JSON: arrays and objects nested deeper than {} levels",
                                                kMaxJsonDepth));
  } catch (const nlohmann::json::parse_error& e) {
    // e.what() reads "[json.exception.parse_error.101] parse error at line L, column C: ...".
    std::string what = e.what();
    const auto pos = what.find("parse error");
    throw_bad_input(file, path, "", "malformed JSON: " + (pos == std::string::npos ? what : what.substr(pos)));
  } catch (const nlohmann::json::exception& e) {
    // e.what() reads "[json.exception.out_of_range.406] number overflow parsing '1e400'".
    std::string what = e.what();
    const auto pos = what.find("] ");
    throw_bad_input(file, path, "",
                    "malformed JSON: " + (pos == std::string::npos ? what : what.substr(pos + 2)) +
                        " (numbers must fit in a double, |x| <= 1.8e308)");
  }
}

nlohmann::json read_json_file(const std::string& file) {
  check_regular_file(file);
  std::ifstream in(file, std::ios::binary);
  if (!in) throw_bad_input(file, "", "", "cannot open the file (is it readable?)");
  std::stringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw_bad_input(file, "", "", "cannot read the file");
  return parse_json_text(buffer.str(), file);
}

bool is_valid_utf8(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    std::size_t extra = 0;
    std::uint32_t code = 0;
    if (c < 0x80) extra = 0, code = c;
    else if ((c & 0xE0) == 0xC0) extra = 1, code = c & 0x1F;
    else if ((c & 0xF0) == 0xE0) extra = 2, code = c & 0x0F;
    else if ((c & 0xF8) == 0xF0) extra = 3, code = c & 0x07;
    else return false;
    if (i + extra >= text.size()) return false;  // cut short
    for (std::size_t k = 1; k <= extra; ++k) {
      const auto d = static_cast<unsigned char>(text[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      code = (code << 6) | (d & 0x3F);
    }
    // Overlong forms, UTF-16 surrogates and code points beyond U+10FFFF are not UTF-8.
    static constexpr std::uint32_t kMinCode[] = {0, 0x80, 0x800, 0x10000};
    if (code < kMinCode[extra] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return false;
    i += extra + 1;
  }
  return true;
}

std::string json_pointer_append(std::string_view base, std::string_view key) {
  std::string out(base);
  out += '/';
  for (char c : key) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out += c;
  }
  return out;
}

std::string json_value_text(const nlohmann::json& value) {
  std::string text = value.dump();
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

JsonReader::JsonReader(const nlohmann::json& json, std::string file, std::string path)
    : json_(json), file_(std::move(file)), path_(std::move(path)) {
  if (!json_.is_object())
    throw_bad_input(file_, path_.empty() ? "/" : path_, json_value_text(json_), "expected an object");
}

bool JsonReader::has(std::string_view key) const { return json_.contains(key); }

const nlohmann::json& JsonReader::require(std::string_view key, nlohmann::json::value_t type,
                                          std::string_view allowed) {
  known_.emplace(key);
  const auto it = json_.find(key);
  if (it == json_.end()) throw_bad_input(file_, path_of(key), "missing", allowed);
  if (!type_matches(*it, type))
    throw_bad_input(file_, path_of(key), json_value_text(*it),
                    fmt::format("expected {}", allowed.empty() ? type_name(type) : allowed));
  return *it;
}

double JsonReader::check_range(std::string_view key, const nlohmann::json& v, double min,
                               double max, bool min_exclusive) {
  const double x = v.get<double>();
  const bool low = min_exclusive ? !(x > min) : !(x >= min);
  if (low || !(x <= max))
    throw_bad_input(file_, path_of(key), json_value_text(v),
                    "expected " + range_text(min, max, min_exclusive));
  return x;
}

double JsonReader::number(std::string_view key, double min, double max, bool min_exclusive) {
  const auto allowed = range_text(min, max, min_exclusive);
  return check_range(key, require(key, nlohmann::json::value_t::number_float, allowed), min, max,
                     min_exclusive);
}

double JsonReader::number_or(std::string_view key, double fallback, double min, double max,
                             bool min_exclusive) {
  if (!has(key)) {
    known_.emplace(key);
    return fallback;
  }
  return number(key, min, max, min_exclusive);
}

std::int64_t JsonReader::integer(std::string_view key, std::int64_t min, std::int64_t max) {
  const std::string allowed =
      max == INT64_MAX ? fmt::format("an integer >= {}", min)
                       : fmt::format("an integer in [{}, {}]", min, max);
  const auto& v = require(key, nlohmann::json::value_t::number_float, allowed);
  auto refuse = [&] { throw_bad_input(file_, path_of(key), json_value_text(v), "expected " + allowed); };
  std::int64_t n = 0;
  if (v.is_number_unsigned()) {
    if (v.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) refuse();
    n = static_cast<std::int64_t>(v.get<std::uint64_t>());
  } else if (v.is_number_integer()) {
    n = v.get<std::int64_t>();
  } else {
    // Range first: converting a double beyond int64 to an integer is undefined behaviour.
    constexpr double kTwoTo63 = 9223372036854775808.0;
    const double x = v.get<double>();
    if (!(x > -kTwoTo63 && x < kTwoTo63) || x != std::trunc(x)) refuse();
    n = static_cast<std::int64_t>(x);
  }
  if (n < min || n > max) refuse();
  return n;
}

std::int64_t JsonReader::integer_or(std::string_view key, std::int64_t fallback, std::int64_t min,
                                    std::int64_t max) {
  if (!has(key)) {
    known_.emplace(key);
    return fallback;
  }
  return integer(key, min, max);
}

std::uint64_t JsonReader::unsigned_integer(std::string_view key) {
  const auto& v = require(key, nlohmann::json::value_t::number_float, "an integer >= 0");
  if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<std::int64_t>() >= 0))
    throw_bad_input(file_, path_of(key), json_value_text(v), "expected an integer >= 0");
  return v.get<std::uint64_t>();
}

std::string JsonReader::string(std::string_view key) {
  return require(key, nlohmann::json::value_t::string, "a string").get<std::string>();
}

std::string JsonReader::string_or(std::string_view key, std::string fallback) {
  if (!has(key)) {
    known_.emplace(key);
    return fallback;
  }
  return string(key);
}

std::string JsonReader::choice(std::string_view key, const std::vector<std::string>& allowed) {
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : " | ") + ("\"" + a + "\"");
  const auto& v = require(key, nlohmann::json::value_t::string, "one of " + list);
  const auto s = v.get<std::string>();
  for (const auto& a : allowed)
    if (a == s) return s;
  throw_bad_input(file_, path_of(key), json_value_text(v), "expected one of " + list);
}

std::string JsonReader::choice_or(std::string_view key, std::string fallback,
                                  const std::vector<std::string>& allowed) {
  if (!has(key)) {
    known_.emplace(key);
    return fallback;
  }
  return choice(key, allowed);
}

bool JsonReader::boolean_or(std::string_view key, bool fallback) {
  if (!has(key)) {
    known_.emplace(key);
    return fallback;
  }
  return require(key, nlohmann::json::value_t::boolean, "true or false").get<bool>();
}

JsonReader JsonReader::object(std::string_view key) {
  return JsonReader(require(key, nlohmann::json::value_t::object, "an object"), file_,
                    path_of(key));
}

std::vector<JsonReader> JsonReader::objects(std::string_view key, std::size_t min_size) {
  const auto allowed = fmt::format("an array of at least {} object(s)", min_size);
  const auto& arr = require(key, nlohmann::json::value_t::array, allowed);
  if (arr.size() < min_size) throw_bad_input(file_, path_of(key), json_value_text(arr), "expected " + allowed);
  std::vector<JsonReader> out;
  for (std::size_t i = 0; i < arr.size(); ++i)
    out.emplace_back(arr[i], file_, json_pointer_append(path_of(key), std::to_string(i)));
  return out;
}

const nlohmann::json& JsonReader::raw(std::string_view key) {
  known_.emplace(key);
  const auto it = json_.find(key);
  if (it == json_.end()) throw_bad_input(file_, path_of(key), "missing", "required here");
  return *it;
}

std::vector<std::string> JsonReader::keys() {
  std::vector<std::string> out;
  for (const auto& [k, v] : json_.items()) {
    known_.emplace(k);
    out.push_back(k);
  }
  return out;
}

void JsonReader::finish() const {
  for (const auto& [k, v] : json_.items()) {
    if (known_.count(k)) continue;
    std::string list;
    for (const auto& a : known_) list += (list.empty() ? "" : ", ") + a;
    throw_bad_input(file_, path_of(k), "unknown key", "allowed keys here: " + list);
  }
}

void JsonReader::fail(std::string_view key, std::string_view allowed) const {
  const auto it = json_.find(key);
  throw_bad_input(file_, path_of(key), it == json_.end() ? "missing" : json_value_text(*it), allowed);
}

void JsonReader::fail_here(std::string_view allowed) const {
  throw_bad_input(file_, path_.empty() ? "/" : path_, json_value_text(json_), allowed);
}

}  // namespace geotrain::sim
