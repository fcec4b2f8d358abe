// Spot price traces: reading (AWS CLI JSON, CSV), the price in force, billing pieces, max_price.
#include "sim/spot_price.h"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "sim/json_reader.h"
#include "sim/limits.h"

namespace geotrain::sim {
namespace {

constexpr double kSecondsPerHour = 3600.0;
constexpr const char* kAboveMaxPrice = "spot price above max_price";

// One record of a trace, in trace time (seconds since 1970 or since the CSV's start).
struct PricePoint {
  double time_s = 0;
  double usd_per_hour = 0;
  std::string where;  // the JSON path or line, for messages
};

// A price: a JSON number or a decimal string (the AWS CLI prints "0.918000"), 0 to the limit.
bool read_price(const nlohmann::json& v, double& usd_per_hour) {
  if (v.is_number()) {
    usd_per_hour = v.get<double>();
  } else if (v.is_string()) {
    const std::string s = v.get<std::string>();
    try {
      std::size_t used = 0;
      usd_per_hour = std::stod(s, &used);
      if (used != s.size() || s.empty() || std::isspace(static_cast<unsigned char>(s[0]))) return false;
    } catch (const std::exception&) {
      return false;
    }
  } else {
    return false;
  }
  return usd_per_hour >= 0 && usd_per_hour <= limits::kMaxUsdPerHour;
}

const char* kPriceAllowed = "expected a price in USD per hour, 0 to 1e6 (a number or a decimal string)";

// The records of one (instance type, product) of `aws ec2 describe-spot-price-history` output,
// by availability zone, in file order.
std::map<std::string, std::vector<PricePoint>> read_aws_json(const std::string& file, const std::string& type,
                                                             const std::string& product) {
  const nlohmann::json doc = read_json_file(file);
  const char* shape = "expected the output of aws ec2 describe-spot-price-history: an object with a "
                      "\"SpotPriceHistory\" array of records";
  if (!doc.is_object() || !doc.contains("SpotPriceHistory") || !doc["SpotPriceHistory"].is_array())
    throw_bad_input(file, "/SpotPriceHistory", doc.is_object() && doc.contains("SpotPriceHistory")
                                                   ? json_value_text(doc["SpotPriceHistory"]) : "missing", shape);
  std::map<std::string, std::vector<PricePoint>> by_zone;
  std::map<std::string, int> types_seen;
  const auto& records = doc["SpotPriceHistory"];
  for (std::size_t i = 0; i < records.size(); ++i) {
    const std::string path = "/SpotPriceHistory/" + std::to_string(i);
    if (!records[i].is_object()) throw_bad_input(file, path, json_value_text(records[i]), "expected a record (an object)");
    JsonReader rec(records[i], file, path);
    const std::string record_type = rec.string("InstanceType");
    const std::string zone = rec.string("AvailabilityZone");
    const std::string record_product = rec.has("ProductDescription") ? rec.string("ProductDescription") : product;
    double time_s = 0;
    if (!parse_iso8601_s(rec.string("Timestamp"), time_s))
      rec.fail("Timestamp", "expected an ISO 8601 time such as 2023-02-15T10:00:00+00:00 or 2023-02-15T10:00:00.000Z");
    double price = 0;
    if (!read_price(rec.raw("SpotPrice"), price)) rec.fail("SpotPrice", kPriceAllowed);
    ++types_seen[record_type + " (" + record_product + ")"];
    if (record_type == type && record_product == product) by_zone[zone].push_back({time_s, price, path});
  }
  if (by_zone.empty()) {
    std::string held;
    for (const auto& [t, n] : types_seen) held += (held.empty() ? "" : ", ") + t;
    throw_bad_input(file, "/SpotPriceHistory", "no records of " + type + " (" + product + ")",
                    "expected records of the fleet entry's instance type, or name the trace's type in "
                    "spot_price.instance_type (and product); the file holds: " + (held.empty() ? "no records" : held));
  }
  return by_zone;
}

// A CSV with the header "time_s,usd_per_hour" (seconds from the trace's start) or
// "timestamp,usd_per_hour" (ISO 8601 times); times strictly ascending.
std::vector<PricePoint> read_csv(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw_bad_input(file, "", "", "no such price trace file (or not readable)");
  const std::string allowed = "expected a header \"time_s,usd_per_hour\" or \"timestamp,usd_per_hour\", then rows "
                              "\"time,price\" with times strictly ascending (seconds 0 to 1e9, or ISO 8601 times) "
                              "and prices in USD per hour, 0 to 1e6";
  std::vector<PricePoint> out;
  std::string line;
  long number = 0;
  bool iso = false;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const std::string where = "line " + std::to_string(number);
    if (number == 1) {
      if (line != "time_s,usd_per_hour" && line != "timestamp,usd_per_hour") throw_bad_input(file, where, line, allowed);
      iso = line.rfind("timestamp", 0) == 0;
      continue;
    }
    if (line.empty()) continue;
    const auto comma = line.find(',');
    if (comma == std::string::npos || line.find(',', comma + 1) != std::string::npos)
      throw_bad_input(file, where, line, allowed);
    const std::string time_text = line.substr(0, comma);
    double time_s = 0, price = 0;
    bool ok = true;
    if (iso) {
      ok = parse_iso8601_s(time_text, time_s);
    } else {
      try {
        std::size_t used = 0;
        time_s = std::stod(time_text, &used);
        ok = used == time_text.size() && time_s >= 0 && time_s <= limits::kMaxTime_s;
      } catch (const std::exception&) {
        ok = false;
      }
    }
    ok = ok && read_price(nlohmann::json(line.substr(comma + 1)), price);
    if (!ok || (!out.empty() && time_s <= out.back().time_s)) throw_bad_input(file, where, line, allowed);
    out.push_back({time_s, price, where});
  }
  if (out.empty()) throw_bad_input(file, "", "no price rows", allowed);
  return out;
}

// Fixed-width decimal digits at text[at, at + n), or -1.
int digits(const std::string& text, std::size_t at, std::size_t n) {
  if (at + n > text.size()) return -1;
  int v = 0;
  for (std::size_t i = at; i < at + n; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return -1;
    v = v * 10 + (text[i] - '0');
  }
  return v;
}

}  // namespace

bool parse_iso8601_s(const std::string& text, double& seconds) {
  // YYYY-MM-DDTHH:MM:SS[.fff][Z|+HH:MM|-HH:MM|+HHMM|-HHMM]
  const int year = digits(text, 0, 4), month = digits(text, 5, 2), day = digits(text, 8, 2);
  const int hour = digits(text, 11, 2), minute = digits(text, 14, 2), second = digits(text, 17, 2);
  if (year < 1970 || month < 1 || month > 12 || day < 1 || day > 31 || hour < 0 || hour > 23 || minute < 0 ||
      minute > 59 || second < 0 || second > 60 || text[4] != '-' || text[7] != '-' ||
      (text[10] != 'T' && text[10] != ' ') || text[13] != ':' || text[16] != ':')
    return false;
  std::size_t at = 19;
  double fraction = 0;
  if (at < text.size() && text[at] == '.') {
    double scale = 0.1;
    std::size_t d = ++at;
    for (; at < text.size() && std::isdigit(static_cast<unsigned char>(text[at])); ++at, scale /= 10)
      fraction += (text[at] - '0') * scale;
    if (at == d) return false;
  }
  int offset_s = 0;
  if (at < text.size() && text[at] == 'Z') {
    ++at;
  } else if (at < text.size() && (text[at] == '+' || text[at] == '-')) {
    const int sign = text[at] == '+' ? 1 : -1;
    const bool colon = at + 3 < text.size() && text[at + 3] == ':';
    const int oh = digits(text, at + 1, 2), om = digits(text, at + (colon ? 4 : 3), 2);
    if (oh < 0 || oh > 23 || om < 0 || om > 59) return false;
    offset_s = sign * (oh * 3600 + om * 60);
    at += colon ? 6 : 5;
  } else {
    return false;  // a time without its zone is ambiguous
  }
  if (at != text.size()) return false;
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  const std::time_t t = timegm(&tm);
  if (tm.tm_mday != day) return false;  // 2023-02-30 normalized to March
  seconds = static_cast<double>(t) + fraction - offset_s;
  return true;
}

double SpotPriceSpec::usd_per_hour_at(double time_s) const {
  auto it = std::upper_bound(steps.begin(), steps.end(), time_s,
                             [](double t, const PriceStep& s) { return t < s.time_s; });
  return it == steps.begin() ? steps.front().usd_per_hour : std::prev(it)->usd_per_hour;
}

std::vector<BillingPiece> SpotPriceSpec::billing(double from_s, double to_s) const {
  std::vector<BillingPiece> out;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const double begin = std::max(from_s, steps[i].time_s);
    const double end = std::min(to_s, i + 1 < steps.size() ? steps[i + 1].time_s : kNever);
    if (end > begin) out.push_back({steps[i].usd_per_hour / kSecondsPerHour, begin, end});
  }
  return out;
}

double SpotPriceSpec::mean_usd_per_hour(double end_s) const {
  if (!(end_s > 0)) return usd_per_hour_at(0);
  double usd = 0;
  for (const BillingPiece& p : billing(0, end_s)) usd += p.usd_per_s * (p.to_s - p.from_s);
  return usd / end_s * kSecondsPerHour;
}

std::vector<Outage> SpotPriceSpec::outages_above_max_price() const {
  std::vector<Outage> out;
  if (!has_max_price()) return out;
  for (const PriceStep& s : steps) {
    const bool above = s.usd_per_hour > max_usd_per_hour;
    const bool down = !out.empty() && out.back().up_s == kNever;
    if (above && !down) out.push_back({s.time_s, kNever, false, kAboveMaxPrice});
    if (!above && down) out.back().up_s = s.time_s;
  }
  return out;
}

SpotPriceSpec parse_spot_price(JsonReader& r, const std::string& instance, const std::string& scenario_file) {
  SpotPriceSpec s;
  std::filesystem::path file = r.string("trace");
  if (file.is_relative() && !scenario_file.empty()) file = std::filesystem::path(scenario_file).parent_path() / file;
  s.file = file.lexically_normal().string();
  if (const std::string problem = regular_file_problem(s.file); !problem.empty())
    r.fail("trace", "the price trace file " + s.file + ": " + problem + " (relative paths start at the scenario's folder)");
  std::ifstream probe(s.file, std::ios::binary);
  probe >> std::ws;
  s.format = probe.peek() == '{' ? "aws_json" : "csv";
  std::vector<PricePoint> points;
  if (s.format == "aws_json") {
    const std::string type = r.string_or("instance_type", instance);
    const std::string product = r.string_or("product", "Linux/UNIX");
    auto by_zone = read_aws_json(s.file, type, product);
    std::string zones;
    for (const auto& [z, p] : by_zone) zones += (zones.empty() ? "" : ", ") + z;
    if (r.has("zone")) {
      s.zone = r.string("zone");
      if (!by_zone.count(s.zone))
        r.fail("zone", "expected an availability zone with records of " + type + " in " + s.file + ": " + zones);
    } else if (by_zone.size() > 1) {
      r.fail("zone", "required: " + s.file + " holds records of " + type + " in several zones: " + zones);
    } else {
      s.zone = by_zone.begin()->first;
    }
    r.allow("zone");
    points = std::move(by_zone[s.zone]);
    // The AWS CLI lists the newest record first.
    std::stable_sort(points.begin(), points.end(), [](const PricePoint& a, const PricePoint& b) { return a.time_s < b.time_s; });
    std::vector<PricePoint> unique;
    for (PricePoint& p : points) {
      if (!unique.empty() && unique.back().time_s == p.time_s) {
        if (unique.back().usd_per_hour != p.usd_per_hour)
          throw_bad_input(s.file, p.where, nlohmann::json(p.usd_per_hour).dump(),
                          "another record of zone " + s.zone + " (" + unique.back().where + ") has the same Timestamp "
                          "and another price: expected one price per time");
        continue;
      }
      unique.push_back(std::move(p));
    }
    points = std::move(unique);
  } else {
    for (const char* key : {"zone", "instance_type", "product"})
      if (r.has(key)) r.fail(key, "only for AWS describe-spot-price-history JSON traces; this trace is a CSV");
    r.allow("zone");
    r.allow("instance_type");
    r.allow("product");
    points = read_csv(s.file);
  }
  s.trace_start_s = r.number_or("trace_start_s", 0, 0, limits::kMaxTime_s);
  s.max_usd_per_hour = r.has("max_price") ? r.number("max_price", 0, limits::kMaxUsdPerHour, true) : 0;
  r.allow("max_price");
  r.finish();

  // Simulated time 0 is trace_start_s after the first record; the price in force then first.
  const double start = points.front().time_s + s.trace_start_s;
  double price0 = points.front().usd_per_hour;
  for (const PricePoint& p : points)
    if (p.time_s <= start) price0 = p.usd_per_hour;
  s.steps.push_back({0, price0});
  for (const PricePoint& p : points)
    if (p.time_s > start && p.usd_per_hour != s.steps.back().usd_per_hour) s.steps.push_back({p.time_s - start, p.usd_per_hour});
  return s;
}

}  // namespace geotrain::sim
