// Training data in memory: Fashion-MNIST from its IDX files (Debian package
// dataset-fashion-mnist), a synthetic linear-regression task with a known optimum, and the
// split of a training set into per-worker shards (IID or label-skewed).
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/rng.h"

namespace geotrain::runtime {

// A dataset that cannot be read; what() says which file and which package provides it.
class DataError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Dataset {
  int features = 0;                   // values per sample
  int classes = 0;                    // > 0: classification with labels; 0: regression on y
  std::vector<float> x;               // (N, features)
  std::vector<std::int32_t> labels;   // (N) classification
  std::vector<float> y;               // (N) regression targets
  std::size_t size() const { return features > 0 ? x.size() / features : 0; }
};

struct TrainTest {
  Dataset train, test;
};

// Default install folder of Debian's dataset-fashion-mnist.
inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

// Reads train-/t10k- images and labels (gzip or plain IDX) from `dir`; pixels scaled to [0, 1].
// Keeps the first train_limit / test_limit samples (0: all).  Throws DataError.
TrainTest load_fashion_mnist(const std::string& dir, std::size_t train_limit = 0, std::size_t test_limit = 0);

// y = x . w* + b* + noise * N(0,1), x ~ N(0,1): the optimum of the squared loss is (w*, b*)
// when noise = 0.
struct SyntheticLinear {
  TrainTest data;
  std::vector<float> weights;  // w* (features)
  float bias = 0;              // b*
};
SyntheticLinear make_synthetic_linear(int features, std::size_t train, std::size_t test, double noise,
                                      std::uint64_t seed);

enum class Partition { iid, label_skew };

// Splits the indices of `data` into `workers` disjoint shards of near-equal size.  iid: a
// seeded shuffle; label_skew: sorted by label (shuffled within a label), so each worker sees
// only a few classes (regression: sorted by target value, so each worker sees one range of
// targets; with noise its shard has a least-squares optimum of its own).
std::vector<std::vector<std::uint32_t>> make_shards(const Dataset& data, int workers, Partition partition,
                                                    Rng& rng);

}  // namespace geotrain::runtime
