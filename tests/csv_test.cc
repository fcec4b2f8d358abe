// The project's CSV writer (common/csv.h): RFC 4180 quoting, integers for counts, empty cells for
// nulls, and the timeline.csv it writes (same bytes as before for ordinary values).
#include <cmath>
#include <limits>
#include <optional>

#include <gtest/gtest.h>

#include "common/csv.h"
#include "sim/recorder.h"

namespace geotrain {
namespace {

TEST(Csv, QuotesOnlyCellsWithCommaQuoteCrOrLf) {
  EXPECT_EQ(csv::quote("plain text_1.5"), "plain text_1.5");
  EXPECT_EQ(csv::quote(" spaces kept "), " spaces kept ");
  EXPECT_EQ(csv::quote(""), "");
  EXPECT_EQ(csv::quote("a,b"), "\"a,b\"");
  EXPECT_EQ(csv::quote("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(csv::quote("\""), "\"\"\"\"");
  EXPECT_EQ(csv::quote("line\nbreak"), "\"line\nbreak\"");
  EXPECT_EQ(csv::quote("carriage\rreturn"), "\"carriage\rreturn\"");
  EXPECT_EQ(csv::quote("all, \"of\"\r\nthem"), "\"all, \"\"of\"\"\r\nthem\"");
}

TEST(Csv, CountsAreIntegersAndOtherNumbersRoundTrip) {
  EXPECT_EQ(csv::count_text(2560.0), "2560");
  EXPECT_EQ(csv::count_text(1.28e10), "12800000000");  // "%.9g" wrote 1.28e+10
  EXPECT_EQ(csv::count_text(-3.0), "-3");
  EXPECT_EQ(csv::count_text(0.0), "0");
  EXPECT_EQ(csv::count_text(9007199254740991.0), "9007199254740991");  // 2^53 - 1: still exact
  EXPECT_EQ(csv::count_text(12.5), "12.5");  // not a whole number: nothing is lost
  EXPECT_EQ(csv::number_text(0.1), "0.1");
  EXPECT_EQ(csv::number_text(172.0), "172");
  EXPECT_EQ(csv::number_text(1.0 / 3), "0.3333333333333333");
  EXPECT_EQ(csv::number_text(1e300), "1e+300");
  EXPECT_EQ(std::stod(csv::number_text(0.1 + 0.2)), 0.1 + 0.2);
}

TEST(Csv, WriterQuotesHeaderAndTextAndLeavesNullsEmpty) {
  csv::Writer w({"name", "/a,b", "n", "x", "y"});
  w.text("run, \"1\"").count(64).number(std::optional<double>()).significant(std::optional<double>(2.5), 9).empty();
  w.end_row();
  w.text("b").integer(7).number(0.25).significant(1.0 / 3, 4).fixed(0.5, 3);
  w.end_row();
  EXPECT_EQ(w.str(), "name,\"/a,b\",n,x,y\n\"run, \"\"1\"\"\",64,,2.5,\nb,7,0.25,0.3333,0.500\n");
}

TEST(Csv, RowOfTheWrongWidthIsAnInternalError) {
  csv::Writer w({"a", "b"});
  w.text("only one");
  EXPECT_THROW(w.end_row(), std::logic_error);
  csv::Writer v({"a"});
  v.text("1").text("2");
  EXPECT_THROW(v.end_row(), std::logic_error);
}

// A row's time is the latest step end among the calls that form it, whatever their order:
// Streaming DiLoCo ends a step at the time before a merge's wait, after later calls of others.
TEST(Csv, TimelineRowTimeIsTheLatestStepEndInIt) {
  sim::Recorder recorder(3);
  EXPECT_FALSE(recorder.end_step(8, 1, 3.0, 3, false));
  EXPECT_FALSE(recorder.end_step(8, 1, 2.0, 3, false));  // an earlier end, reported later
  EXPECT_TRUE(recorder.end_step(8, 1, 2.5, 3, false));
  EXPECT_EQ(recorder.last_row().time_s, 3.0);
  EXPECT_FALSE(recorder.end_step(8, 1, 4.0, 3, false));  // the next row starts afresh
  EXPECT_TRUE(recorder.end_step(8, 1, 3.5, 3, true));    // forced (a diverged run's last row)
  EXPECT_EQ(recorder.last_row().time_s, 4.0);
  EXPECT_EQ(recorder.row_count(), 2u);
}

// timeline.csv through the writer: the bytes "%.9g" and "{}" gave for ordinary values, an empty
// train_loss where no loss was reported, and an integer sample count however large.
TEST(Csv, TimelineKeepsItsFormatWithEmptyLossesAndIntegerCounts) {
  sim::Recorder recorder(2);
  EXPECT_FALSE(recorder.end_step(32, 2.25, 1.5, 2, false));  // one of two workers: no row yet
  EXPECT_TRUE(recorder.end_step(32, 2.75, 1.5, 2, false));   // row 0: mean loss 2.5
  auto& r0 = recorder.last_row();
  r0.compute_usd = 0.001;
  r0.egress_usd = 1.0 / 3;
  r0.wan_bytes = 4000;
  r0.alive_workers = 2;
  EXPECT_TRUE(recorder.end_step(0, 0, 2.0, 1, false));  // row 1: a step on no data reports no loss
  auto& r1 = recorder.last_row();
  r1.evaluated = true;
  r1.test_loss = 0.5;
  r1.test_accuracy = 0.8125;
  r1.alive_workers = 1;
  sim::TimelineRow big = r1;
  big.step = 2;
  big.samples = 1.28e10;
  big.time_s = 123456.789012345;
  big.train_loss = 0.125;
  big.trained = true;
  big.evaluated = false;
  big.useful_samples = 1.2e10;  // a count: written as an integer
  recorder.append_row(big);
  const std::string header =
      "step,time_s,samples,compute_usd,egress_usd,total_usd,wan_bytes,train_loss,test_loss,test_accuracy,alive_workers,"
      "useful_samples\n";
  EXPECT_EQ(recorder.timeline_csv(true), header +
                                             "0,1.5,64,0.001,0.333333333,0.334333333,4000,2.5,,,2,0\n"
                                             "1,2,64,0,0,0,0,,0.5,0.8125,1,0\n"
                                             "2,123456.789,12800000000,0,0,0,0,0.125,,,1,12000000000\n");
  // Size-only runs report no loss at all: every train_loss cell is empty, not 0.
  EXPECT_EQ(recorder.timeline_csv(false), header +
                                              "0,1.5,64,0.001,0.333333333,0.334333333,4000,,,,2,0\n"
                                              "1,2,64,0,0,0,0,,0.5,0.8125,1,0\n"
                                              "2,123456.789,12800000000,0,0,0,0,,,,1,12000000000\n");
}

}  // namespace
}  // namespace geotrain
