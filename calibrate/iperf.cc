// iperf3 --json and ping summaries.
#include "calibrate/iperf.h"

#include <cmath>
#include <regex>
#include <stdexcept>

#include "sim/json_reader.h"

namespace geotrain::calibrate {
namespace {

constexpr double kBitsPerByte = 8;

// doc[a][b]... as a number, or a BadInput naming the path.
const nlohmann::json& at(const nlohmann::json& doc, const std::string& file, const std::vector<std::string>& keys,
                         const char* allowed) {
  const nlohmann::json* v = &doc;
  std::string path;
  for (const auto& k : keys) {
    path = sim::json_pointer_append(path, k);
    if (!v->is_object() || !v->contains(k)) sim::throw_bad_input(file, path, "(missing)", allowed);
    v = &(*v)[k];
  }
  return *v;
}

}  // namespace

IperfResult parse_iperf3(const nlohmann::json& doc, const std::string& file) {
  if (!doc.is_object()) sim::throw_bad_input(file, "", sim::json_value_text(doc), "expected iperf3's --json output (an object)");
  if (doc.contains("error"))
    sim::throw_bad_input(file, "/error", sim::json_value_text(doc["error"]),
                         "a completed iperf3 run (this one failed; measure again)");
  const char* kWhat = "iperf3 --json output of a completed TCP test";
  const auto& test = at(doc, file, {"start", "test_start"}, kWhat);
  const auto& protocol = at(test, file, {"protocol"}, kWhat);
  if (protocol != "TCP") sim::throw_bad_input(file, "/start/test_start/protocol", sim::json_value_text(protocol), "\"TCP\" (a UDP test measures no window)");
  IperfResult r;
  const auto& streams = at(test, file, {"num_streams"}, kWhat);
  if (!streams.is_number_integer() || streams.get<int>() < 1)
    sim::throw_bad_input(file, "/start/test_start/num_streams", sim::json_value_text(streams), "an integer >= 1");
  r.streams = streams.get<int>();
  r.reverse = test.value("reverse", 0) != 0;
  const auto& bps = at(doc, file, {"end", "sum_received", "bits_per_second"}, kWhat);
  if (!bps.is_number() || !(bps.get<double>() > 0))
    sim::throw_bad_input(file, "/end/sum_received/bits_per_second", sim::json_value_text(bps), "a rate > 0");
  r.received_Bps = bps.get<double>() / kBitsPerByte;
  const auto& seconds = at(doc, file, {"end", "sum_received", "seconds"}, kWhat);
  r.duration_s = seconds.is_number() ? seconds.get<double>() : 0;
  return r;
}

double parse_ping_summary(const std::string& line, const std::string& file, const std::string& path) {
  static const std::regex kSummary(
      R"((rtt|round-trip) min/avg/max/(mdev|stddev) = ([0-9.]+)/([0-9.]+)/([0-9.]+)/([0-9.]+) ms)");
  std::smatch m;
  if (!std::regex_search(line, m, kSummary))
    sim::throw_bad_input(file, path, sim::json_value_text(line),
                         "ping's summary line, e.g. \"rtt min/avg/max/mdev = 0.031/0.045/0.062/0.012 ms\"");
  // The pattern lets through "." and "1.2.3", and digits past double's range: all bad input.
  double avg_ms = 0;
  try {
    std::size_t used = 0;
    avg_ms = std::stod(m[4].str(), &used);
    if (used != m[4].str().size()) avg_ms = 0;
  } catch (const std::logic_error&) {  // invalid_argument, out_of_range
    avg_ms = 0;
  }
  if (!(avg_ms > 0 && std::isfinite(avg_ms)))
    sim::throw_bad_input(file, path, sim::json_value_text(line), "an average RTT > 0 ms");
  return avg_ms * 1e-3;
}

}  // namespace geotrain::calibrate
