// Drawing for `geotrain report` (internal to analysis/report*.cc): HTML escaping, number text,
// and charts as inline SVG (line/scatter charts with unit-labelled axes, horizontal bars).
// Not a general plotting library: only what the report pages need, deterministic to the byte.
#pragma once
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace geotrain::analysis::report {

// Escapes &, <, >, " and ' so any text is safe inside HTML/SVG text and attribute values.
std::string escape(std::string_view text);

// Text for people: up to 4 significant digits, no exponent for ordinary magnitudes, thousands
// separated by commas ("1,234,567", "12,350", "0.5").
std::string num(double v);
// "$0.32", "$12.50", "$1,234.50", "$0.000174": dollars, 2 decimals from $1 up, else 3 significant
// digits.
std::string usd_text(double usd);
// `text` cut to at most max_chars bytes, ending in "…" when cut (never inside a UTF-8 character).
std::string shortened(const std::string& text, std::size_t max_chars);
// Commas between thousands of the integer part of a fixed-notation number: "-1234567.5" ->
// "-1,234,567.5".
std::string thousands(std::string fixed);

// Simulated times above 2 hours are shown in hours, shorter ones in seconds.
inline constexpr double kSecondsPerHour = 3600;
inline constexpr double kHoursFromSeconds = 2 * kSecondsPerHour;
struct TimeUnit {
  const char* name;  // "s" or "h"
  double seconds;    // seconds per unit
};
// The unit for times up to max_s: "h" when max_s > 2 h, else "s".
TimeUnit time_unit(double max_s);
// "12.5 s", "5,400 s", "3.5 h": a simulated duration in its time_unit().
std::string duration_text(double seconds);
// "4 GB", "400 MB", "12.3 kB" (decimal units: GB = 1e9 bytes).
std::string bytes_text(double bytes);
// Whole numbers as integers, others in the shortest text that reads back to the same double (for
// data-* attributes that tests and scripts read back).
std::string exact_number(double v);

// The palette of the report (colour-blind safe, Okabe & Ito 2008); colour(i) cycles through it.
std::string colour(std::size_t i);

struct Series {
  std::string label;                            // legend text
  std::string colour;                           // CSS colour
  std::vector<std::pair<double, double>> points;  // (x, y) in data units, drawn in this order
  bool line = true;                             // a polyline through the points
  bool markers = false;                         // a circle at each point
  bool dashed = false;
  double marker_radius_px = 3;
  std::vector<std::string> titles;              // tooltip per point (empty, or one per point)
  std::vector<std::string> marker_attrs;        // extra attributes per marker (empty, or one per point)
  bool in_legend = true;
};

struct Chart {
  std::string title;                            // shown above the chart
  std::string x_label, y_label;                 // with their unit: "simulated time (s)"
  std::vector<Series> series;
  bool x_from_zero = false, y_from_zero = false;  // include 0 in the axis range
  bool log_x = false, log_y = false;            // logarithmic axis (every value must be > 0)
  std::optional<double> y_reference;            // a dashed horizontal line (e.g. a target)
  std::string y_reference_label;
  std::vector<std::string> notes;               // small print under the chart
  bool wide = false;                            // the whole page width (else half)
};

// A series or chart with the given texts and every other field at its default.
Series series_of(std::string label, std::string colour);
Chart chart_of(std::string title, std::string x_label, std::string y_label);

// The most points of one series drawn as a polyline; longer series are thinned evenly (the first
// and last points kept) and the chart says so.
inline constexpr std::size_t kMaxLinePoints = 1500;

// A <figure> holding the title, an HTML legend, the SVG and the notes.  Series without points
// are left out; REQUIRES: at least one point in some series.
std::string chart_html(const Chart& chart);

struct Bar {
  std::string label;
  double value = 0;       // >= 0
  std::string colour;
  std::string attrs;      // extra attributes on the bar's <rect> (e.g. data-usd="...")
};

// Horizontal bars from 0, one row per bar, the value written after each bar with value_text.
std::string bars_html(const std::string& title, const std::string& x_label, const std::vector<Bar>& bars,
                      const std::function<std::string(double)>& value_text);

// An axis mapping data values to pixels, with "nice" tick values (1, 2, 5 x 10^k; powers of ten
// on a log axis).
struct Scale {
  double lo = 0, hi = 1;          // data range shown (after rounding out to ticks)
  double px_lo = 0, px_hi = 1;    // pixels of lo and hi
  bool log = false;
  double step = 1;                // tick spacing (linear scales)

  double operator()(double v) const;
  std::vector<double> ticks() const;
  std::string tick_text(double v) const;
};

// A scale over [min, max] of `values` (0 added when from_zero), rounded out to ticks.  Empty
// values give [0, 1].  On a log scale values <= 0 are ignored.
Scale make_scale(const std::vector<double>& values, bool from_zero, bool log, double px_lo, double px_hi);

}  // namespace geotrain::analysis::report
