// The overlapped parameter server's keys (sim/key_schedule.h) and PacTrain's compact buckets
// (sim/layer_schedule.h), by hand.
#include <numeric>
#include <vector>

#include <gtest/gtest.h>

#include "sim/key_schedule.h"
#include "sim/layer_schedule.h"

namespace geotrain::sim {
namespace {

GradientBucket bucket(std::size_t begin, std::size_t count, double backward_flops = 0) {
  GradientBucket b;
  b.begin = begin;
  b.count = count;
  b.backward_flops = backward_flops;
  return b;
}

// Buckets in launch order (the last layers first): values [8, 18), [1, 8), [0, 1).
const std::vector<GradientBucket> kBuckets = {bucket(8, 10), bucket(1, 7), bucket(0, 1)};

TEST(KeySchedule, EachBucketIsSplitEvenlyOverTheShards) {
  const KeySchedule keys(kBuckets, 2);
  ASSERT_TRUE(keys.keyed());
  // Shard 0 owns the first halves (5 of 10, 4 of 7, the 1 value of the last bucket), shard 1 the
  // rest (5 and 3; nothing of the one-value bucket).
  EXPECT_EQ(keys.shard_size(0), 10u);
  EXPECT_EQ(keys.shard_size(1), 8u);
  std::vector<float> model(18);
  std::iota(model.begin(), model.end(), 0.0f);
  EXPECT_EQ(keys.gather(0, model), (std::vector<float>{8, 9, 10, 11, 12, 1, 2, 3, 4, 0}));
  EXPECT_EQ(keys.gather(1, model), (std::vector<float>{13, 14, 15, 16, 17, 5, 6, 7}));
}

TEST(KeySchedule, ScatterPutsEveryShardsValuesBack) {
  const KeySchedule keys(kBuckets, 3);
  std::vector<float> model(18), back(18, -1.0f);
  std::iota(model.begin(), model.end(), 1.0f);
  for (int s = 0; s < 3; ++s) keys.scatter(s, keys.gather(s, model), back);
  EXPECT_EQ(back, model);
  EXPECT_EQ(keys.shard_size(0) + keys.shard_size(1) + keys.shard_size(2), 18u);
}

TEST(KeySchedule, OneBucketMakesNoKeys) {
  EXPECT_FALSE(KeySchedule({bucket(0, 18)}, 4).keyed());
  EXPECT_FALSE(KeySchedule().keyed());
}

TEST(CompactBuckets, EachDenseBucketKeepsItsMasksEntries) {
  const std::vector<GradientBucket> dense = {bucket(4, 4, 10), bucket(0, 4, 20)};
  const std::vector<std::uint8_t> mask = {1, 0, 0, 0, 0, 1, 1, 0};  // 1 kept in [0, 4), 2 in [4, 8)
  const auto c = compact_buckets(dense, mask, 8, 3);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].begin, 1u);
  EXPECT_EQ(c[0].count, 2u);
  EXPECT_EQ(c[1].begin, 0u);
  EXPECT_EQ(c[1].count, 1u);
  EXPECT_EQ(c[1].backward_flops, 20);
}

TEST(CompactBuckets, AnEmptiedBucketGivesItsBackwardToTheNext) {
  const std::vector<GradientBucket> dense = {bucket(4, 4, 10), bucket(0, 4, 20)};
  const std::vector<std::uint8_t> mask = {1, 1, 0, 0, 0, 0, 0, 0};  // nothing kept in [4, 8)
  const auto c = compact_buckets(dense, mask, 8, 2);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].begin, 0u);
  EXPECT_EQ(c[0].count, 2u);
  EXPECT_EQ(c[0].backward_flops, 30);
}

TEST(CompactBuckets, SizeOnlySpreadsTheKeptShareEvenly) {
  const std::vector<GradientBucket> dense = {bucket(50, 50), bucket(0, 50)};
  const auto c = compact_buckets(dense, {}, 100, 10);  // 10% kept: 5 in each bucket
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].begin, 5u);
  EXPECT_EQ(c[0].count, 5u);
  EXPECT_EQ(c[1].begin, 0u);
  EXPECT_EQ(c[1].count, 5u);
}

}  // namespace
}  // namespace geotrain::sim
