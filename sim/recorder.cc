// Recorder: spans, collective statistics, timeline rows, and their CSV / trace renderings.
#include "sim/recorder.h"

#include <algorithm>
#include <cmath>
#include <ostream>
#include <sstream>

#include <fmt/format.h>

#include "common/csv.h"
#include "kernels/check.h"

namespace geotrain::sim {

namespace {
std::size_t& records_in_memory() {
  static std::size_t bytes = kDefaultRecordsInMemoryBytes;
  return bytes;
}
}  // namespace

void set_records_in_memory_bytes(std::size_t bytes) { records_in_memory() = bytes; }
std::size_t records_in_memory_bytes() { return records_in_memory(); }

void Recorder::add_span(Span span) {
  const std::vector<int> rank = {span.rank};
  add_span_for(rank, std::move(span));
}

void Recorder::add_span_for(const std::vector<int>& ranks, Span span) {
  const double d = span.end_s - span.start_s;
  std::vector<double>* per_rank = span.category == "compute" ? &compute_s_
                                  : span.category == "communication" ? &comm_s_ : nullptr;  // "overlapped" is hidden
  if (per_rank) {
    for (const int r : ranks) (*per_rank)[r] += d;
  }
  if (per_rank == &compute_s_) {
    double& by_name = compute_by_name_[span.name];
    for (std::size_t i = 0; i < ranks.size(); ++i) by_name += d;  // one addition per rank, as add_span
  }
  if (detail_ == TraceDetail::none) return;
  const auto dropped = [this](int r) { return in_layers_[r] > 0 && detail_ != TraceDetail::layers; };
  if (std::all_of(ranks.begin(), ranks.end(), dropped)) return;  // per-layer detail, not kept
  const std::uint32_t category = text_id(std::move(span.category)), name = text_id(std::move(span.name));
  AggregateRow* row = nullptr;
  for (const int r : ranks) {
    if (dropped(r)) continue;
    if (aggregated_spans_ == 0 || span.end_s != aggregate_instant_s_) {  // kept, or a new instant
      keep_ids(r, category, name, span.start_s, span.end_s);
      continue;
    }
    // Within an aggregated instant keep_ids would find each rank's aggregate by hashing; the
    // same ones come back call after call, so a row of pointers remembers them.
    const auto index = static_cast<std::int64_t>(span.start_s / interval_s_);
    if (!row) row = &aggregate_row(category, name);
    AggregateRow::Slot& slot = row->by_rank[static_cast<std::size_t>(r)];
    if (!slot.aggregate || slot.index != index || slot.generation != aggregate_generation_)
      slot = {index, aggregate_generation_, &aggregate({r, category, name, index})};
    ++aggregated_spans_;
    merge(*slot.aggregate, {span.start_s, span.end_s, span.end_s - span.start_s, 1});
  }
}

Recorder::AggregateRow& Recorder::aggregate_row(std::uint32_t category, std::uint32_t name) {
  for (auto& row : aggregate_rows_)
    if (row.category == category && row.name == name) return row;
  return aggregate_rows_.emplace_back(AggregateRow{category, name, std::vector<AggregateRow::Slot>(compute_s_.size())});
}

void Recorder::add_step_span(Span span) {
  if (detail_ == TraceDetail::steps) keep(std::move(span));
}

void Recorder::add_step_span_for(const std::vector<int>& ranks, Span span) {
  if (detail_ != TraceDetail::steps) return;
  const std::uint32_t category = text_id(std::move(span.category)), name = text_id(std::move(span.name));
  for (const int r : ranks) keep_ids(r, category, name, span.start_s, span.end_s);
}

void Recorder::merge(Aggregate& into, const Aggregate& a) {
  if (into.count == 0) {
    into = a;
    return;
  }
  into.start_s = std::min(into.start_s, a.start_s);
  into.end_s = std::max(into.end_s, a.end_s);
  into.busy_s += a.busy_s;
  into.count += a.count;
}

std::size_t Recorder::AggregateHash::operator()(const AggregateKey& k) const {
  std::uint64_t h = static_cast<std::uint64_t>(std::get<3>(k));
  for (const std::uint64_t part : {static_cast<std::uint64_t>(std::get<0>(k)), std::uint64_t{std::get<1>(k)},
                                   std::uint64_t{std::get<2>(k)}})
    h = (h ^ part) * 0x100000001b3ULL + (h >> 29);  // FNV-style mixing
  return static_cast<std::size_t>(h);
}

std::uint32_t Recorder::text_id(std::string&& text) {
  const auto [it, added] = text_ids_.try_emplace(std::move(text), static_cast<std::uint32_t>(texts_.size()));
  if (added) texts_.push_back(it->first);
  return it->second;
}

void Recorder::keep(Span span) {
  keep_ids(span.rank, text_id(std::move(span.category)), text_id(std::move(span.name)), span.start_s, span.end_s);
}

// What is kept does not depend on the order of the spans of one instant (those that end at one
// time, recorded as the clock reaches it): the instant that reaches the cap is kept whole, and
// the aggregates widen only between instants, from what the earlier instants brought.  So a
// run that records an instant's spans in another order (identical workers recorded together:
// run.cc) writes the same trace.json.
void Recorder::keep_ids(int rank, std::uint32_t category, std::uint32_t name, double start_s, double end_s) {
  if (aggregated_spans_ == 0 && (spans_.size() < max_spans_ || end_s == spans_.back().end_s)) {
    spans_.push_back({rank, category, name, start_s, end_s});
    return;
  }
  if (aggregated_spans_ == 0 || end_s != aggregate_instant_s_) {
    const double before_s = interval_s_;
    widen(aggregates_, interval_s_, max_aggregates(), aggregates_past_first_);
    if (interval_s_ != before_s) ++aggregate_generation_;  // rebuilt: remembered pointers are stale
    aggregate_instant_s_ = end_s;
  }
  // The first interval: a sixteenth of the time up to the first aggregated instant (a
  // microsecond at least).
  if (interval_s_ == 0) interval_s_ = std::max(1e-6, end_s / 16);
  ++aggregated_spans_;
  const auto index = static_cast<std::int64_t>(start_s / interval_s_);
  merge(aggregate({rank, category, name, index}), {start_s, end_s, end_s - start_s, 1});
}

Recorder::Aggregate& Recorder::aggregate(const AggregateKey& key) {
  const auto [it, added] = aggregates_.try_emplace(key);
  if (added && std::get<3>(key) != 0) ++aggregates_past_first_;
  return it->second;
}

void Recorder::widen(Aggregates& aggregates, double& interval_s, std::size_t most, std::size_t& past_first) {
  // One aggregate per rank, category and name is the floor: with more of those than `most`
  // (over 50,000 workers at the default cap) a doubling merges nothing more, so it stops there.
  while (aggregates.size() > most && past_first > 0) {  // twice the interval: index i of the old is i / 2 of the new
    interval_s *= 2;
    Aggregates wider;
    past_first = 0;
    for (const auto& [key, a] : aggregates) {
      const auto [rank, c, n, i] = key;
      const auto [it, added] = wider.try_emplace({rank, c, n, i / 2});
      if (added && i / 2 != 0) ++past_first;
      merge(it->second, a);
    }
    aggregates = std::move(wider);
  }
}

std::vector<std::string> trace_detail_names() { return {"none", "steps", "layers"}; }


void Recorder::add_collective(const CollectiveKey& key, double duration_s, int times) {
  auto& [count, total] = collectives_[key];
  for (int i = 0; i < times; ++i) {  // one addition per collective: the same bits as `times` calls
    ++count;
    total += duration_s;
  }
}

bool Recorder::end_step(double samples, double loss, double now_s, int workers, bool force_row) {
  ++worker_steps_;
  samples_ += samples;
  if (samples > 0) {  // steps that trained on no data (e.g. PALSGD's pulls) report no loss
    loss_sum_ += loss;
    ++losses_;
  }
  row_end_s_ = std::max(row_end_s_, now_s);
  if (!force_row && ++since_row_ < workers) return false;
  since_row_ = 0;
  TimelineRow row;
  row.step = static_cast<int>(rows_.size());
  row.time_s = row_end_s_;
  row_end_s_ = 0;
  row.samples = samples_;
  row.train_loss = losses_ > 0 ? loss_sum_ / losses_ : 0.0;
  row.trained = losses_ > 0;
  loss_sum_ = 0;
  losses_ = 0;
  rows_.push_back(row);
  return true;
}

std::string Recorder::timeline_csv(bool real_losses) const {
  std::ostringstream out;
  write_timeline_csv(out, real_losses);
  return out.str();
}

void Recorder::write_timeline_csv(std::ostream& stream, bool real_losses) const {
  constexpr int kDigits = 9;  // significant digits of times, dollars and losses
  constexpr std::size_t kRowsPerWrite = 4096;
  csv::Writer out({"step", "time_s", "samples", "compute_usd", "egress_usd", "total_usd", "wan_bytes", "train_loss",
                   "test_loss", "test_accuracy", "alive_workers", "useful_samples"});
  std::size_t rows = 0;
  rows_.for_each([&](const TimelineRow& r) {
    out.integer(r.step).significant(r.time_s, kDigits).count(r.samples);
    out.significant(r.compute_usd, kDigits).significant(r.egress_usd, kDigits).significant(r.compute_usd + r.egress_usd, kDigits);
    out.integer(r.wan_bytes);
    out.significant(real_losses && r.trained ? std::optional(r.train_loss) : std::nullopt, kDigits);
    if (r.evaluated) out.significant(r.test_loss, kDigits).significant(r.test_accuracy, kDigits);
    else out.empty().empty();
    out.integer(r.alive_workers).count(r.useful_samples).end_row();
    if (++rows % kRowsPerWrite == 0) stream << out.take();
  });
  stream << out.take();
}

void Recorder::add_wan_in_flight(int src_region, int dst_region, std::int64_t delta_B, double now_s) {
  std::int64_t& now_B = wan_in_flight_B_[{src_region, dst_region}];
  now_B += delta_B;
  GEOTRAIN_CHECK(now_B >= 0, "WAN bytes in flight went below 0");
  if (detail_ == TraceDetail::none) return;  // counted (the check above) but not traced
  wan_changes_.push_back({now_s, src_region, dst_region, delta_B});
}

void Recorder::add_stream_window(double start_s, double end_s,
                                 const std::vector<std::pair<std::pair<int, int>, std::int64_t>>& bytes) {
  GEOTRAIN_CHECK(start_s <= end_s, "a WAN window from its start to its end");
  if (detail_ == TraceDetail::none) return;
  const auto bytes_of = [&bytes](const std::pair<int, int>& pair) -> std::int64_t {
    for (const auto& [p, b] : bytes)
      if (p == pair) return b;
    return 0;
  };
  // The open windows' ends first, in pair order (a window ending now and the pair's next one
  // starting now: one change), then the new windows' starts: the order of separate changes.
  std::vector<std::pair<int, int>> joined;
  for (const auto& [pair, open] : stream_windows_) {
    const auto [open_end_s, open_B] = open;
    GEOTRAIN_CHECK(open_end_s <= start_s, "a stream's windows one after another");
    const std::int64_t next_B = bytes_of(pair);
    if (open_end_s == start_s && next_B > 0) {
      wan_changes_.push_back({start_s, pair.first, pair.second, next_B - open_B});
      joined.push_back(pair);
    } else {
      wan_changes_.push_back({open_end_s, pair.first, pair.second, -open_B});
    }
  }
  stream_windows_.clear();
  for (const auto& [pair, b] : bytes) {
    GEOTRAIN_CHECK(b >= 0, "a WAN window of bytes >= 0");
    if (b == 0) continue;
    if (std::find(joined.begin(), joined.end(), pair) == joined.end()) wan_changes_.push_back({start_s, pair.first, pair.second, b});
    stream_windows_[pair] = {end_s, b};
  }
}

void Recorder::close_stream_windows() {
  for (const auto& [pair, open] : stream_windows_) wan_changes_.push_back({open.first, pair.first, pair.second, -open.second});
  stream_windows_.clear();
}

void Recorder::close_wan_in_flight(double end_s) {
  for (const auto& [pair, bytes] : wan_in_flight_B_)
    if (bytes > 0) add_wan_in_flight(pair.first, pair.second, -bytes, end_s);
}

void Recorder::for_each_wan_sample(const std::function<void(const WanInFlightSample&)>& visit) const {
  std::map<std::pair<int, int>, std::int64_t> now_B;
  // The samples of the instant being read, in the order of each pair's first change at it, and
  // where each pair's is; visited once the time moves on.
  std::vector<WanInFlightSample> instant;
  std::map<std::pair<int, int>, std::size_t> in_instant;
  const auto flush = [&] {
    for (const auto& sample : instant) visit(sample);
    instant.clear();
    in_instant.clear();
  };
  wan_changes_.for_each([&](const WanInFlightSample& c) {
    if (!instant.empty() && instant.front().time_s != c.time_s) flush();
    const std::pair<int, int> pair{c.src_region, c.dst_region};
    const std::int64_t bytes = now_B[pair] += c.bytes;
    GEOTRAIN_CHECK(bytes >= 0, "WAN bytes in flight went below 0");
    const auto [it, added] = in_instant.try_emplace(pair, instant.size());
    if (added) instant.push_back({c.time_s, c.src_region, c.dst_region, bytes});
    else instant[it->second].bytes = bytes;  // one sample per time: the value after all changes
  });
  flush();
}

CounterSamples thin_counters(const std::vector<WanInFlightSample>& samples, std::size_t most) {
  return thin_counters([&samples](const auto& visit) { for (const auto& s : samples) visit(s); }, most);
}

CounterSamples thin_counters(const SampleReplay& replay, std::size_t most) {
  std::size_t count = 0;
  double first_s = 0, last_s = 0;
  std::map<std::pair<int, int>, std::size_t> pairs;  // each pair's index below, in pair order
  replay([&](const WanInFlightSample& s) {
    if (count++ == 0) first_s = s.time_s;
    last_s = s.time_s;
    pairs.try_emplace({s.src_region, s.dst_region}, 0);
  });
  const auto all = [&] {
    CounterSamples out;
    out.samples.reserve(count);
    replay([&](const WanInFlightSample& s) { out.samples.push_back(s); });
    out.before = count;
    return out;
  };
  if (count <= most || count == 0) return all();
  const std::size_t per_pair = most / pairs.size();
  const std::size_t bins = per_pair > 2 ? per_pair - 1 : 1;  // and each pair's last sample
  const double interval_s = (last_s - first_s) / static_cast<double>(bins);
  if (interval_s <= 0) return all();
  const auto bin_of = [&](double t) {
    return std::min(bins - 1, static_cast<std::size_t>((t - first_s) / interval_s));
  };
  // Each pair's step function holds a sample's bytes from its time to the pair's next sample.
  struct Track {
    std::pair<int, int> pair;
    WanInFlightSample last;  // the pair's latest sample so far
    std::size_t bin = 0;
    double bin_start_s = 0, weighted = 0;  // byte-seconds in the bin so far
    std::vector<WanInFlightSample> out;
  };
  std::vector<Track> tracks;
  tracks.reserve(pairs.size());
  for (auto& [pair, index] : pairs) {
    index = tracks.size();
    tracks.push_back({pair, {}, 0, 0, 0, {}});
  }
  const auto close_bin = [](Track& t, double end_s) {
    if (end_s > t.bin_start_s)
      t.out.push_back({t.bin_start_s, t.pair.first, t.pair.second, std::llround(t.weighted / (end_s - t.bin_start_s))});
    t.weighted = 0;
  };
  std::vector<bool> started(tracks.size(), false);
  replay([&](const WanInFlightSample& s) {
    const std::size_t i = pairs.at({s.src_region, s.dst_region});
    Track& track = tracks[i];
    if (!started[i]) {
      started[i] = true;
      track.bin = bin_of(s.time_s);
      track.bin_start_s = s.time_s;
      track.last = s;
      return;
    }
    double t = track.last.time_s;
    const double until_s = s.time_s;
    while (bin_of(until_s) > track.bin) {  // the value runs past this bin's end
      const double bin_end_s = first_s + static_cast<double>(track.bin + 1) * interval_s;
      track.weighted += static_cast<double>(track.last.bytes) * (bin_end_s - t);
      close_bin(track, bin_end_s);
      t = track.bin_start_s = bin_end_s;
      ++track.bin;
    }
    track.weighted += static_cast<double>(track.last.bytes) * (until_s - t);
    track.last = s;
  });
  CounterSamples out{{}, interval_s, count};
  for (Track& track : tracks) {
    close_bin(track, track.last.time_s);
    track.out.push_back(track.last);  // where the counter ends (0 once the run closed it)
    out.samples.insert(out.samples.end(), track.out.begin(), track.out.end());
    track.out = {};
  }
  std::stable_sort(out.samples.begin(), out.samples.end(),
                   [](const WanInFlightSample& a, const WanInFlightSample& b) { return a.time_s < b.time_s; });
  return out;
}

std::string Recorder::trace_json(const std::vector<TraceNode>& nodes, const std::vector<std::string>& region_names) const {
  std::ostringstream out;
  write_trace_json(out, nodes, region_names);
  return out.str();
}

void Recorder::write_trace_json(std::ostream& out, const std::vector<TraceNode>& nodes,
                                const std::vector<std::string>& region_names) const {
  // Written an event at a time (the document as one json value took ~1 kB per event: 600 MB for a
  // trace at the span cap); a compact dump of an array is its elements' dumps joined by commas.
  out << R"({"displayTimeUnit":"ms","traceEvents":[)";
  bool first = true;
  const auto add = [&](const nlohmann::ordered_json& event) {
    if (!first) out << ',';
    first = false;
    out << event.dump();
  };
  for (std::size_t r = 0; r < region_names.size(); ++r) {
    add({{"name", "process_name"}, {"ph", "M"}, {"pid", r}, {"args", {{"name", region_names[r]}}}});
    add({{"name", "process_sort_index"}, {"ph", "M"}, {"pid", r}, {"args", {{"sort_index", r}}}});
  }
  for (std::size_t i = 0; i < nodes.size(); ++i)
    add({{"name", "thread_name"}, {"ph", "M"}, {"pid", nodes[i].region}, {"tid", i}, {"args", {{"name", nodes[i].name}}}});
  constexpr double kMicrosecondsPerSecond = 1e6;
  // In time order, then by node: the same document whatever order an instant's spans came in.
  std::vector<const KeptSpan*> kept;
  kept.reserve(spans_.size());
  for (const auto& s : spans_) kept.push_back(&s);
  const auto span_order = [this](const KeptSpan* s) {
    return std::tie(s->start_s, s->rank, s->end_s, texts_[s->category], texts_[s->name]);
  };
  std::sort(kept.begin(), kept.end(), [&](const KeptSpan* x, const KeptSpan* y) { return span_order(x) < span_order(y); });
  for (const KeptSpan* kept_span : kept) {
    const KeptSpan& s = *kept_span;
    add({{"name", texts_[s.name]},
         {"cat", texts_[s.category]},
         {"ph", "X"},
         {"pid", nodes.at(static_cast<std::size_t>(s.rank)).region},
         {"tid", s.rank},
         {"ts", s.start_s * kMicrosecondsPerSecond},
         {"dur", (s.end_s - s.start_s) * kMicrosecondsPerSecond}});
  }
  // The last instant's aggregates may not have been widened yet (keep_ids widens between instants).
  Aggregates widened;
  double interval_s = interval_s_;
  const Aggregates* shown = &aggregates_;
  if (aggregates_.size() > max_aggregates()) {
    widened = aggregates_;
    std::size_t past_first = aggregates_past_first_;
    widen(widened, interval_s, max_aggregates(), past_first);
    shown = &widened;
  }
  // By worker, category and name (as texts), then interval.
  std::vector<std::pair<const AggregateKey*, const Aggregate*>> aggregates;
  for (const auto& [key, a] : *shown) aggregates.emplace_back(&key, &a);
  const auto texts_of = [this](const AggregateKey& k) {
    return std::tie(std::get<0>(k), texts_[std::get<1>(k)], texts_[std::get<2>(k)], std::get<3>(k));
  };
  std::sort(aggregates.begin(), aggregates.end(),
            [&](const auto& x, const auto& y) { return texts_of(*x.first) < texts_of(*y.first); });
  for (const auto& [key, aggregate] : aggregates) {
    const auto& [rank, category, name, index] = *key;
    const Aggregate& a = *aggregate;
    add({{"name", fmt::format("{} x{}", texts_[name], a.count)},
         {"cat", texts_[category]},
         {"ph", "X"},
         {"pid", nodes.at(static_cast<std::size_t>(rank)).region},
         {"tid", rank},
         {"ts", a.start_s * kMicrosecondsPerSecond},
         {"dur", (a.end_s - a.start_s) * kMicrosecondsPerSecond},
         {"args", {{"spans", a.count}, {"busy_s", a.busy_s}}}});
  }
  const CounterSamples counters =
      thin_counters([this](const auto& visit) { for_each_wan_sample(visit); }, max_spans_);
  for (const auto& w : counters.samples)
    add({{"name", "WAN in flight to " + region_names.at(static_cast<std::size_t>(w.dst_region)) + " (bytes)"},
         {"cat", "wan"},
         {"ph", "C"},
         {"pid", w.src_region},
         {"ts", w.time_s * kMicrosecondsPerSecond},
         {"args", {{"bytes", w.bytes}}}});
  out << ']';
  nlohmann::ordered_json other = nlohmann::ordered_json::object();  // the trace says what it left out
  if (aggregated_spans_ > 0)
    other = {{"spans_kept", spans_.size()},
             {"spans_aggregated", aggregated_spans_},
             {"aggregates", shown->size()},
             {"aggregate_interval_s", interval_s},
             {"note", fmt::format("after the first {} spans (output.trace_max_spans), each span joins the aggregate of "
                                  "its worker, category and name over {} s of simulated time: one span named "
                                  "'<name> xN', args: spans, busy_s",
                                  spans_.size(), interval_s)}};
  if (counters.interval_s > 0) {
    other["counter_samples"] = counters.before;
    other["counter_samples_kept"] = counters.samples.size();
    other["counter_interval_s"] = counters.interval_s;
    other["counter_note"] = fmt::format(
        "the WAN counters had {} samples, more than output.trace_max_spans: each pair's counter shows the bytes in "
        "flight averaged over intervals of {} s of simulated time, one sample per interval, and its last sample",
        counters.before, counters.interval_s);
  }
  if (!other.empty()) out << R"(,"otherData":)" << other.dump();
  out << "}\n";
}

double busbw_factor(const std::string& op, int ranks) {
  if (ranks <= 1) return 0;
  const double m = ranks;
  if (op == "allreduce") return 2 * (m - 1) / m;
  if (op == "allgather" || op == "reduce_scatter") return (m - 1) / m;
  return 1;  // broadcast, reduce
}

}  // namespace geotrain::sim
