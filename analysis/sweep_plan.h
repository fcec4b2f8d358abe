// A sweep plan: a sweep file ({"base": scenario, "grid": {pointer: [values]}} or {"list": [...]};
// a value may be labelled: {"label": "H=100", "value": 100}) expanded into points, each a scenario
// document with stable id. Plans only; running is cli/.
#pragma once
#include <cstddef>
#include <iterator>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace geotrain::analysis {

struct SweepPlan;
struct SweepPoint {
  std::size_t index = 0;
  std::string id;                  // "p0003-1a2b3c4d": index, then a hash of the axes
  nlohmann::ordered_json axes;     // {"/pointer": value, ...} in axis order
  nlohmann::json scenario;         // the base scenario with the axes applied
  // {"/pointer": "label"} for the axes whose value was given labelled ({"label": ..., "value": ...});
  // labels name values for people (sweep.csv, the report) and are not part of the id.
  nlohmann::ordered_json labels = nlohmann::ordered_json::object();
};

// One axis of a grid: its values (labels taken off) and their labels ("" when unlabelled).
struct GridAxis {
  std::string pointer;
  std::vector<nlohmann::ordered_json> values;
  std::vector<std::string> labels;
};

// The points of a plan, built on demand from the axes (a plan of 1,000,000 points holds only its
// axes, never 1,000,000 scenario documents).  Indexable and iterable; each access builds the point.
class SweepPoints {
 public:
  std::size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }
  // Point i: its id, axes and the base scenario with the axes applied.  REQUIRES: i < size().
  // Throws InputError naming the sweep file and the point when an axis cannot be set in the base.
  SweepPoint operator[](std::size_t i) const;
  // Sets `pointer` to `value` in the base scenario of every point, under the axes (an axis on
  // the same pointer still wins).  Returns "" on success, else why it cannot be set.
  std::string set_in_base(const std::string& pointer, const nlohmann::json& value);

  class iterator {
   public:
    using value_type = SweepPoint;
    using difference_type = std::ptrdiff_t;
    iterator(const SweepPoints* points, std::size_t i) : points_(points), i_(i) {}
    SweepPoint operator*() const { return (*points_)[i_]; }
    iterator& operator++() {
      ++i_;
      return *this;
    }
    bool operator==(const iterator& o) const { return i_ == o.i_; }
    bool operator!=(const iterator& o) const { return i_ != o.i_; }

   private:
    const SweepPoints* points_;
    std::size_t i_;
  };
  iterator begin() const { return {this, 0}; }
  iterator end() const { return {this, count_}; }

 private:
  friend SweepPlan parse_sweep(const nlohmann::ordered_json& doc, const std::string& file);
  std::string file_;
  nlohmann::json base_;
  std::vector<GridAxis> grid_;                                         // (a grid)
  nlohmann::ordered_json list_;                                        // the points' axes (a list)
  std::size_t count_ = 0;
};

struct SweepPlan {
  std::string file;                // the sweep file
  std::string name;                // "name" of the sweep file, else its file name without extension
  std::string base_file;           // where the base scenario came from: relative paths inside it
                                   // (topology) start at this file's folder
  std::vector<std::string> axis_pointers;  // every axis, in order (sweep.csv columns)
  SweepPoints points;
  // "replicas": draws of the fault process per point with faults (geotrain run --replicas);
  // sweep.csv then holds each figure's mean over the draws, with intervals.
  long replicas = 1;
};

// The most draws a sweep file may ask per point (as geotrain run --replicas).
inline constexpr long kMaxSweepReplicas = 100000;

// The most points one sweep file may expand to (a guard against a mistyped grid).
inline constexpr std::size_t kMaxSweepPoints = 1000000;

// Loads a sweep file; its points are built on demand (SweepPoints).  A relative "base" path starts
// at the sweep file's folder.  Throws InputError naming the sweep file, the JSON path and what is
// allowed (the first point is built here, so a pointer the base cannot take fails at load).  The
// scenarios are not validated here (that needs sim/; cli/sweep.cc does it before running anything).
SweepPlan load_sweep(const std::string& file);
SweepPlan parse_sweep(const nlohmann::ordered_json& doc, const std::string& file);

// "p" + the index zero-padded to max(4, digits of count-1) + "-" + 8 hex digits of the hash of
// the axes (keys sorted, so the order of the axes does not matter).
std::string point_id(std::size_t index, std::size_t count, const nlohmann::ordered_json& axes);

// Sets `doc`[pointer] = value.  Missing object members are created (an axis may set an optional
// key); an array index must exist.  Returns "" on success, else why the pointer cannot be set.
std::string set_pointer(nlohmann::json& doc, const std::string& pointer, const nlohmann::json& value);

// The axes of a point as sweep.csv and the report show them: a labelled value as its label.
nlohmann::ordered_json shown_axes(const SweepPoint& p);

// "/strategy/allreduce=ring, /seed=3": the axes of a point, for messages.
std::string axes_text(const nlohmann::ordered_json& axes);

// A hash of everything a point's results depend on that the sweep can see: the scenario document
// and, when its "topology" or "calibration" is a file path, that file's text (resolved against
// base_file), with the instance catalog a topology file names.
std::string scenario_hash(const nlohmann::json& scenario, const std::string& base_file);

}  // namespace geotrain::analysis
