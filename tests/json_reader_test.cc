// JsonReader: messages name the file, the JSON pointer, the value and what is allowed.
#include "sim/json_reader.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace geotrain::sim {
namespace {

using testing::error_of;

TEST(JsonReader, RangeAndTypeErrorsNameFilePathValueAndRange) {
  const auto doc = nlohmann::json::parse(R"({"a": {"b/c": -3, "s": 5}})");
  JsonReader r(doc, "f.json");
  auto a = r.object("a");
  EXPECT_EQ(error_of([&] { a.positive("b/c"); }), "f.json: /a/b~1c: -3: expected a number > 0");
  EXPECT_EQ(error_of([&] { a.string("s"); }), "f.json: /a/s: 5: expected a string");
  EXPECT_EQ(error_of([&] { a.integer("missing", 1, 10); }),
            "f.json: /a/missing: missing: an integer in [1, 10]");
  EXPECT_EQ(error_of([&] { a.number("b/c", 0, 1); }), "f.json: /a/b~1c: -3: expected a number in [0, 1]");
}

TEST(JsonReader, UnknownKeysAreErrorsListingTheAllowedOnes) {
  const auto doc = nlohmann::json::parse(R"({"seed": 1, "sede": 2})");
  JsonReader r(doc, "f.json");
  r.unsigned_integer("seed");
  EXPECT_EQ(error_of([&] { r.finish(); }), "f.json: /sede: unknown key: allowed keys here: seed");
}

TEST(JsonReader, ChoicesAndIntegers) {
  const auto doc = nlohmann::json::parse(R"({"algo": "rung", "n": 2.5, "k": 3})");
  JsonReader r(doc, "f.json");
  EXPECT_EQ(error_of([&] { r.choice("algo", {"ring", "tree"}); }),
            "f.json: /algo: \"rung\": expected one of \"ring\" | \"tree\"");
  EXPECT_EQ(error_of([&] { r.integer("n", 0, 10); }), "f.json: /n: 2.5: expected an integer in [0, 10]");
  EXPECT_EQ(r.integer("k", 0, 10), 3);
}

TEST(JsonReader, MalformedFileGivesLineAndColumn) {
  const std::string path = ::testing::TempDir() + "/malformed.json";
  FILE* f = std::fopen(path.c_str(), "w");
  std::fputs("{\n  \"seed\": 1,\n  }\n", f);
  std::fclose(f);
  const auto msg = error_of([&] { read_json_file(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("line 3, column 3"), std::string::npos) << msg;
}

}  // namespace
}  // namespace geotrain::sim
