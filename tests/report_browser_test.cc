// `geotrain report` pages in a real headless browser (Debian's chromium): each page loads with no
// console message and no script error, every SVG draws, and its screenshot is not blank (decoded
// here with zlib). Skipped, saying so, when chromium is not installed.
#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "report_test_util.h"

namespace {

namespace fs = std::filesystem;
using geotrain::testing::read_file;

constexpr int kWindowWidth = 1200, kWindowHeight = 2400;  // px: tall enough for the top charts of every page
constexpr int kBrowserTimeout_s = 120;

// The first of chromium / chromium-browser on PATH, or nothing.
std::optional<std::string> find_chromium() {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "");
  for (std::string dir; std::getline(dirs, dir, ':');)
    for (const char* name : {"chromium", "chromium-browser"})
      if (!dir.empty() && fs::exists(fs::path(dir) / name)) return (fs::path(dir) / name).string();
  return std::nullopt;
}

struct BrowserRun {
  int exit_code = -1;
  std::string out, err;
};

// Runs chromium headless on `page` with `mode` (--dump-dom or --screenshot=FILE), no network,
// a fresh profile, console messages logged to stderr.
BrowserRun browse(const std::string& chromium, const fs::path& page, const std::string& mode) {
  const fs::path scratch = geotrain::testing::fresh_dir("geotrain_browser");
  const std::string cmd = "timeout " + std::to_string(kBrowserTimeout_s) + " '" + chromium +
                          "' --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update "
                          "--disable-default-apps --disable-extensions --disable-sync --no-first-run --hide-scrollbars "
                          "--enable-logging=stderr --v=0 --user-data-dir='" + (scratch / "profile").string() + "' " +
                          "--window-size=" + std::to_string(kWindowWidth) + "," + std::to_string(kWindowHeight) + " " + mode +
                          " 'file://" + fs::absolute(page).string() + "' >'" + (scratch / "out").string() + "' 2>'" +
                          (scratch / "err").string() + "'";
  const int status = std::system(cmd.c_str());
  BrowserRun run{WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_file(scratch / "out"), read_file(scratch / "err")};
  fs::remove_all(scratch);  // the profile is megabytes
  return run;
}

struct Image {
  std::uint32_t width = 0, height = 0;
  std::vector<std::uint8_t> rgb;  // 3 bytes per pixel, rows top to bottom
};

std::uint32_t be32(const std::string& s, std::size_t at) {
  return (std::uint32_t(std::uint8_t(s[at])) << 24) | (std::uint32_t(std::uint8_t(s[at + 1])) << 16) |
         (std::uint32_t(std::uint8_t(s[at + 2])) << 8) | std::uint32_t(std::uint8_t(s[at + 3]));
}

int paeth(int a, int b, int c) {
  const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

// Decodes an 8-bit RGB or RGBA, non-interlaced PNG (what chromium writes).  Empty image and a
// message in `error` otherwise.
Image decode_png(const std::string& png, std::string& error) {
  Image img;
  if (png.size() < 33 || png.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0) {
    error = "not a PNG";
    return img;
  }
  std::string idat;
  int channels = 0;
  for (std::size_t at = 8; at + 12 <= png.size();) {
    const std::uint32_t len = be32(png, at);
    const std::string type = png.substr(at + 4, 4);
    if (type == "IHDR") {
      img.width = be32(png, at + 8), img.height = be32(png, at + 12);
      const int depth = std::uint8_t(png[at + 16]), colour = std::uint8_t(png[at + 17]), interlace = std::uint8_t(png[at + 20]);
      channels = colour == 2 ? 3 : colour == 6 ? 4 : 0;
      if (depth != 8 || channels == 0 || interlace != 0) {
        error = "unsupported PNG format (expected 8-bit RGB or RGBA, not interlaced)";
        return Image{};
      }
    } else if (type == "IDAT") {
      idat += png.substr(at + 8, len);
    }
    at += 12 + len;
  }
  const std::size_t stride = std::size_t(img.width) * channels;
  std::vector<std::uint8_t> raw((stride + 1) * img.height);
  uLongf raw_size = raw.size();
  if (uncompress(raw.data(), &raw_size, reinterpret_cast<const Bytef*>(idat.data()), idat.size()) != Z_OK || raw_size != raw.size()) {
    error = "corrupt PNG data";
    return Image{};
  }
  std::vector<std::uint8_t> prev(stride, 0), cur(stride);
  for (std::uint32_t y = 0; y < img.height; ++y) {
    const std::uint8_t filter = raw[y * (stride + 1)];
    for (std::size_t i = 0; i < stride; ++i) {
      const int x = raw[y * (stride + 1) + 1 + i], a = i >= std::size_t(channels) ? cur[i - channels] : 0, b = prev[i],
                c = i >= std::size_t(channels) ? prev[i - channels] : 0;
      const int pred = filter == 0 ? 0 : filter == 1 ? a : filter == 2 ? b : filter == 3 ? (a + b) / 2 : paeth(a, b, c);
      cur[i] = std::uint8_t(x + pred);
    }
    for (std::size_t p = 0; p < img.width; ++p)
      for (int k = 0; k < 3; ++k) img.rgb.push_back(cur[p * channels + k]);
    prev.swap(cur);
  }
  return img;
}

// Pixels within `tolerance` of colour (r, g, b) on every channel.
std::size_t pixels_near(const Image& img, int r, int g, int b, int tolerance = 24) {
  std::size_t n = 0;
  for (std::size_t i = 0; i + 2 < img.rgb.size(); i += 3)
    n += std::abs(img.rgb[i] - r) <= tolerance && std::abs(img.rgb[i + 1] - g) <= tolerance && std::abs(img.rgb[i + 2] - b) <= tolerance;
  return n;
}

std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// Loads DIR/report.html in chromium twice (DOM, screenshot) and checks both.
void check_in_browser(const std::string& chromium, const fs::path& dir) {
  const fs::path page = dir / "report.html";
  const std::string html = read_file(page);
  ASSERT_FALSE(html.empty()) << page;
  const BrowserRun dom = browse(chromium, page, "--dump-dom");
  ASSERT_EQ(dom.exit_code, 0) << dom.err;
  const auto console = dom.err.find(":CONSOLE");  // chromium logs every console message this way; the page logs none
  EXPECT_EQ(console, std::string::npos) << "console message: " << dom.err.substr(dom.err.rfind('\n', console) + 1, 300);
  EXPECT_NE(dom.out.find("data-js-errors=\"0\""), std::string::npos) << "the self-check did not run, or a script failed";
  const std::string svgs = std::to_string(count_of(html, "<svg "));
  EXPECT_NE(dom.out.find("data-svg-count=\"" + svgs + "\""), std::string::npos) << "expected " << svgs << " SVGs";
  EXPECT_NE(dom.out.find("data-svg-drawn=\"" + svgs + "\""), std::string::npos) << "an SVG drew nothing";

  const fs::path png = dir / "screenshot.png";
  const BrowserRun shot = browse(chromium, page, "--screenshot='" + png.string() + "'");
  ASSERT_EQ(shot.exit_code, 0) << shot.err;
  std::string error;
  const Image img = decode_png(read_file(png), error);
  ASSERT_TRUE(error.empty()) << png << ": " << error;
  EXPECT_EQ(img.width, std::uint32_t(kWindowWidth));
  EXPECT_EQ(img.height, std::uint32_t(kWindowHeight));
  const std::size_t pixels = std::size_t(img.width) * img.height;
  const std::size_t white = pixels_near(img, 255, 255, 255, 3);
  EXPECT_GT(pixels - white, pixels / 50) << "screenshot " << png << " is (almost) blank";
  EXPECT_GT(pixels_near(img, 0x00, 0x72, 0xB2), 50u) << "no palette blue (#0072B2) drawn in " << png;
  EXPECT_GT(pixels_near(img, 0xE6, 0x9F, 0x00), 50u) << "no palette orange (#E69F00) drawn in " << png;
}

class ReportBrowser : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto found = find_chromium();
    if (!found) GTEST_SKIP() << "chromium is not installed (scripts/setup.sh installs it): browser check of report.html skipped";
    chromium_ = *found;
  }
  std::string chromium_;
};

TEST_F(ReportBrowser, SizeOnlyRunPageLoadsCleanAndDraws) {
  const fs::path run = geotrain::testing::make_size_only_run(geotrain::testing::fresh_dir("geotrain_browser_run"));
  ASSERT_EQ(geotrain::testing::run_geotrain("report '" + run.string() + "'").exit_code, 0);
  check_in_browser(chromium_, run);
}

TEST_F(ReportBrowser, RealTrainingRunPageLoadsCleanAndDraws) {
  const fs::path run = geotrain::testing::make_real_run(geotrain::testing::fresh_dir("geotrain_browser_real"));
  ASSERT_EQ(geotrain::testing::run_geotrain("report '" + run.string() + "'").exit_code, 0);
  check_in_browser(chromium_, run);
}

TEST_F(ReportBrowser, SweepPageLoadsCleanAndDraws) {
  const fs::path sweep = geotrain::testing::make_sweep(geotrain::testing::fresh_dir("geotrain_browser_sweep"));
  ASSERT_EQ(geotrain::testing::run_geotrain("report '" + sweep.string() + "'").exit_code, 0);
  check_in_browser(chromium_, sweep);
}

}  // namespace
