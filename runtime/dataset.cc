// Dataset readers and sharding.
#include "runtime/dataset.h"

#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <numeric>

namespace geotrain::runtime {
namespace {

constexpr std::uint32_t kIdxImagesMagic = 2051;
constexpr std::uint32_t kIdxLabelsMagic = 2049;
constexpr float kPixelMax = 255.0f;

// Reads a whole file, gunzipping when it is gzip (zlib reads plain files too).
std::vector<unsigned char> read_maybe_gz(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw DataError("cannot open " + path);
  std::vector<unsigned char> out;
  unsigned char buf[1 << 16];
  for (int n; (n = gzread(f, buf, sizeof buf)) > 0;) out.insert(out.end(), buf, buf + n);
  gzclose(f);
  return out;
}

std::uint32_t be32(const std::vector<unsigned char>& b, std::size_t at) {
  return (std::uint32_t{b[at]} << 24) | (std::uint32_t{b[at + 1]} << 16) | (std::uint32_t{b[at + 2]} << 8) |
         std::uint32_t{b[at + 3]};
}

std::string find_idx(const std::string& dir, const std::string& stem) {
  for (const char* ext : {".gz", ""}) {
    const auto p = std::filesystem::path(dir) / (stem + ext);
    if (std::filesystem::exists(p)) return p.string();
  }
  throw DataError("Fashion-MNIST file " + stem + "[.gz] not found in " + dir +
                  " (install the Debian package dataset-fashion-mnist: apt-get install dataset-fashion-mnist)");
}

void read_split(Dataset& d, const std::string& dir, const std::string& prefix, std::size_t limit) {
  const auto images_path = find_idx(dir, prefix + "-images-idx3-ubyte");
  const auto labels_path = find_idx(dir, prefix + "-labels-idx1-ubyte");
  const auto images = read_maybe_gz(images_path);
  const auto labels = read_maybe_gz(labels_path);
  if (images.size() < 16 || be32(images, 0) != kIdxImagesMagic) throw DataError(images_path + " is not an IDX image file");
  if (labels.size() < 8 || be32(labels, 0) != kIdxLabelsMagic) throw DataError(labels_path + " is not an IDX label file");
  std::size_t n = be32(images, 4);
  const std::size_t pixels = std::size_t{be32(images, 8)} * be32(images, 12);
  if (be32(labels, 4) != n || images.size() < 16 + n * pixels || labels.size() < 8 + n)
    throw DataError(images_path + " and " + labels_path + " do not match or are truncated");
  if (limit > 0) n = std::min(n, limit);
  d.features = static_cast<int>(pixels);
  d.classes = 10;
  d.x.resize(n * pixels);
  for (std::size_t i = 0; i < n * pixels; ++i) d.x[i] = images[16 + i] / kPixelMax;
  d.labels.resize(n);
  for (std::size_t i = 0; i < n; ++i) d.labels[i] = labels[8 + i];
}

}  // namespace

TrainTest load_fashion_mnist(const std::string& dir, std::size_t train_limit, std::size_t test_limit) {
  TrainTest t;
  read_split(t.train, dir, "train", train_limit);
  read_split(t.test, dir, "t10k", test_limit);
  return t;
}

SyntheticLinear make_synthetic_linear(int features, std::size_t train, std::size_t test, double noise,
                                      std::uint64_t seed) {
  SyntheticLinear s;
  Rng rng = Rng::substream(seed, "synthetic_linear");
  s.weights.resize(features);
  for (auto& w : s.weights) w = static_cast<float>(rng.normal());
  s.bias = static_cast<float>(rng.normal());
  auto fill = [&](Dataset& d, std::size_t n) {
    d.features = features;
    d.classes = 0;
    d.x.resize(n * features);
    d.y.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      double y = s.bias;
      for (int f = 0; f < features; ++f) {
        const float v = static_cast<float>(rng.normal());
        d.x[i * features + f] = v;
        y += static_cast<double>(v) * s.weights[f];
      }
      d.y[i] = static_cast<float>(y + noise * rng.normal());
    }
  };
  fill(s.data.train, train);
  fill(s.data.test, test);
  return s;
}

std::vector<std::vector<std::uint32_t>> make_shards(const Dataset& data, int workers, Partition partition,
                                                    Rng& rng) {
  std::vector<std::uint32_t> idx(data.size());
  std::iota(idx.begin(), idx.end(), 0u);
  for (std::size_t i = idx.size(); i > 1; --i) std::swap(idx[i - 1], idx[rng.below(i)]);  // Fisher-Yates
  if (partition == Partition::label_skew && data.classes > 0)
    std::stable_sort(idx.begin(), idx.end(),
                     [&](std::uint32_t a, std::uint32_t b) { return data.labels[a] < data.labels[b]; });
  if (partition == Partition::label_skew && data.classes == 0)  // regression: by target value
    std::stable_sort(idx.begin(), idx.end(), [&](std::uint32_t a, std::uint32_t b) { return data.y[a] < data.y[b]; });
  std::vector<std::vector<std::uint32_t>> shards(workers);
  const std::size_t n = idx.size();
  for (int w = 0; w < workers; ++w) {
    const std::size_t begin = n * w / workers, end = n * (w + 1) / workers;
    shards[w].assign(idx.begin() + static_cast<std::ptrdiff_t>(begin), idx.begin() + static_cast<std::ptrdiff_t>(end));
  }
  return shards;
}

}  // namespace geotrain::runtime
