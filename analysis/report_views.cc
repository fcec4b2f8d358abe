// The run views of `geotrain report` that are not x-y charts: the utilization timeline per
// worker (from trace.json spans) and the topology with its traffic (from results.json links).
#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <numbers>
#include <set>
#include <tuple>

#include <fmt/format.h>

#include "analysis/report_pages.h"
#include "analysis/report_svg.h"

namespace geotrain::analysis::report {
namespace {

std::string px(double v) { return fmt::format("{:.1f}", v); }

// Utilization timeline geometry (SVG user units).
constexpr double kTimelineWidth = 1040, kTimelineRight = 16;
// Track labels (12px): kLabelCharWidth is a generous width per character; the label column grows
// with the longest label between these bounds, and longer labels are shortened (the full text
// in the track's tooltip).
constexpr double kLabelCharWidth = 7, kMinTrackLabelWidth = 160, kMaxTrackLabelWidth = 420, kLabelPad = 16;
constexpr double kTrackPitch = 20, kBandHeight = 12, kStripHeight = 4, kTimelineTop = 6, kTimelineAxis = 42;
constexpr double kMergeGapPx = 0.5;  // spans closer than this on screen are drawn as one rectangle
constexpr std::size_t kMinBins = 20, kMaxBins = 400;

constexpr std::array<Activity, 4> kActivities = {Activity::compute, Activity::communication, Activity::overlapped, Activity::other};
const char* activity_colour(Activity a) {
  switch (a) {
    case Activity::compute: return "#0072B2";
    case Activity::communication: return "#E69F00";
    case Activity::overlapped: return "#CC79A7";
    default: return "#666666";
  }
}
const char* activity_name(Activity a) {
  switch (a) {
    case Activity::compute: return "compute";
    case Activity::communication: return "exposed communication";
    case Activity::overlapped: return "overlapped communication";
    default: return "other";
  }
}

struct Band {  // where an activity is drawn inside a track
  double top, height;
};
Band band_of(Activity a, double track_top) {
  if (a == Activity::overlapped) return {track_top + kBandHeight + 1, kStripHeight};
  return {track_top, kBandHeight};
}

struct Rect {
  std::size_t track;
  Activity activity;
  double x0, x1;
  double bottom = 0, top = 1;  // share of the band's height, from its bottom
  double opacity = 1;
};

// Exact spans in pixels, merged where they touch on screen.  Sorted by (track, activity, start).
std::vector<Rect> exact_rects(const Trace& trace, std::size_t tracks, const Scale& x) {
  std::vector<Rect> rects;
  for (const auto& s : trace.spans)
    if (s.track < tracks) rects.push_back({s.track, s.activity, x(s.start_s), x(s.end_s)});
  std::sort(rects.begin(), rects.end(), [](const Rect& a, const Rect& b) {
    return std::tie(a.track, a.activity, a.x0, a.x1) < std::tie(b.track, b.activity, b.x0, b.x1);
  });
  std::vector<Rect> merged;
  for (const auto& r : rects) {
    if (!merged.empty() && merged.back().track == r.track && merged.back().activity == r.activity &&
        r.x0 - merged.back().x1 < kMergeGapPx)
      merged.back().x1 = std::max(merged.back().x1, r.x1);
    else
      merged.push_back(r);
  }
  return merged;
}

// Time bins per track: the share of each bin each activity covers, stacked as heights in the main
// band (compute, exposed communication, other) and as colour strength in the overlapped strip.
std::vector<Rect> binned_rects(const Trace& trace, std::size_t tracks, double end_s, std::size_t bins, const Scale& x) {
  std::vector<double> busy(tracks * kActivities.size() * bins, 0.0);
  const double width_s = end_s / static_cast<double>(bins);
  for (const auto& s : trace.spans) {
    if (s.track >= tracks || s.end_s <= s.start_s) continue;
    const auto first = static_cast<std::size_t>(std::clamp(s.start_s / width_s, 0.0, bins - 1.0));
    const auto last = static_cast<std::size_t>(std::clamp(s.end_s / width_s, 0.0, bins - 1.0));
    for (std::size_t b = first; b <= last; ++b) {
      const double lo = std::max(s.start_s, width_s * b), hi = std::min(s.end_s, width_s * (b + 1));
      const double share = s.busy_s() / (s.end_s - s.start_s);  // an aggregate: spread over its extent
      if (hi > lo) busy[(s.track * kActivities.size() + static_cast<std::size_t>(s.activity)) * bins + b] += (hi - lo) * share;
    }
  }
  constexpr double kMinShownFraction = 0.01;
  constexpr double kOpacitySteps = 20;  // overlapped strip: colour strength in steps of 5%
  std::vector<Rect> rects;
  for (std::size_t t = 0; t < tracks; ++t)
    for (std::size_t b = 0; b < bins; ++b) {
      double stacked = 0;
      for (const Activity a : kActivities) {
        const double f = std::min(1.0, busy[(t * kActivities.size() + static_cast<std::size_t>(a)) * bins + b] / width_s);
        if (f < kMinShownFraction) continue;
        Rect r{t, a, x(width_s * b), x(width_s * (b + 1))};
        if (a == Activity::overlapped) {
          r.opacity = std::max(1.0, std::round(f * kOpacitySteps)) / kOpacitySteps;
        } else {
          r.bottom = std::min(1.0, stacked), r.top = std::min(1.0, stacked + f);
          stacked += f;
        }
        if (r.top > r.bottom) rects.push_back(r);
      }
    }
  return rects;
}

// "us-central1:0 · 5% compute", and in `title` the seconds and shares of every activity.
std::string track_label(const std::string& track, const std::array<double, kActivities.size()>& busy_s, double end_s,
                        std::string& title) {
  title = track + ":";
  for (std::size_t a = 0; a < kActivities.size(); ++a)
    if (busy_s[a] > 0 || a < 2)
      title += fmt::format(" {} {} ({}%);", activity_name(kActivities[a]), duration_text(busy_s[a]), num(100 * busy_s[a] / end_s));
  title.pop_back();
  const double compute_pct = 100 * busy_s[0] / end_s;
  const std::string shown = compute_pct > 0 && compute_pct < 0.1 ? "<0.1" : num(std::round(compute_pct * 10) / 10);
  return fmt::format("{} · {}% compute", track, shown);
}

// The spans one by one when they fit under kMaxTimelineRects after merging, else time bins (with
// a note saying so): as many bins as the cap allows for the activities present.
std::vector<Rect> timeline_rects(const Trace& trace, std::size_t tracks, double end_s, const Scale& x, std::vector<std::string>& notes) {
  std::vector<Rect> rects = exact_rects(trace, tracks, x);
  const bool aggregates = std::any_of(trace.spans.begin(), trace.spans.end(), [](const Span& s) { return s.aggregate(); });
  if (rects.size() <= kMaxTimelineRects && !aggregates) return rects;
  std::set<Activity> present;
  for (const auto& s : trace.spans) present.insert(s.activity);
  const std::size_t bins = std::clamp(kMaxTimelineRects / (present.size() * tracks), kMinBins, kMaxBins);
  const std::string why =
      aggregates ? fmt::format("trace.json aggregates the spans past its cap (output.trace_max_spans) into spans of "
                               "known busy time, {} spans in all",
                               trace.spans.size())
                 : fmt::format("{} spans ({} rectangles even after merging neighbours) are too many to draw one by one",
                               trace.spans.size(), rects.size());
  notes.push_back(fmt::format("{}: time is cut into {} bins of {} per track; in each bin the bar heights are the shares "
                              "of the bin spent computing and communicating (overlapped communication: colour strength).",
                              why, bins, duration_text(end_s / static_cast<double>(bins))));
  return binned_rects(trace, tracks, end_s, bins, x);
}

std::string timeline_legend() {
  std::string html = "<div class=\"legend\">";
  for (const Activity a : kActivities)
    html += fmt::format("<span><i class=\"sw box\" style=\"--c:{}\"></i>{}</span>", activity_colour(a), activity_name(a));
  return html + "<span><i class=\"sw box\" style=\"--c:#eef0f3\"></i>idle</span></div>";
}

// Regions in order of first appearance in the links.
std::vector<std::string> regions_of(const std::vector<LinkTraffic>& links) {
  std::vector<std::string> regions;
  for (const auto& l : links)
    for (const auto* r : {&l.src_region, &l.dst_region})
      if (std::find(regions.begin(), regions.end(), *r) == regions.end()) regions.push_back(*r);
  return regions;
}


// Topology geometry (SVG user units).
constexpr double kTopoWidth = 1040, kTopoHeight = 500, kTopoHeightSmall = 240, kTopoRadius = 175, kNodeRadius = 9;
constexpr double kCurve = 0.15;                   // control point offset, as a share of the edge length
constexpr double kMaxStroke = 10, kMinStroke = 1.5;  // edge width for the most bytes, and the least

struct Point {
  double x, y;
};

// The unit normal of the chord a->b toward which its arrow bows: away from the centre of the
// circle, except the second of a pair (a->b and b->a both carry bytes), which bows toward it.  A
// chord through the centre bows to the right of travel from the lower region index.
Point bow_normal(Point a, Point b, Point centre, bool lower_to_higher, bool second_of_pair) {
  const double dx = b.x - a.x, dy = b.y - a.y, d = std::hypot(dx, dy);
  Point n{-dy / d, dx / d};  // right of travel (SVG y grows downward)
  const double away = (a.x + b.x) / 2 - centre.x, away_y = (a.y + b.y) / 2 - centre.y;
  const double side = n.x * away + n.y * away_y;
  constexpr double kThroughCentre = 1e-6;  // px: the chord passes through the centre
  const bool flip = std::fabs(side) < kThroughCentre ? !lower_to_higher : side < 0;
  if (flip) n = {-n.x, -n.y};
  return second_of_pair ? Point{-n.x, -n.y} : n;
}

// One arrow from a to b: a quadratic curve bowing toward `normal`, an arrowhead at b, and its
// label outside the bow (appended to *labels when given).
std::string edge_svg(const LinkTraffic& l, Point a, Point b, Point normal, double width, std::string* labels) {
  const double d = std::hypot(b.x - a.x, b.y - a.y);
  if (d == 0) return "";
  const Point c{(a.x + b.x) / 2 + normal.x * kCurve * d, (a.y + b.y) / 2 + normal.y * kCurve * d};
  auto toward = [](Point p, Point q, double by) {
    const double len = std::hypot(q.x - p.x, q.y - p.y);
    return Point{p.x + (q.x - p.x) * by / len, p.y + (q.y - p.y) * by / len};
  };
  const double head = std::max(9.0, 2.2 * width);     // arrowhead length
  const Point start = toward(a, c, kNodeRadius + 2), tip = toward(b, c, kNodeRadius + 2);
  const Point base = toward(tip, c, head), end = toward(tip, c, head * 0.8);  // the stroke stops inside the head
  const Point side{-(tip.y - base.y) * 0.55, (tip.x - base.x) * 0.55};  // half the head's width, across it
  const char* cls = l.egress_usd > 0 ? "edge" : "edge free";
  std::string svg = fmt::format(
      "<g class=\"{}\" data-src=\"{}\" data-dst=\"{}\" data-bytes=\"{}\" data-usd=\"{}\"><title>{} → {}: {} at ${}/GB = {}</title>"
      "<path d=\"M{},{} Q{},{} {},{}\" stroke-width=\"{}\"/><path class=\"head\" d=\"M{},{}L{},{}L{},{}z\"/></g>",
      cls, escape(l.src_region), escape(l.dst_region), exact_number(l.bytes), exact_number(l.egress_usd), escape(l.src_region),
      escape(l.dst_region), escape(bytes_text(l.bytes)), escape(num(l.usd_per_GB)), escape(usd_text(l.egress_usd)), px(start.x),
      px(start.y), px(c.x), px(c.y), px(end.x), px(end.y), px(width), px(tip.x), px(tip.y), px(base.x + side.x), px(base.y + side.y),
      px(base.x - side.x), px(base.y - side.y));
  if (labels) {  // at the middle of the curve, pushed outside the bow by half the width and a gap
    const double push = width / 2 + 6;
    const Point mid{0.25 * a.x + 0.5 * c.x + 0.25 * b.x + normal.x * push, 0.25 * a.y + 0.5 * c.y + 0.25 * b.y + normal.y * push};
    const char* anchor = normal.x > 0.3 ? "start" : normal.x < -0.3 ? "end" : "middle";
    const double baseline = mid.y + 4 + (normal.y > 0.3 ? 6 : normal.y < -0.3 ? -6 : 0);
    *labels += fmt::format("<text class=\"edge-label halo\" x=\"{}\" y=\"{}\" text-anchor=\"{}\">{} · {}</text>", px(mid.x),
                           px(baseline), anchor, escape(bytes_text(l.bytes)), escape(usd_text(l.egress_usd)));
  }
  return svg;
}

// A region: a dot, its name outside the circle (direction `angle`), and its traffic inside.
std::string node_svg(const std::string& region, Point p, double angle, const LinkTraffic* inside) {
  const double c = std::cos(angle), s = std::sin(angle);
  const char* anchor = c > 0.3 ? "start" : c < -0.3 ? "end" : "middle";
  const double above = s < -0.3 ? (inside ? 19 : 4) : 0;  // labels of top nodes grow upward
  const double lx = p.x + c * (kNodeRadius + 8), ly = p.y + s * (kNodeRadius + 8) + (s > 0.3 ? 12 : s < -0.3 ? -above : 4);
  std::string svg = fmt::format("<circle class=\"node\" cx=\"{}\" cy=\"{}\" r=\"{}\"/>", px(p.x), px(p.y), px(kNodeRadius));
  svg += fmt::format("<text class=\"region halo\" x=\"{}\" y=\"{}\" text-anchor=\"{}\">{}", px(lx), px(ly), anchor, escape(region));
  if (inside)
    svg += fmt::format("<tspan class=\"inside\" x=\"{}\" dy=\"15\">inside: {} · {}</tspan>", px(lx), escape(bytes_text(inside->bytes)),
                       escape(usd_text(inside->egress_usd)));
  return svg + "</text>";
}

}  // namespace

std::string utilization_html(const Trace& trace, double simulated_s) {
  double end_s = simulated_s;
  for (const auto& s : trace.spans) end_s = std::max(end_s, s.end_s);
  if (trace.spans.empty() || end_s <= 0) return "<p class=\"empty\">no spans in trace.json: nothing to draw</p>";
  const std::size_t tracks = std::min(trace.tracks.size(), kMaxTimelineTracks);
  std::vector<std::string> notes;
  if (tracks < trace.tracks.size()) notes.push_back(fmt::format("Showing the first {} of {} tracks.", tracks, trace.tracks.size()));
  std::vector<std::array<double, kActivities.size()>> busy_s(tracks);  // per track, seconds per activity
  for (const auto& s : trace.spans)
    if (s.track < tracks) busy_s[s.track][static_cast<std::size_t>(s.activity)] += s.busy_s();
  std::vector<std::string> labels(tracks), titles(tracks);
  std::size_t longest = 0;
  for (std::size_t t = 0; t < tracks; ++t)
    labels[t] = track_label(trace.tracks[t], busy_s[t], end_s, titles[t]), longest = std::max(longest, labels[t].size());
  const double label_width =
      std::clamp(kLabelCharWidth * static_cast<double>(longest) + kLabelPad, kMinTrackLabelWidth, kMaxTrackLabelWidth);
  const auto label_chars = static_cast<std::size_t>((label_width - kLabelPad) / kLabelCharWidth);
  const TimeUnit unit = time_unit(end_s);
  const Scale x_unit = make_scale({0.0, end_s / unit.seconds}, true, false, label_width, kTimelineWidth - kTimelineRight);
  Scale x = x_unit;  // in seconds, for the spans
  x.lo *= unit.seconds, x.hi *= unit.seconds, x.step *= unit.seconds;
  const std::vector<Rect> rects = timeline_rects(trace, tracks, end_s, x, notes);
  const double axis_y = kTimelineTop + kTrackPitch * static_cast<double>(tracks);
  const double height = axis_y + kTimelineAxis;
  std::string svg = fmt::format("<svg viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"utilization per worker\">", kTimelineWidth, px(height));
  for (const double t : x_unit.ticks())
    svg += fmt::format("<line class=\"grid\" x1=\"{0}\" x2=\"{0}\" y1=\"{1}\" y2=\"{2}\"/><text class=\"tick\" x=\"{0}\" y=\"{3}\" "
                       "text-anchor=\"middle\">{4}</text>",
                       px(x_unit(t)), px(kTimelineTop), px(axis_y), px(axis_y + 16), escape(x_unit.tick_text(t)));
  for (std::size_t t = 0; t < tracks; ++t) {
    const double top = kTimelineTop + kTrackPitch * static_cast<double>(t);
    svg += fmt::format("<text class=\"label\" x=\"{}\" y=\"{}\" text-anchor=\"end\"><title>{}</title>{}</text>",
                       px(label_width - 8), px(top + kBandHeight - 1), escape(labels[t]), escape(shortened(labels[t], label_chars)));
    svg += fmt::format("<rect class=\"idle\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"><title>{}</title></rect>", px(x.px_lo),
                       px(top), px(x(end_s) - x.px_lo), px(kBandHeight), escape(titles[t]));
  }
  for (const auto& r : rects) {
    const Band band = band_of(r.activity, kTimelineTop + kTrackPitch * static_cast<double>(r.track));
    svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"{}/>", px(r.x0),
                       px(band.top + band.height * (1 - r.top)), px(std::max(r.x1 - r.x0, 0.6)),
                       px(band.height * (r.top - r.bottom)), activity_colour(r.activity),
                       r.opacity < 1 ? fmt::format(" fill-opacity=\"{}\"", r.opacity) : "");
  }
  svg += fmt::format("<text class=\"axis\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">simulated time ({})</text></svg>",
                     px((x.px_lo + x.px_hi) / 2), px(height - 6), unit.name);
  std::string html = "<figure class=\"wide\"><figcaption>Utilization per worker (" + std::to_string(rects.size()) +
                     " rectangles drawn)</figcaption>" + timeline_legend() + svg;
  for (const auto& n : notes) html += "<p class=\"note\">" + escape(n) + "</p>";
  return html + "</figure>";
}

std::string topology_html(const std::vector<LinkTraffic>& links) {
  if (links.empty()) return "<p class=\"empty\">no traffic in this run: no links to draw</p>";
  const auto regions = regions_of(links);
  const std::size_t n = regions.size();
  // Two regions side by side; more on a circle from the top, clockwise.
  const double start = n == 2 ? std::numbers::pi : -std::numbers::pi / 2;
  auto angle = [&](std::size_t i) { return start + 2 * std::numbers::pi * static_cast<double>(i) / static_cast<double>(n); };
  const double height = n <= 2 ? kTopoHeightSmall : kTopoHeight;
  const Point centre{kTopoWidth / 2, height / 2};
  std::vector<Point> at;
  for (std::size_t i = 0; i < n; ++i)
    at.push_back(n == 1 ? centre : Point{centre.x + kTopoRadius * std::cos(angle(i)), centre.y + kTopoRadius * std::sin(angle(i))});
  auto index = [&](const std::string& r) { return static_cast<std::size_t>(std::find(regions.begin(), regions.end(), r) - regions.begin()); };
  auto carries = [&](const std::string& src, const std::string& dst) {
    return std::any_of(links.begin(), links.end(), [&](const LinkTraffic& l) { return l.src_region == src && l.dst_region == dst; });
  };
  double max_bytes = 0;
  std::vector<std::size_t> edges;  // inter-region links, by bytes descending (stable)
  for (std::size_t i = 0; i < links.size(); ++i)
    if (links[i].src_region != links[i].dst_region) edges.push_back(i), max_bytes = std::max(max_bytes, links[i].bytes);
  std::stable_sort(edges.begin(), edges.end(), [&](std::size_t a, std::size_t b) { return links[a].bytes > links[b].bytes; });
  std::string svg = fmt::format("<svg viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"topology with traffic\">", kTopoWidth, height);
  std::string labels;
  for (std::size_t rank = 0; rank < edges.size(); ++rank) {  // largest first, so thin arrows stay on top
    const auto& l = links[edges[rank]];
    const double width = kMinStroke + (kMaxStroke - kMinStroke) * (max_bytes > 0 ? l.bytes / max_bytes : 0);
    const std::size_t i = index(l.src_region), j = index(l.dst_region);
    const Point normal = bow_normal(at[i], at[j], centre, i < j, i > j && carries(l.dst_region, l.src_region));
    svg += edge_svg(l, at[i], at[j], normal, width, rank < kMaxEdgeLabels ? &labels : nullptr);
  }
  svg += labels;
  for (std::size_t i = 0; i < n; ++i) {
    const LinkTraffic* inside = nullptr;
    for (const auto& l : links)
      if (l.src_region == regions[i] && l.dst_region == regions[i]) inside = &l;
    svg += node_svg(regions[i], at[i], n == 1 ? std::numbers::pi / 2 : angle(i), inside);
  }
  svg += "</svg>";
  std::string html = "<figure class=\"wide\"><figcaption>Topology with traffic (arrows: bytes sent from one region to another, "
                     "width by bytes, labelled with GB and egress dollars; grey dashed: free)</figcaption>" + svg;
  if (edges.size() > kMaxEdgeLabels)
    html += fmt::format("<p class=\"note\">Labels on the {} largest of {} region pairs; hover an arrow for the others.</p>",
                        kMaxEdgeLabels, edges.size());
  return html + "</figure>";
}

}  // namespace geotrain::analysis::report
