// SVG charts for `geotrain report`: scales with nice ticks, line/scatter charts, horizontal bars.
#include "analysis/report_svg.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace geotrain::analysis::report {
namespace {

// Chart geometry in SVG user units (the SVG scales to the page width).
constexpr double kChartWidth = 520, kChartHeight = 300;      // half the page
constexpr double kWideWidth = 1040, kWideHeight = 440;       // the whole page width
constexpr double kMarginLeft = 66, kMarginRight = 18, kMarginTop = 14, kMarginBottom = 46;
constexpr int kTargetTicks = 5;
// The y axis label (rotated, 12px) is centred at kYLabelX; its glyphs reach kYLabelBand.  Tick
// labels (11px) end kTickGap left of the frame; kTickCharWidth is a generous width per character.
constexpr double kYLabelX = 14, kYLabelBand = 22, kTickGap = 6, kTickCharWidth = 6.6;

// The right margin that keeps the last x tick label (centred on its tick) inside the chart.
double right_margin(const Scale& x) {
  const auto ticks = x.ticks();
  const double half = ticks.empty() ? 0 : kTickCharWidth * static_cast<double>(x.tick_text(ticks.back()).size()) / 2;
  return std::max(kMarginRight, half + 2);
}

// The left margin that keeps the y tick labels right of the y axis label: at least kMarginLeft.
double left_margin(const Scale& y) {
  std::size_t longest = 0;
  for (const double t : y.ticks()) longest = std::max(longest, y.tick_text(t).size());
  return std::max(kMarginLeft, kYLabelBand + kTickCharWidth * static_cast<double>(longest) + kTickGap + 4);
}

std::string px(double v) { return fmt::format("{:.1f}", v); }

// 1, 2 or 5 times a power of ten, >= raw.
double nice_step(double raw) {
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  for (const double m : {1.0, 2.0, 5.0})
    if (m * magnitude >= raw * (1 - 1e-9)) return m * magnitude;
  return 10 * magnitude;
}

// Evenly spaced indices of n points, at most `cap`, first and last included.
std::vector<std::size_t> thinned(std::size_t n, std::size_t cap) {
  std::vector<std::size_t> idx;
  if (n <= cap) {
    for (std::size_t i = 0; i < n; ++i) idx.push_back(i);
    return idx;
  }
  for (std::size_t k = 0; k < cap; ++k) idx.push_back(k * (n - 1) / (cap - 1));
  return idx;
}

std::string legend_html(const std::vector<Series>& series, const Chart& chart) {
  std::string html = "<div class=\"legend\">";
  for (const auto& s : series) {
    if (!s.in_legend || s.points.empty()) continue;
    const char* shape = s.line ? (s.dashed ? "sw dash" : "sw") : "sw dot";
    html += fmt::format("<span><i class=\"{}\" style=\"--c:{}\"></i>{}</span>", shape, escape(s.colour), escape(s.label));
  }
  if (chart.y_reference)
    html += fmt::format("<span><i class=\"sw dash\" style=\"--c:#555\"></i>{}</span>", escape(chart.y_reference_label));
  return html + "</div>";
}

std::string axes_svg(const Scale& x, const Scale& y, const Chart& chart) {
  std::string svg;
  for (const double t : y.ticks()) {
    svg += fmt::format("<line class=\"grid\" x1=\"{}\" x2=\"{}\" y1=\"{}\" y2=\"{}\"/>", px(x.px_lo), px(x.px_hi), px(y(t)), px(y(t)));
    svg += fmt::format("<text class=\"tick\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>", px(x.px_lo - kTickGap), px(y(t) + 4),
                       escape(y.tick_text(t)));
  }
  for (const double t : x.ticks()) {
    svg += fmt::format("<line class=\"grid\" x1=\"{}\" x2=\"{}\" y1=\"{}\" y2=\"{}\"/>", px(x(t)), px(x(t)), px(y.px_hi), px(y.px_lo));
    svg += fmt::format("<text class=\"tick\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>", px(x(t)), px(y.px_lo + 16),
                       escape(x.tick_text(t)));
  }
  svg += fmt::format("<rect class=\"frame\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/>", px(x.px_lo), px(y.px_hi),
                     px(x.px_hi - x.px_lo), px(y.px_lo - y.px_hi));
  svg += fmt::format("<text class=\"axis\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>", px((x.px_lo + x.px_hi) / 2),
                     px(y.px_lo + kMarginBottom - 8), escape(chart.x_label));
  svg += fmt::format("<text class=\"axis\" transform=\"translate({},{}) rotate(-90)\" text-anchor=\"middle\">{}</text>",
                     px(kYLabelX), px((y.px_lo + y.px_hi) / 2), escape(chart.y_label));
  return svg;
}

std::string series_svg(const Series& s, const Scale& x, const Scale& y, std::vector<std::string>& notes) {
  std::string svg;
  auto visible = [&](const std::pair<double, double>& p) {
    return std::isfinite(p.first) && std::isfinite(p.second) && (!x.log || p.first > 0) && (!y.log || p.second > 0);
  };
  if (s.line && s.points.size() > 1) {
    const auto idx = thinned(s.points.size(), kMaxLinePoints);
    if (idx.size() < s.points.size())
      notes.push_back(fmt::format("{}: line drawn through {} of {} points (evenly spaced).", s.label, idx.size(), s.points.size()));
    std::string coords;
    for (const std::size_t i : idx)
      if (visible(s.points[i])) coords += fmt::format("{}{},{}", coords.empty() ? "" : " ", px(x(s.points[i].first)), px(y(s.points[i].second)));
    svg += fmt::format("<polyline class=\"{}\" stroke=\"{}\" points=\"{}\"/>", s.dashed ? "line dash" : "line", escape(s.colour), coords);
  }
  if (s.markers)
    for (std::size_t i = 0; i < s.points.size(); ++i) {
      if (!visible(s.points[i])) continue;
      const std::string title = i < s.titles.size() ? "<title>" + escape(s.titles[i]) + "</title>" : "";
      svg += fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"{}\" fill=\"{}\"{}>{}</circle>", px(x(s.points[i].first)),
                         px(y(s.points[i].second)), px(s.marker_radius_px), escape(s.colour),
                         i < s.marker_attrs.size() ? " " + s.marker_attrs[i] : "", title);
    }
  return svg;
}

}  // namespace

std::string escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string thousands(std::string fixed) {
  const std::size_t digits_from = fixed[0] == '-' ? 1 : 0;
  std::size_t point = fixed.find('.');
  if (point == std::string::npos) point = fixed.size();
  for (std::size_t at = point; at > digits_from + 3; at -= 3) fixed.insert(at - 3, ",");
  return fixed;
}

std::string shortened(const std::string& text, std::size_t max_chars) {
  if (text.size() <= max_chars || max_chars < 2) return text;
  std::size_t cut = max_chars - 1;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // not inside a UTF-8 character
  return text.substr(0, cut) + "…";
}

std::string num(double v) {
  if (!std::isfinite(v)) return std::isnan(v) ? "NaN" : (v > 0 ? "inf" : "-inf");
  if (v == 0) return "0";
  const double a = std::fabs(v);
  if (a >= 1e-6 && a < 1e9) {  // fixed notation with 4 significant digits, trailing zeros dropped
    const int decimals = std::max(0, 3 - static_cast<int>(std::floor(std::log10(a))));
    std::string s = fmt::format("{:.{}f}", v, decimals);
    if (s.find('.') != std::string::npos) {
      s.erase(s.find_last_not_of('0') + 1);
      if (s.back() == '.') s.pop_back();
    }
    return thousands(s);
  }
  return fmt::format("{:.3e}", v);
}

std::string usd_text(double usd) {
  if (std::fabs(usd) >= 1) return "$" + thousands(fmt::format("{:.2f}", usd));
  return fmt::format("${}", num(std::stod(fmt::format("{:.3g}", usd))));
}

TimeUnit time_unit(double max_s) {
  if (max_s > kHoursFromSeconds) return {"h", kSecondsPerHour};
  return {"s", 1};
}

std::string duration_text(double seconds) {
  const TimeUnit unit = time_unit(std::fabs(seconds));
  return num(seconds / unit.seconds) + " " + unit.name;
}

std::string bytes_text(double bytes) {
  constexpr std::array<std::pair<double, const char*>, 4> kUnits = {{{1e12, "TB"}, {1e9, "GB"}, {1e6, "MB"}, {1e3, "kB"}}};
  for (const auto& [size, unit] : kUnits)
    if (std::fabs(bytes) >= size) return num(std::stod(fmt::format("{:.3g}", bytes / size))) + " " + unit;
  return num(bytes) + " B";
}

Series series_of(std::string label, std::string colour) {
  Series s;
  s.label = std::move(label);
  s.colour = std::move(colour);
  return s;
}

Chart chart_of(std::string title, std::string x_label, std::string y_label) {
  Chart c;
  c.title = std::move(title);
  c.x_label = std::move(x_label);
  c.y_label = std::move(y_label);
  return c;
}

std::string exact_number(double v) {
  constexpr double kExactIntegerLimit = 9007199254740992.0;  // 2^53: doubles are exact integers below it
  if (std::fabs(v) < kExactIntegerLimit && v == std::trunc(v)) return fmt::format("{}", static_cast<long long>(v));
  return nlohmann::json(v).dump();
}

std::string colour(std::size_t i) {
  // Okabe & Ito (2008), "Color Universal Design", without yellow (unreadable on white).
  static const std::array<const char*, 7> kPalette = {"#0072B2", "#E69F00", "#009E73", "#D55E00",
                                                      "#CC79A7", "#56B4E9", "#000000"};
  return kPalette[i % kPalette.size()];
}

double Scale::operator()(double v) const {
  const double a = log ? std::log10(lo) : lo, b = log ? std::log10(hi) : hi;
  const double t = ((log ? std::log10(v) : v) - a) / (b - a);
  return px_lo + t * (px_hi - px_lo);
}

std::vector<double> Scale::ticks() const {
  std::vector<double> out;
  if (log) {
    const double decades = std::log10(hi / lo);
    for (double p = lo; p <= hi * (1 + 1e-9); p *= 10)
      for (const double m : {1.0, 2.0, 5.0})
        if ((m == 1 || decades <= 2) && p * m <= hi * (1 + 1e-9)) out.push_back(p * m);
    return out;
  }
  const long long first = std::llround(lo / step), last = std::llround(hi / step);
  for (long long k = first; k <= last; ++k) out.push_back(static_cast<double>(k) * step);
  return out;
}

std::string Scale::tick_text(double v) const {
  if (log || std::fabs(v) >= 1e7 || step < 1e-4) return num(v);
  const int decimals = std::max(0, -static_cast<int>(std::floor(std::log10(step) + 1e-9)));
  std::string s = fmt::format("{:.{}f}", v, decimals);
  return s == "-0" ? "0" : thousands(s);
}

Scale make_scale(const std::vector<double>& values, bool from_zero, bool log, double px_lo, double px_hi) {
  Scale s;
  s.px_lo = px_lo;
  s.px_hi = px_hi;
  s.log = log;
  double lo = INFINITY, hi = -INFINITY;
  for (const double v : values)
    if (std::isfinite(v) && (!log || v > 0)) lo = std::min(lo, v), hi = std::max(hi, v);
  if (!std::isfinite(lo)) lo = log ? 1 : 0, hi = log ? 10 : 1;
  if (log) {
    s.lo = std::pow(10.0, std::floor(std::log10(lo) + 1e-9));
    s.hi = std::pow(10.0, std::ceil(std::log10(hi) - 1e-9));
    if (s.hi <= s.lo) s.hi = s.lo * 10;
    return s;
  }
  if (from_zero) lo = std::min(lo, 0.0), hi = std::max(hi, 0.0);
  if (hi - lo <= 0) {  // one value: a range around it (from zero: all values are 0, show [0, 1])
    const double pad = lo == 0 ? 1 : std::fabs(lo) * 0.1;
    if (!from_zero) lo -= pad;
    hi += pad;
  }
  s.step = nice_step((hi - lo) / kTargetTicks);
  s.lo = std::floor(lo / s.step + 1e-9) * s.step;
  s.hi = std::ceil(hi / s.step - 1e-9) * s.step;
  return s;
}

std::string chart_html(const Chart& chart) {
  std::vector<double> xs, ys;
  for (const auto& s : chart.series)
    for (const auto& [x, y] : s.points) xs.push_back(x), ys.push_back(y);
  if (xs.empty()) throw std::logic_error("chart_html: chart '" + chart.title + "' has no points");
  if (chart.y_reference) {  // with a little room above and below, so the line never sits on the frame
    constexpr double kReferenceRoom = 0.02;
    ys.push_back(*chart.y_reference * (1 + kReferenceRoom));
    ys.push_back(*chart.y_reference * (1 - kReferenceRoom));
  }
  const double width = chart.wide ? kWideWidth : kChartWidth, height = chart.wide ? kWideHeight : kChartHeight;
  const Scale y = make_scale(ys, chart.y_from_zero, chart.log_y, height - kMarginBottom, kMarginTop);
  Scale x = make_scale(xs, chart.x_from_zero, chart.log_x, left_margin(y), width - kMarginRight);
  x.px_hi = width - right_margin(x);  // ticks are in data units: the pixels do not change them
  std::vector<std::string> notes = chart.notes;
  std::string svg = fmt::format("<svg viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"{}\">", width, height,
                                escape(chart.title));
  svg += axes_svg(x, y, chart);
  if (chart.y_reference)
    svg += fmt::format("<line class=\"ref\" x1=\"{}\" x2=\"{}\" y1=\"{}\" y2=\"{}\"/>", px(x.px_lo), px(x.px_hi),
                       px(y(*chart.y_reference)), px(y(*chart.y_reference)));
  for (const auto& s : chart.series) svg += series_svg(s, x, y, notes);
  svg += "</svg>";
  std::string html = (chart.wide ? "<figure class=\"wide\"><figcaption>" : "<figure><figcaption>") + escape(chart.title) + "</figcaption>" + legend_html(chart.series, chart) + svg;
  for (const auto& note : notes) html += "<p class=\"note\">" + escape(note) + "</p>";
  return html + "</figure>";
}

std::string bars_html(const std::string& title, const std::string& x_label, const std::vector<Bar>& bars,
                      const std::function<std::string(double)>& value_text) {
  constexpr double kWidth = 1040, kValueWidth = 90, kRow = 22, kBarHeight = 15, kTop = 8, kAxis = 44;
  constexpr double kCharWidth = 7, kMinLabelWidth = 160, kMaxLabelWidth = 520;  // px at the 12px label font, generous
  std::vector<double> values;
  std::size_t longest = 0;
  for (const auto& b : bars) values.push_back(b.value), longest = std::max(longest, b.label.size());
  const double label_width = std::clamp(kCharWidth * static_cast<double>(longest) + 16, kMinLabelWidth, kMaxLabelWidth);
  const auto label_chars = static_cast<std::size_t>((label_width - 16) / kCharWidth);
  const Scale x = make_scale(values, true, false, label_width, kWidth - kValueWidth);
  const double height = kTop + kRow * static_cast<double>(bars.size()) + kAxis;
  const double axis_y = kTop + kRow * static_cast<double>(bars.size());
  std::string svg = fmt::format("<svg viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"{}\">", kWidth, px(height), escape(title));
  for (const double t : x.ticks())
    svg += fmt::format("<line class=\"grid\" x1=\"{0}\" x2=\"{0}\" y1=\"{1}\" y2=\"{2}\"/><text class=\"tick\" x=\"{0}\" y=\"{3}\" "
                       "text-anchor=\"middle\">{4}</text>",
                       px(x(t)), px(kTop), px(axis_y), px(axis_y + 16), escape(x.tick_text(t)));
  for (std::size_t i = 0; i < bars.size(); ++i) {
    const auto& b = bars[i];
    const double top = kTop + kRow * static_cast<double>(i) + (kRow - kBarHeight) / 2;
    svg += fmt::format("<text class=\"label\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>", px(label_width - 8),
                       px(top + kBarHeight - 3), escape(shortened(b.label, label_chars)));
    svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"{}><title>{}: {}</title></rect>", px(x(0)),
                       px(top), px(std::max(0.0, x(b.value) - x(0))), px(kBarHeight), escape(b.colour),
                       b.attrs.empty() ? "" : " " + b.attrs, escape(b.label), escape(value_text(b.value)));
    svg += fmt::format("<text class=\"value\" x=\"{}\" y=\"{}\">{}</text>", px(x(b.value) + 6), px(top + kBarHeight - 3),
                       escape(value_text(b.value)));
  }
  svg += fmt::format("<line class=\"frame\" x1=\"{0}\" x2=\"{1}\" y1=\"{2}\" y2=\"{2}\"/>", px(x.px_lo), px(x.px_hi), px(axis_y));
  svg += fmt::format("<text class=\"axis\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text></svg>", px((x.px_lo + x.px_hi) / 2),
                     px(height - 6), escape(x_label));
  return "<figure class=\"wide\"><figcaption>" + escape(title) + "</figcaption>" + svg + "</figure>";
}

}  // namespace geotrain::analysis::report
