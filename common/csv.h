// The one CSV writer of the project (timeline.csv, sweep.csv, pareto.csv, utilization.csv,
// needed.csv, `geotrain summarize`): RFC 4180 cells, integers for counts, empty cells for nulls.
// It formats and quotes; it never touches files.
#pragma once
#include <concepts>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace geotrain::csv {

// One cell as RFC 4180 wants it: text holding a comma, a double quote, CR or LF is enclosed in
// double quotes, each inner double quote doubled; any other text is returned unchanged.
std::string quote(std::string_view text);

// A whole number as integer digits (no exponent, no ".0"); anything else (a fraction, or beyond
// 2^53, where doubles stop being exact integers) in the shortest text that reads back the same.
std::string count_text(double n);

// Whole numbers as count_text does, others in the shortest text that reads back to the same
// double (as results.json writes them).
std::string number_text(double v);

// Builds CSV text row by row: a header, then rows of exactly as many cells, each row ended by
// "\n". Cells are written with the methods below; every text cell goes through quote().
class Writer {
 public:
  // Writes the header row (names quoted like any text cell).
  explicit Writer(const std::vector<std::string>& columns);

  Writer& text(std::string_view s);                       // quoted when needed
  Writer& count(double n);                                // count_text
  template <std::integral T>
  Writer& integer(T n) { return cell(std::to_string(n)); }  // a count kept in an integer type
  Writer& number(double v);                               // number_text
  Writer& number(std::optional<double> v);                // number_text, or empty for null
  Writer& significant(double v, int digits);              // printf "%.<digits>g"
  Writer& significant(std::optional<double> v, int digits);  // ... or empty for null
  Writer& fixed(double v, int decimals);                  // printf "%.<decimals>f"
  Writer& empty();                                        // a null
  // Ends the row.  REQUIRES: exactly as many cells as header columns (checked: std::logic_error).
  void end_row();

  const std::string& str() const { return out_; }
  // The text written since the last take() (the header included the first time), which the
  // writer then forgets: a long table goes to a stream as it is built.  REQUIRES: between rows.
  std::string take();
  std::size_t columns() const { return columns_; }

 private:
  Writer& cell(std::string_view formatted);  // already quoted or numeric
  std::string out_;
  std::size_t columns_;
  std::size_t cells_in_row_ = 0;
};

}  // namespace geotrain::csv
