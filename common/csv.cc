// The one CSV writer (see csv.h): RFC 4180 quoting and the number formats of every CSV file.
#include "common/csv.h"

#include <cmath>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace geotrain::csv {
namespace {

constexpr double kExactIntegerLimit = 9007199254740992.0;  // 2^53: doubles are exact integers below it

bool exact_integer(double v) { return std::fabs(v) < kExactIntegerLimit && v == std::trunc(v); }

// The shortest text that reads back to the same double, as nlohmann::json (results.json) writes it.
std::string round_trip_text(double v) { return nlohmann::json(v).dump(); }

}  // namespace

std::string quote(std::string_view text) {
  if (text.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(text);
  std::string quoted = "\"";
  for (const char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

std::string count_text(double n) {
  return exact_integer(n) ? fmt::format("{}", static_cast<long long>(n)) : round_trip_text(n);
}

std::string number_text(double v) { return exact_integer(v) ? count_text(v) : round_trip_text(v); }

Writer::Writer(const std::vector<std::string>& columns) : columns_(columns.size()) {
  for (const auto& name : columns) text(name);
  end_row();
}

Writer& Writer::cell(std::string_view formatted) {
  if (cells_in_row_ > 0) out_ += ',';
  out_ += formatted;
  ++cells_in_row_;
  return *this;
}

Writer& Writer::text(std::string_view s) { return cell(quote(s)); }
Writer& Writer::count(double n) { return cell(count_text(n)); }
Writer& Writer::number(double v) { return cell(number_text(v)); }
Writer& Writer::number(std::optional<double> v) { return v ? number(*v) : empty(); }
Writer& Writer::significant(double v, int digits) { return cell(fmt::format("{:.{}g}", v, digits)); }
Writer& Writer::significant(std::optional<double> v, int digits) { return v ? significant(*v, digits) : empty(); }
Writer& Writer::fixed(double v, int decimals) { return cell(fmt::format("{:.{}f}", v, decimals)); }
Writer& Writer::empty() { return cell(""); }

std::string Writer::take() {
  if (cells_in_row_ != 0) throw std::logic_error("CSV text taken in the middle of a row");
  std::string text = std::move(out_);
  out_.clear();
  return text;
}

void Writer::end_row() {
  if (cells_in_row_ != columns_)
    throw std::logic_error(fmt::format("CSV row of {} cells under a header of {} columns", cells_in_row_, columns_));
  out_ += '\n';
  cells_in_row_ = 0;
}

}  // namespace geotrain::csv
