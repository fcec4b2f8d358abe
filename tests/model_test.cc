// The runtime's models, data and trainers: Mlp sizes and gradients (finite differences), training
// to a known answer, synthetic and Fashion-MNIST datasets, sharding, real and phantom trainers.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/optim.h"
#include "runtime/dataset.h"
#include "runtime/model.h"
#include "runtime/optimizer.h"
#include "runtime/rng.h"
#include "runtime/trainer.h"

namespace geotrain::runtime {
namespace {

std::vector<float> normal_values(Rng& rng, std::size_t n, double scale = 1.0) {
  std::vector<float> v(n);
  for (auto& x : v) x = static_cast<float>(scale * rng.normal());
  return v;
}

// A classification dataset of n samples with Gaussian features and uniform random labels.
Dataset random_classification(int features, int classes, std::size_t n, std::uint64_t seed) {
  Rng rng(seed);
  Dataset d;
  d.features = features;
  d.classes = classes;
  d.x = normal_values(rng, n * features);
  d.labels.resize(n);
  for (auto& l : d.labels) l = static_cast<std::int32_t>(rng.below(classes));
  return d;
}

// ---------------------------------------------------------------------------------------------
// Mlp

TEST(Model, ParameterCountAndFlopsOfTheFashionMnistMlp) {
  const Mlp mlp({.inputs = 784, .hidden = {100}, .outputs = 10});
  EXPECT_EQ(mlp.parameter_count(), 784u * 100 + 100 + 100 * 10 + 10);
  EXPECT_EQ(mlp.parameter_count(), 79510u);
  // The formula of model.h, by hand:
  //   layer 1 (784->100): forward 2*in*out, weight gradient 2*in*out, no input gradient,
  //                       bias + bias gradient 2*out, activation + derivative 2*out;
  //   layer 2 (100->10):  forward, weight gradient and input gradient 3 * 2*in*out,
  //                       bias + bias gradient 2*out, no activation;
  //   loss: 5 per output.
  const double layer1 = 2.0 * 784 * 100 + 2.0 * 784 * 100 + 2 * 100 + 2 * 100;
  const double layer2 = 3 * 2.0 * 100 * 10 + 2 * 10;
  const double loss = 5 * 10;
  EXPECT_DOUBLE_EQ(mlp.flops_per_sample(), layer1 + layer2 + loss);
  EXPECT_DOUBLE_EQ(mlp.flops_per_sample(), 320070.0);
  // Softmax regression: one layer, no input gradient, no activation.
  const Mlp softmax({.inputs = 784, .hidden = {}, .outputs = 10});
  EXPECT_EQ(softmax.parameter_count(), 7850u);
  EXPECT_DOUBLE_EQ(softmax.flops_per_sample(), 4.0 * 784 * 10 + 2 * 10 + 5 * 10);
}

TEST(Model, InitIsHeUniformWithZeroBiases) {
  Mlp mlp({.inputs = 50, .hidden = {20}, .outputs = 3});
  std::vector<float> p(mlp.parameter_count(), 7.0f);
  Rng rng(3);
  mlp.init(p, rng);
  const double bound1 = std::sqrt(6.0 / 50), bound2 = std::sqrt(6.0 / 20);
  double max1 = 0, max2 = 0;
  for (std::size_t i = 0; i < 50 * 20; ++i) max1 = std::max(max1, std::fabs(double{p[i]}));
  for (std::size_t i = 0; i < 20; ++i) EXPECT_EQ(p[1000 + i], 0.0f);
  for (std::size_t i = 1020; i < 1020 + 60; ++i) max2 = std::max(max2, std::fabs(double{p[i]}));
  for (std::size_t i = 1080; i < 1083; ++i) EXPECT_EQ(p[i], 0.0f);
  EXPECT_LE(max1, bound1);
  EXPECT_GT(max1, 0.9 * bound1);  // 1000 draws reach the top 10% of the range
  EXPECT_LE(max2, bound2);
  EXPECT_GT(max2, 0.7 * bound2);
}

struct GradCase {
  const char* name;
  ModelSpec spec;
};

// loss_and_grad against central differences of the loss, one parameter at a time.  Parameters
// are fp32, so the step actually taken is measured (p+h and p-h rounded) and the difference of
// two double losses divided by it.
void check_gradient(const GradCase& c, std::uint64_t seed) {
  SCOPED_TRACE(c.name);
  constexpr int B = 4;
  constexpr float kStep = 1e-3f;
  constexpr double kAbs = 5e-4, kRel = 1e-2;
  Mlp mlp(c.spec);
  Rng rng(seed);
  auto params = normal_values(rng, mlp.parameter_count(), 0.5);
  const auto x = normal_values(rng, static_cast<std::size_t>(B) * c.spec.inputs);
  std::vector<std::int32_t> labels(B);
  for (auto& l : labels) l = static_cast<std::int32_t>(rng.below(c.spec.outputs));
  const auto targets = normal_values(rng, B);
  std::vector<float> grads(mlp.parameter_count(), 1e9f), scratch(mlp.parameter_count());
  const double loss = mlp.loss_and_grad(grads, params, x.data(), labels.data(), targets.data(), B);
  EXPECT_GT(loss, 0.01);
  double norm = 0;
  int misses = 0;
  for (std::size_t i = 0; i < params.size(); ++i) {
    const float p0 = params[i];
    params[i] = p0 + kStep;
    const float up = params[i];
    const double loss_up = mlp.loss_and_grad(scratch, params, x.data(), labels.data(), targets.data(), B);
    params[i] = p0 - kStep;
    const float down = params[i];
    const double loss_down = mlp.loss_and_grad(scratch, params, x.data(), labels.data(), targets.data(), B);
    params[i] = p0;
    const double fd = (loss_up - loss_down) / (static_cast<double>(up) - down);
    norm += fd * fd;
    if (!(std::fabs(grads[i] - fd) <= kAbs + kRel * std::fabs(fd)) && ++misses <= 5)
      ADD_FAILURE() << "parameter " << i << ": loss_and_grad " << grads[i] << ", finite difference " << fd;
  }
  EXPECT_EQ(misses, 0);
  EXPECT_GT(std::sqrt(norm), 0.05);  // the gradient is not trivially zero
  // The loss the gradient call returned is the loss of the unperturbed parameters.
  EXPECT_DOUBLE_EQ(mlp.loss_and_grad(scratch, params, x.data(), labels.data(), targets.data(), B), loss);
}

TEST(Model, GradientMatchesFiniteDifferences) {
  const GradCase cases[] = {
      {"mlp 6-5-4-3 tanh, cross-entropy", {6, {5, 4}, 3, Activation::tanh, Loss::softmax_cross_entropy}},
      {"mlp 6-5-4-3 relu, cross-entropy", {6, {5, 4}, 3, Activation::relu, Loss::softmax_cross_entropy}},
      {"softmax regression 6-3", {6, {}, 3, Activation::relu, Loss::softmax_cross_entropy}},
      {"linear regression 6-1", {6, {}, 1, Activation::relu, Loss::half_mse}},
      {"mlp 6-5-1 tanh, squared loss", {6, {5}, 1, Activation::tanh, Loss::half_mse}},
  };
  for (const auto& c : cases) check_gradient(c, 101);
}

TEST(Model, SoftmaxRegressionLearnsASeparableProblem) {
  // Two classes split by the line x0 + 0.5 x1 = 0, with a margin of 0.2 kept empty.
  constexpr std::size_t kSamples = 200;
  constexpr int kSteps = 300;
  Dataset d;
  d.features = 2;
  d.classes = 2;
  Rng rng(31);
  while (d.labels.size() < kSamples) {
    const float x0 = static_cast<float>(2 * rng.uniform() - 1), x1 = static_cast<float>(2 * rng.uniform() - 1);
    const double side = x0 + 0.5 * x1;
    if (std::fabs(side) < 0.2) continue;
    d.x.insert(d.x.end(), {x0, x1});
    d.labels.push_back(side > 0 ? 1 : 0);
  }
  Mlp mlp({.inputs = 2, .hidden = {}, .outputs = 2});
  std::vector<float> params(mlp.parameter_count(), 0.0f), grads(params.size());
  const Evaluation before = mlp.evaluate(params, d);
  EXPECT_NEAR(before.loss, std::log(2.0), 1e-9);  // equal logits
  EXPECT_LT(before.accuracy, 0.8);               // ties go to class 0: the share of class 0
  for (int s = 0; s < kSteps; ++s) {
    mlp.loss_and_grad(grads, params, d.x.data(), d.labels.data(), nullptr, static_cast<int>(kSamples));
    kernels::sgd_step(params.data(), grads.data(), 1.0f, 0.0f, params.size());
  }
  const Evaluation after = mlp.evaluate(params, d);
  EXPECT_EQ(after.accuracy, 1.0);
  EXPECT_LT(after.loss, 0.2);
}

// ---------------------------------------------------------------------------------------------
// Datasets

std::vector<float> true_linear_params(const SyntheticLinear& s) {
  std::vector<float> p = s.weights;  // W (features, 1)
  p.push_back(s.bias);               // b (1)
  return p;
}

TEST(Dataset, SyntheticLinearTrueWeightsFitExactlyWithoutNoise) {
  constexpr int kFeatures = 8;
  const SyntheticLinear s = make_synthetic_linear(kFeatures, 500, 100, 0.0, 9);
  ASSERT_EQ(s.data.train.size(), 500u);
  ASSERT_EQ(s.data.test.size(), 100u);
  EXPECT_EQ(s.data.train.classes, 0);
  Mlp mlp({.inputs = kFeatures, .hidden = {}, .outputs = 1, .loss = Loss::half_mse});
  const auto p = true_linear_params(s);
  EXPECT_LT(mlp.evaluate(p, s.data.train).loss, 1e-10);
  EXPECT_LT(mlp.evaluate(p, s.data.test).loss, 1e-10);
  EXPECT_EQ(mlp.evaluate(p, s.data.test).accuracy, 0.0);
  // Other weights do not fit: the test above can fail.
  auto off = p;
  off[0] += 0.1f;
  EXPECT_GT(mlp.evaluate(off, s.data.test).loss, 1e-3);
  // Same seed, same task.
  EXPECT_EQ(make_synthetic_linear(kFeatures, 500, 100, 0.0, 9).data.train.y, s.data.train.y);
}

TEST(Dataset, SyntheticLinearNoiseSetsTheLossFloor) {
  // With noise sigma the true weights leave 0.5 * sigma^2 on average (relative sd sqrt(2/N)).
  constexpr double kNoise = 0.1;
  constexpr std::size_t kTest = 8000;
  const SyntheticLinear s = make_synthetic_linear(4, 10, kTest, kNoise, 10);
  Mlp mlp({.inputs = 4, .hidden = {}, .outputs = 1, .loss = Loss::half_mse});
  const double want = 0.5 * kNoise * kNoise;
  EXPECT_NEAR(mlp.evaluate(true_linear_params(s), s.data.test).loss, want, 5 * std::sqrt(2.0 / kTest) * want);
}

Dataset labelled(std::size_t n, int classes) {
  Dataset d;
  d.features = 1;
  d.classes = classes;
  d.x.assign(n, 0.0f);
  d.labels.resize(n);
  for (std::size_t i = 0; i < n; ++i) d.labels[i] = static_cast<std::int32_t>(i % classes);
  return d;
}

// Disjoint, covering, sizes within 1 of each other.
void expect_partition(const std::vector<std::vector<std::uint32_t>>& shards, std::size_t n, int workers) {
  ASSERT_EQ(shards.size(), static_cast<std::size_t>(workers));
  std::vector<int> seen(n, 0);
  std::size_t smallest = n, largest = 0;
  for (const auto& s : shards) {
    smallest = std::min(smallest, s.size());
    largest = std::max(largest, s.size());
    for (auto i : s) {
      ASSERT_LT(i, n);
      ++seen[i];
    }
  }
  for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(seen[i], 1) << "index " << i;
  EXPECT_LE(largest - smallest, 1u);
}

TEST(Dataset, IidShardsPartitionTheIndicesReproducibly) {
  constexpr std::size_t kN = 103;
  constexpr int kWorkers = 4;
  const Dataset d = labelled(kN, 10);
  Rng a(5), b(5), c(6);
  const auto shards = make_shards(d, kWorkers, Partition::iid, a);
  expect_partition(shards, kN, kWorkers);
  EXPECT_EQ(make_shards(d, kWorkers, Partition::iid, b), shards);
  EXPECT_NE(make_shards(d, kWorkers, Partition::iid, c), shards);
  // Shuffled, not in index order.
  EXPECT_FALSE(std::is_sorted(shards[0].begin(), shards[0].end()));
}

TEST(Dataset, LabelSkewGivesEachWorkerAboutOneLabel) {
  constexpr int kClasses = 10, kWorkers = 10;
  for (const std::size_t n : {std::size_t{1000}, std::size_t{1005}}) {
    SCOPED_TRACE(n);
    const Dataset d = labelled(n, kClasses);
    Rng rng(8);
    const auto shards = make_shards(d, kWorkers, Partition::label_skew, rng);
    expect_partition(shards, n, kWorkers);
    std::set<std::int32_t> all;
    for (const auto& s : shards) {
      std::set<std::int32_t> labels;
      for (auto i : s) labels.insert(d.labels[i]);
      EXPECT_LE(labels.size(), 2u);
      all.insert(labels.begin(), labels.end());
    }
    EXPECT_EQ(all.size(), static_cast<std::size_t>(kClasses));
    if (n == 1000) {  // exactly balanced: one label per worker
      for (const auto& s : shards) {
        EXPECT_TRUE(std::all_of(s.begin(), s.end(), [&](auto i) { return d.labels[i] == d.labels[s.front()]; }));
      }
    }
  }
}

TEST(Dataset, FashionMnistFromTheDebianPackage) {
  if (!std::filesystem::exists(kFashionMnistDir))
    GTEST_SKIP() << kFashionMnistDir << " is missing (apt-get install dataset-fashion-mnist)";
  const TrainTest t = load_fashion_mnist(kFashionMnistDir);
  ASSERT_EQ(t.train.size(), 60000u);
  ASSERT_EQ(t.test.size(), 10000u);
  for (const Dataset* d : {&t.train, &t.test}) {
    EXPECT_EQ(d->features, 784);
    EXPECT_EQ(d->classes, 10);
    ASSERT_EQ(d->labels.size(), d->size());
    const auto [lo, hi] = std::minmax_element(d->x.begin(), d->x.end());
    EXPECT_EQ(*lo, 0.0f);
    EXPECT_EQ(*hi, 1.0f);
    // The published dataset is balanced: 6000 (train) or 1000 (test) images of each class.
    std::vector<int> per_class(10, 0);
    for (auto l : d->labels) {
      ASSERT_GE(l, 0);
      ASSERT_LE(l, 9);
      ++per_class[l];
    }
    for (int c = 0; c < 10; ++c) EXPECT_EQ(per_class[c], static_cast<int>(d->size() / 10)) << "class " << c;
  }
  // The first labels of the published files (9 = ankle boot).
  const std::vector<std::int32_t> train_head = {9, 0, 0, 3, 0, 2, 7, 2, 5, 5};
  const std::vector<std::int32_t> test_head = {9, 2, 1, 1, 6, 1, 4, 6, 5, 7};
  EXPECT_EQ(std::vector<std::int32_t>(t.train.labels.begin(), t.train.labels.begin() + 10), train_head);
  EXPECT_EQ(std::vector<std::int32_t>(t.test.labels.begin(), t.test.labels.begin() + 10), test_head);

  // The first training image's pixel sum: 76247 / 255 (bytes summed by an independent reader).
  EXPECT_NEAR(std::accumulate(t.train.x.begin(), t.train.x.begin() + 784, 0.0), 76247.0 / 255, 1e-3);

  const TrainTest limited = load_fashion_mnist(kFashionMnistDir, 100, 7);
  EXPECT_EQ(limited.train.size(), 100u);
  EXPECT_EQ(limited.train.labels.size(), 100u);
  EXPECT_EQ(limited.test.size(), 7u);
  EXPECT_TRUE(std::equal(limited.train.x.begin(), limited.train.x.end(), t.train.x.begin()));
}

TEST(Dataset, FashionMnistMissingDirNamesThePackage) {
  const std::string dir = "/nonexistent/geotrain-fashion-mnist";
  try {
    load_fashion_mnist(dir);
    FAIL() << "no DataError for a missing folder";
  } catch (const DataError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("dataset-fashion-mnist"), std::string::npos) << what;
    EXPECT_NE(what.find(dir), std::string::npos) << what;
  }
}

// ---------------------------------------------------------------------------------------------
// Trainer

struct RealTrainerSetup {
  ModelSpec spec{.inputs = 6, .hidden = {5}, .outputs = 3, .activation = Activation::tanh};
  Dataset data = random_classification(6, 3, 40, 77);
  std::vector<float> initial;
  RealTrainerSetup() {
    Mlp mlp(spec);
    initial.resize(mlp.parameter_count());
    Rng rng(5);
    mlp.init(initial, rng);
  }
  Trainer make(std::vector<std::uint32_t> shard, std::uint64_t seed, OptimizerSpec opt = {}) const {
    return Trainer(spec, data, std::move(shard), std::move(opt), initial, Rng(seed), 4.0);
  }
};

std::vector<float> values(const Tensor& t) { return {t.values().begin(), t.values().end()}; }

TEST(Trainer, SameParamsAndIndicesGiveIdenticalGradients) {
  const RealTrainerSetup s;
  Trainer a = s.make({0, 1, 2, 3, 4}, 1), b = s.make({30, 31, 32}, 2);
  const std::vector<std::uint32_t> batch = {3, 17, 25, 8};
  const double loss_a = a.forward_backward_on(batch), loss_b = b.forward_backward_on(batch);
  EXPECT_EQ(loss_a, loss_b);
  EXPECT_GT(loss_a, 0.1);
  EXPECT_EQ(values(a.grads()), values(b.grads()));

  // The same batch through the model directly.
  Mlp mlp(s.spec);
  std::vector<float> x, grads(mlp.parameter_count());
  std::vector<std::int32_t> labels;
  for (auto i : batch) {
    x.insert(x.end(), s.data.x.begin() + i * 6, s.data.x.begin() + (i + 1) * 6);
    labels.push_back(s.data.labels[i]);
  }
  EXPECT_EQ(mlp.loss_and_grad(grads, s.initial, x.data(), labels.data(), nullptr, 4), loss_a);
  EXPECT_EQ(values(a.grads()), grads);

  // Another batch gives another gradient.
  b.forward_backward_on(std::vector<std::uint32_t>{0, 1, 2, 4});
  EXPECT_NE(values(a.grads()), values(b.grads()));
}

TEST(Trainer, AnEpochVisitsTheWholeShardAndTheStepAppliesTheOptimizer) {
  const RealTrainerSetup s;
  const std::vector<std::uint32_t> shard = {6, 11, 19, 27};
  OptimizerSpec sgd;
  sgd.lr = 0.5;
  Trainer t = s.make(shard, 3, sgd), ref = s.make(shard, 4);
  ref.forward_backward_on(shard);
  const auto full = values(ref.grads());
  for (int epoch = 0; epoch < 2; ++epoch) {  // a batch of the shard's size is one epoch, reshuffled
    t.forward_backward(static_cast<int>(shard.size()));
    const auto g = values(t.grads());
    for (std::size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], full[i], 1e-6 + 1e-5 * std::fabs(full[i])) << i;
  }
  const auto g = values(t.grads());
  t.optimizer_step(t.grads());
  const auto p = values(t.params());
  for (std::size_t i = 0; i < p.size(); ++i) EXPECT_FLOAT_EQ(p[i], s.initial[i] - 0.5f * g[i]) << i;
  EXPECT_EQ(t.optimizer().steps(), 1);
}

TEST(Trainer, PhantomHasSizesOnly) {
  constexpr std::size_t kParams = 1'000'003;
  Trainer t(kParams, 2.0, OptimizerSpec{});
  EXPECT_FALSE(t.is_real());
  EXPECT_EQ(t.forward_backward(32), 0.0);
  EXPECT_EQ(t.forward_backward_on(std::vector<std::uint32_t>{1, 2}), 0.0);
  EXPECT_EQ(t.params().numel(), kParams);
  EXPECT_EQ(t.grads().numel(), kParams);
  EXPECT_FALSE(t.params().is_real());
  EXPECT_EQ(t.params().wire_bytes(kParams), 2 * kParams);
  const Tensor like = t.like_params();
  EXPECT_FALSE(like.is_real());
  EXPECT_EQ(like.numel(), kParams);
  EXPECT_EQ(like.wire_bytes_per_value(), 2.0);
  t.optimizer_step(t.grads());  // a no-op, not a crash
  EXPECT_EQ(t.optimizer().steps(), 0);
}

}  // namespace
}  // namespace geotrain::runtime
