// The language model trained for real (runtime/gpt.h, runtime/corpus.h): its size against the
// size-only transformer, its gradient against finite differences, overfitting a tiny batch,
// data-parallel equivalences, every strategy lowering the validation loss, identical runs for
// any thread count, the corpus and its split, and bad input.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "cli_test_util.h"
#include "runtime/architecture.h"
#include "runtime/corpus.h"
#include "runtime/gpt.h"
#include "runtime/optimizer.h"
#include "sim/result_keys.h"
#include "test_util.h"

namespace geotrain {
namespace {

using testing::max_rel_diff;
using testing::run_captured;
using testing::UniformNet;

runtime::TransformerSpec tiny_gpt(int layers = 2, int d_model = 8, int heads = 2, int seq_len = 5) {
  runtime::TransformerSpec s;
  s.layers = layers;
  s.d_model = d_model;
  s.heads = s.kv_heads = heads;
  s.d_ff = 4 * d_model;
  s.seq_len = seq_len;
  s.vocab = runtime::kByteVocab;
  return s;
}

// B rows of seq_len + 1 token ids drawn from `text`, starting at offsets 0, stride, 2 stride...
std::vector<float> rows_of(const std::string& text, int B, int seq_len, int stride) {
  std::vector<float> x;
  for (int b = 0; b < B; ++b)
    for (int i = 0; i <= seq_len; ++i) x.push_back(static_cast<unsigned char>(text.at(b * stride + i)));
  return x;
}

TEST(Lm, ParameterCountIsTheSizeOnlyTransformers) {
  for (const auto& s : {tiny_gpt(), tiny_gpt(4, 128, 4, 128)}) {
    const runtime::Gpt gpt(s);
    EXPECT_EQ(static_cast<double>(gpt.parameter_count()), runtime::total_parameters(runtime::transformer_layers(s)));
  }
  // diloco-lm's model by hand: V C + T C + L (12 C^2 + 13 C) + 2 C.
  EXPECT_EQ(runtime::Gpt(tiny_gpt(4, 128, 4, 128)).parameter_count(), 256u * 128 + 128 * 128 + 4 * (12 * 128 * 128 + 13 * 128) + 2 * 128);
}

TEST(Lm, InitializationIsGpt2s) {
  const auto s = tiny_gpt(2, 64, 4, 16);
  runtime::Gpt gpt(s);
  std::vector<float> p(gpt.parameter_count());
  runtime::Rng rng(3);
  gpt.init(p, rng);
  // wte: N(0, 0.02); the last LayerNorm: gain 1, bias 0.
  double sq = 0;
  for (int i = 0; i < 256 * 64; ++i) sq += p[i] * p[i];
  EXPECT_NEAR(std::sqrt(sq / (256 * 64)), 0.02, 0.001);
  EXPECT_EQ(p[p.size() - 65], 1.0f);
  EXPECT_EQ(p.back(), 0.0f);
  // Identical for the same seed.
  std::vector<float> again(p.size());
  runtime::Rng rng2(3);
  gpt.init(again, rng2);
  EXPECT_EQ(p, again);
}

TEST(Lm, WholeModelGradientMatchesFiniteDifferences) {
  const auto s = tiny_gpt();
  runtime::Gpt gpt(s);
  const std::size_t n = gpt.parameter_count();
  // Larger weights than GPT-2's init so that every part of the model is far from linear.
  std::vector<float> params(n);
  runtime::Rng rng(11);
  for (auto& v : params) v = static_cast<float>(rng.normal() * 0.3);
  const auto books = runtime::make_synthetic_books(1, 200);
  const auto x = rows_of(books[0].text, 2, s.seq_len, 17);
  std::vector<float> grads(n), scratch(n);
  gpt.loss_and_grad(grads, params, x.data(), nullptr, nullptr, 2);
  // Central differences on every 17th parameter (every tensor gets several), in double.
  constexpr float kEps = 1e-2f;
  int checked = 0;
  for (std::size_t i = 0; i < n; i += 17) {
    const float keep = params[i];
    params[i] = keep + kEps;
    const double up = gpt.loss_and_grad(scratch, params, x.data(), nullptr, nullptr, 2);
    params[i] = keep - kEps;
    const double down = gpt.loss_and_grad(scratch, params, x.data(), nullptr, nullptr, 2);
    params[i] = keep;
    const double fd = (up - down) / (2.0 * kEps);
    ASSERT_NEAR(grads[i], fd, 1e-3 + 2e-2 * std::abs(fd)) << "parameter " << i;
    ++checked;
  }
  EXPECT_GT(checked, 200);
}

TEST(Lm, OverfitsATinyBatch) {
  const auto s = tiny_gpt(1, 32, 2, 16);
  runtime::Gpt gpt(s);
  std::vector<float> params(gpt.parameter_count()), grads(params.size());
  runtime::Rng rng(5);
  gpt.init(params, rng);
  const auto x = rows_of(runtime::make_synthetic_books(1, 100)[0].text, 2, s.seq_len, 40);
  runtime::OptimizerSpec o;
  o.name = "adamw";
  o.lr = 1e-2;
  runtime::Optimizer adamw(o, params.size());
  const double first = gpt.loss_and_grad(grads, params, x.data(), nullptr, nullptr, 2);
  EXPECT_NEAR(first, std::log(256.0), 0.1);  // an untrained model guesses uniformly
  double loss = first;
  for (int step = 0; step < 300; ++step) {
    adamw.step(params, grads);
    loss = gpt.loss_and_grad(grads, params, x.data(), nullptr, nullptr, 2);
  }
  EXPECT_LT(loss, 0.05);
}

TEST(Lm, CosineScheduleAndClipping) {
  runtime::OptimizerSpec o;
  o.warmup_steps = 10;
  o.cosine = true;
  o.decay_steps = 110;
  o.min_lr_ratio = 0.1;
  EXPECT_DOUBLE_EQ(runtime::lr_factor(o, 5), 0.5);
  EXPECT_DOUBLE_EQ(runtime::lr_factor(o, 10), 1.0);
  EXPECT_NEAR(runtime::lr_factor(o, 60), 0.1 + 0.9 * 0.5, 1e-12);  // half-way: cos(pi/2) = 0
  EXPECT_NEAR(runtime::lr_factor(o, 110), 0.1, 1e-12);
  EXPECT_NEAR(runtime::lr_factor(o, 500), 0.1, 1e-12);
  // SGD with lr 1 and clip 1: a gradient (3, 4) of norm 5 moves the weights by (0.6, 0.8).
  runtime::OptimizerSpec sgd;
  sgd.lr = 1;
  sgd.clip_norm = 1;
  runtime::Optimizer opt(sgd, 2);
  std::vector<float> w = {0, 0};
  const std::vector<float> g = {3, 4};
  opt.step(w, g);
  EXPECT_FLOAT_EQ(w[0], -0.6f);
  EXPECT_FLOAT_EQ(w[1], -0.8f);
  const std::vector<float> small = {0.3f, 0.4f};  // norm 0.5: unclipped
  opt.step(w, small);
  EXPECT_FLOAT_EQ(w[0], -0.9f);
}

// The corpus ----------------------------------------------------------------------------------

TEST(Lm, KjvVersesBecomeBooksOfText) {
  const auto dir = testing::fresh_dir("geotrain-lm-kjv");
  const auto path = (dir / "kjv.txt").string();
  testing::write_file(path,
                                             "Ge1:1 In the beginning.\nGe1:2 And the earth.\n1Sm3:4 That the LORD "
                                             "called.\nRev22:21 Amen.\n");
  const auto books = runtime::load_kjv(path);
  ASSERT_EQ(books.size(), 3u);
  EXPECT_EQ(books[0].name, "Ge");
  EXPECT_EQ(books[0].text, "In the beginning.\nAnd the earth.\n");
  EXPECT_EQ(books[1].name, "1Sm");
  EXPECT_EQ(books[2].text, "Amen.\n");
  const auto bad = (dir / "bad.txt").string();
  testing::write_file(bad, "Ge1:1 fine\nnot a verse\n");
  try {
    runtime::load_kjv(bad);
    FAIL() << "no error";
  } catch (const runtime::DataError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.txt:2: expected a verse"), std::string::npos) << e.what();
  }
}

// The corpus scripts/setup.sh writes (skipped without it: the unit tests need no file).
TEST(Lm, TheKjvCorpusHas66Books) {
  const std::string path = std::string(GEOTRAIN_SOURCE_DIR) + "/data/kjv.txt";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "no " << path << ": scripts/setup.sh writes it";
  const auto books = runtime::load_kjv(path);
  ASSERT_EQ(books.size(), 66u);
  EXPECT_EQ(books.front().name, "Ge");
  EXPECT_EQ(books.back().name, "Rev");
  EXPECT_EQ(books.front().text.rfind("In the beginning God created the heaven and the earth.\n", 0), 0u);
  EXPECT_TRUE(books.back().text.ends_with("The grace of our Lord Jesus Christ be with you all. Amen.\n"));
  std::size_t bytes = 0;
  for (const auto& b : books) bytes += b.text.size();
  EXPECT_GT(bytes, 4000000u);  // about 4.4 MB with the references, a little less without
}

TEST(Lm, SplitHoldsOutTheLastBooksAndShardsDealWholeBooks) {
  std::vector<runtime::Book> books = {{"a", std::string(25, 'a')}, {"b", std::string(9, 'b')},
                                      {"c", std::string(17, 'c')}, {"d", std::string(12, 'd')}};
  // seq_len 4: sequences of 5 tokens at stride 4: a 6, b 2, c 4 (d held out: 2).
  const auto split = runtime::make_text_split(books, {4, 1, 0, 32});
  EXPECT_EQ(split.train.size(), 12u);
  EXPECT_EQ(split.validation.size(), 2u);
  EXPECT_EQ(split.validation.x[0], 'd');
  EXPECT_EQ(split.book_of_train, (std::vector<int>{0, 0, 0, 0, 0, 0, 1, 1, 2, 2, 2, 2}));
  runtime::Rng rng(1);
  const auto by_book = runtime::make_text_shards(split, 2, runtime::TextPartition::by_book, rng);
  // a (6) to worker 0, b (2) to worker 1, c (4) to worker 1 (fewest so far: 2 < 6).
  EXPECT_EQ(by_book[0], (std::vector<std::uint32_t>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(by_book[1], (std::vector<std::uint32_t>{6, 7, 8, 9, 10, 11}));
  const auto contiguous = runtime::make_text_shards(split, 3, runtime::TextPartition::contiguous, rng);
  EXPECT_EQ(contiguous[1], (std::vector<std::uint32_t>{4, 5, 6, 7}));
  EXPECT_THROW(runtime::make_text_shards(split, 4, runtime::TextPartition::by_book, rng), runtime::DataError);
  EXPECT_THROW(runtime::make_text_split(books, {30, 1, 0, 32}), runtime::DataError);  // no book that long
}

// Scenarios ----------------------------------------------------------------------------------

const nlohmann::json kTinyLm = {{"type", "transformer"}, {"layers", 1}, {"d_model", 16}, {"heads", 2},
                                {"seq_len", 16}, {"vocab", 256}};

// AdamW with clipping, as language models train; `sgd` for the equivalences (Adam's division
// by the root of the second moment amplifies float-order noise in near-zero gradients).
nlohmann::json lm_scenario(const UniformNet& net, const nlohmann::json& strategy, int batch, int steps,
                           std::size_t train_sequences = 0, bool sgd = false) {
  nlohmann::json data = {{"name", "synthetic_text"}, {"books", 4}, {"bytes_per_book", 4096}};
  if (train_sequences > 0) data["train_sequences"] = train_sequences;
  auto s = testing::real_scenario(net, kTinyLm, data, strategy, batch, steps, 0.5);
  if (!sgd) s["workload"]["optimizer"] = {{"name", "adamw"}, {"lr", 3e-3}, {"clip_norm", 1.0}};
  return s;
}

TEST(Lm, DdpWithMWorkersEqualsOneWorkerWithMTimesTheBatch) {
  // Each worker's shard is exactly one batch: the mean of the M gradients is the M b batch's.
  constexpr int kWorkers = 4, kBatch = 3, kSteps = 8;
  UniformNet one;
  one.workers_per_region = 1;
  UniformNet many;
  many.regions = 2;
  many.workers_per_region = kWorkers / 2;
  const auto single =
      run_captured(lm_scenario(one, {{"name", "ddp"}}, kWorkers * kBatch, kSteps, kWorkers * kBatch, true));
  const auto ddp = run_captured(lm_scenario(many, {{"name", "ddp"}}, kBatch, kSteps, kWorkers * kBatch, true));
  // Float order only: OpenBLAS sums in its kernels' order, which depends on the CPU (measured
  // 1.25e-5 with its Haswell kernels, under 1e-5 with its SSE3 ones); one step too few: over 1e-2.
  EXPECT_LT(max_rel_diff(ddp.params, single.params), 5e-5);
  EXPECT_GT(max_rel_diff(ddp.params, run_captured(lm_scenario(many, {{"name", "ddp"}}, kBatch, 1, kWorkers * kBatch, true)).params), 1e-2);
}

TEST(Lm, DilocoWithH1AndOuterSgd1EqualsDdp) {
  UniformNet net;
  net.regions = 2;
  net.workers_per_region = 2;
  const auto ddp = run_captured(lm_scenario(net, {{"name", "ddp"}}, 4, 10, 0, true));
  const auto diloco = run_captured(lm_scenario(
      net, {{"name", "diloco"}, {"H", 1}, {"outer", {{"name", "sgd"}, {"lr", 1.0}, {"momentum", 0.0}}}}, 4, 10, 0, true));
  // The outer step theta - (theta - mean of local thetas) rounds once more than DDP's update.
  EXPECT_LT(max_rel_diff(diloco.params, ddp.params), 3e-5);
}

TEST(Lm, EveryStrategyLowersTheValidationLoss) {
  UniformNet net;
  net.regions = 2;
  net.workers_per_region = 2;
  const std::vector<nlohmann::json> strategies = {
      {{"name", "ddp"}},
      {{"name", "dgc"}, {"ratio", 0.05}},
      {{"name", "diloco"}, {"H", 10}},
      {{"name", "easgd"}},
      {{"name", "gossip"}},
      {{"name", "hivemind"}, {"target_batch", 32}},
      {{"name", "local_sgd"}, {"H", 10}},
      {{"name", "pactrain"}, {"warmup_steps", 5}},
      {{"name", "palsgd"}, {"H", 10}},
      {{"name", "parameter_server"}},
      {{"name", "streaming_diloco"}, {"H", 10}, {"fragments", 2}},
      {{"name", "topk"}, {"ratio", 0.05}},
  };
  for (const auto& strategy : strategies) {
    const auto r = run_captured(lm_scenario(net, strategy, 8, 40)).results;
    const auto& c = r[result_keys::kConvergence];
    ASSERT_TRUE(c[result_keys::convergence::kFinalValLoss].is_number()) << strategy.dump();
    const double loss = c[result_keys::convergence::kFinalValLoss].get<double>();
    // Uniform guessing over 256 bytes is ln 256 = 5.55 nats per token.
    EXPECT_LT(loss, 4.0) << strategy.dump();
    EXPECT_NEAR(c[result_keys::convergence::kFinalBitsPerByte].get<double>(), loss / std::log(2.0), 1e-12);
    EXPECT_NEAR(c[result_keys::convergence::kFinalPerplexity].get<double>(), std::exp(loss), 1e-9);
    EXPECT_GT(r["tokens_per_s"].get<double>(), 0) << strategy.dump();
  }
}

TEST(Lm, RunsAreByteIdenticalForOneAndTwoThreads) {
  UniformNet net;
  net.regions = 2;
  net.workers_per_region = 2;
  auto s = lm_scenario(net, {{"name", "diloco"}, {"H", 5}}, 4, 20);
  s["workload"]["eval_every"] = 10;
  const auto dir = testing::fresh_dir("geotrain-lm-threads");
  testing::write_file(dir / "s.json", s.dump());
  std::string timeline[2];
  for (int threads : {1, 2}) {
    const auto out = dir / ("out" + std::to_string(threads));
    const auto r = testing::run_geotrain("run " + (dir / "s.json").string() + " --out " + out.string() +
                                         " --quiet --threads " + std::to_string(threads));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    timeline[threads - 1] = testing::read_file(out / "timeline.csv");
  }
  EXPECT_EQ(timeline[0], timeline[1]);
  // Steps 9 and 19 were evaluated: their rows carry a validation loss below ln 256.
  int evaluated = 0;
  std::istringstream rows(timeline[0]);
  for (std::string row; std::getline(rows, row);) {
    std::vector<std::string> cells;
    std::istringstream cols(row);
    for (std::string c; std::getline(cols, c, ',');) cells.push_back(c);
    if (cells.size() > 8 && !cells[8].empty() && cells[0] != "step") {
      EXPECT_LT(std::stod(cells[8]), std::log(256.0)) << row;
      ++evaluated;
    }
  }
  EXPECT_EQ(evaluated, 2);
}

TEST(Lm, BadInputNamesFileKeyValueAndWhatIsAllowed) {
  UniformNet net;
  auto s = lm_scenario(net, {{"name", "ddp"}}, 4, 5);
  auto too_long = s;
  too_long["workload"]["model"]["seq_len"] = 5000;
  EXPECT_NE(testing::parse_error(too_long).find("seq_len + 1 = 5001 tokens"), std::string::npos)
      << testing::parse_error(too_long);
  auto heads = s;
  heads["workload"]["model"]["heads"] = 3;
  EXPECT_NE(testing::parse_error(heads).find("/workload/model/heads"), std::string::npos);
  EXPECT_NE(testing::parse_error(heads).find("divisor of d_model (16)"), std::string::npos);
  auto vocab = s;
  vocab["workload"]["model"]["vocab"] = 50257;
  EXPECT_NE(testing::parse_error(vocab).find("/workload/model/vocab: 50257: expected 256"), std::string::npos)
      << testing::parse_error(vocab);
  auto llama = s;
  llama["workload"]["model"]["mlp"] = "swiglu";
  EXPECT_NE(testing::parse_error(llama).find("GPT-2-style transformers only"), std::string::npos);
  auto missing = s;
  missing["workload"]["dataset"] = {{"name", "kjv"}, {"path", "/nonexistent/kjv.txt"}};
  const auto why = testing::parse_error(missing);
  EXPECT_NE(why.find("/workload/dataset/path"), std::string::npos) << why;
  EXPECT_NE(why.find("bible -f gen1:1-rev22:21 > /nonexistent/kjv.txt"), std::string::npos) << why;
  auto books = s;
  books["workload"]["dataset"]["validation_books"] = 4;
  EXPECT_NE(testing::parse_error(books).find("expected an integer in [1, 3]"), std::string::npos);
  auto target = s;
  target["workload"]["target"] = {{"val_loss", 2.0}};
  EXPECT_EQ(testing::parse_error(target), "no error");
  auto mlp_target = testing::real_scenario(net, {{"type", "linear_regression"}},
                                           {{"name", "synthetic_linear"}, {"features", 2}, {"train_samples", 10}},
                                           {{"name", "ddp"}}, 2, 2, 0.1);
  mlp_target["workload"]["target"] = {{"val_loss", 2.0}};
  EXPECT_NE(testing::parse_error(mlp_target).find("language model's target"), std::string::npos);
}

}  // namespace
}  // namespace geotrain
