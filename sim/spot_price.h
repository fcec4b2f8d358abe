// Spot prices over time.  A fleet entry's "spot_price" replays a market price trace (AWS
// `describe-spot-price-history` JSON as the AWS CLI prints it, or a CSV): the instance bills the
// price in force each second, and with a `max_price` (the classic bid) it is preempted while the
// market price is above it and comes back when the price falls to it again, so price and
// availability stay consistent.  Pure data and arithmetic: no SimGrid here.
#pragma once
#include <string>
#include <vector>

#include "sim/faults.h"

namespace geotrain::sim {

class JsonReader;

// The market price from `time_s` (simulated) on, until the next step.
struct PriceStep {
  double time_s = 0;
  double usd_per_hour = 0;
};

// A piece of billing: `usd_per_s` from from_s until to_s.
struct BillingPiece {
  double usd_per_s = 0, from_s = 0, to_s = 0;
};

struct SpotPriceSpec {
  std::string file;
  std::string format;              // aws_json | csv
  std::string zone;                // aws_json: the availability zone replayed
  double trace_start_s = 0;        // seconds after the trace's first record at simulated time 0
  std::vector<PriceStep> steps;    // in simulated time: the first at 0, ascending, changes only
  double max_usd_per_hour = 0;     // the bid; 0: none (never preempted for its price)

  bool has_max_price() const { return max_usd_per_hour > 0; }
  double usd_per_hour_at(double time_s) const;
  // [from_s, to_s) cut where the price changes, each piece at its price (to_s may be kNever).
  std::vector<BillingPiece> billing(double from_s, double to_s) const;
  // The time-weighted mean price over [0, end_s] (end_s > 0), $/h.
  double mean_usd_per_hour(double end_s) const;
  // With a max_price: the windows in which the market price is above it (cause "spot price
  // above max_price"), sorted and disjoint.
  std::vector<Outage> outages_above_max_price() const;
};

// Reads a fleet entry's "spot_price" object {"trace", "zone", "instance_type", "product",
// "trace_start_s", "max_price"} (docs/SCENARIO_FORMAT.md#spot-prices-over-time).  `instance` is
// the entry's instance type (the AWS records replayed are those of this type unless
// "instance_type" names another).  Relative trace paths start at the scenario's folder.  Throws
// BadInput naming the scenario or the trace file, the path or line, the value and what is allowed.
SpotPriceSpec parse_spot_price(JsonReader& r, const std::string& instance, const std::string& scenario_file);

// Seconds since 1970-01-01T00:00:00Z of an ISO 8601 time as the AWS CLI prints it
// ("2023-02-15T10:00:00+00:00", "2023-02-15T10:00:00.000Z"); false when `text` is not one.
bool parse_iso8601_s(const std::string& text, double& seconds);

}  // namespace geotrain::sim
