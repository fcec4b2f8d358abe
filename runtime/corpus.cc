// Corpora, the split by book and the shards of training sequences.
#include "runtime/corpus.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <fstream>
#include <numeric>

namespace geotrain::runtime {
namespace {

// "<book><chapter>:<verse> <text>" -> book and text; false when the line is not a verse.
bool parse_verse(const std::string& line, std::string& book, std::string& text) {
  std::size_t i = 0;
  if (i < line.size() && std::isdigit(static_cast<unsigned char>(line[i]))) ++i;  // "1Sm", "2Chr"
  const std::size_t letters = i;
  while (i < line.size() && std::isalpha(static_cast<unsigned char>(line[i]))) ++i;
  if (i == letters) return false;
  book = line.substr(0, i);
  const std::size_t chapter = i;
  while (i < line.size() && std::isdigit(static_cast<unsigned char>(line[i]))) ++i;
  if (i == chapter || i >= line.size() || line[i] != ':') return false;
  const std::size_t verse = ++i;
  while (i < line.size() && std::isdigit(static_cast<unsigned char>(line[i]))) ++i;
  if (i == verse || i >= line.size() || line[i] != ' ') return false;
  text = line.substr(i + 1);
  return true;
}

// Appends the sequences of seq_len + 1 tokens of `text` (stride seq_len) to `out`'s rows.
std::size_t append_sequences(Dataset& out, const std::string& text, int seq_len) {
  std::size_t count = 0;
  for (std::size_t start = 0; start + seq_len + 1 <= text.size(); start += static_cast<std::size_t>(seq_len)) {
    for (int i = 0; i <= seq_len; ++i) out.x.push_back(static_cast<float>(static_cast<unsigned char>(text[start + i])));
    ++count;
  }
  return count;
}

// Keeps `keep` of `n` rows (0 or >= n: all), evenly spaced: rows floor(k n / keep).
std::vector<std::size_t> evenly_spaced(std::size_t n, std::size_t keep) {
  if (keep == 0 || keep >= n) keep = n;
  std::vector<std::size_t> rows(keep);
  for (std::size_t k = 0; k < keep; ++k) rows[k] = k * n / keep;
  return rows;
}

Dataset select_rows(const Dataset& all, const std::vector<std::size_t>& rows) {
  Dataset d;
  d.features = all.features;
  d.vocab = all.vocab;
  d.x.reserve(rows.size() * static_cast<std::size_t>(all.features));
  for (const std::size_t r : rows)
    d.x.insert(d.x.end(), all.x.begin() + static_cast<std::ptrdiff_t>(r * all.features),
               all.x.begin() + static_cast<std::ptrdiff_t>((r + 1) * all.features));
  return d;
}

}  // namespace

std::vector<Book> load_kjv(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw DataError("cannot read the corpus " + path + "; make it with `" + std::string(kKjvCommand) + " > " + path +
                    "` (Debian package bible-kjv; scripts/setup.sh does this)");
  std::vector<Book> books;
  std::string line, book, text;
  long number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    if (!parse_verse(line, book, text))
      throw DataError(path + ":" + std::to_string(number) + ": expected a verse \"<book><chapter>:<verse> <text>\" as `" +
                      kKjvCommand + "` prints it");
    if (books.empty() || books.back().name != book) books.push_back({book, ""});
    books.back().text += text;
    books.back().text += '\n';
  }
  if (books.empty()) throw DataError("the corpus " + path + " holds no verse; make it with `" + kKjvCommand + " > " + path + "`");
  return books;
}

std::vector<Book> make_synthetic_books(int books, std::size_t bytes_per_book) {
  constexpr std::uint64_t kSeed = 20;
  static const std::array<const char*, 16> kWords = {"in",   "the",  "light", "of",   "day",  "and", "night",
                                                    "shall", "come", "unto",  "them", "all", "who",  "seek",
                                                    "bread", "here"};
  constexpr double kFollow = 0.75;
  constexpr int kWordsPerLine = 12;
  Rng rng = Rng::substream(kSeed, "synthetic-text");
  std::vector<Book> out;
  for (int b = 0; b < books; ++b) {
    Book book{"book" + std::to_string(b), ""};
    std::size_t word = rng.below(kWords.size());
    for (int n = 1; book.text.size() < bytes_per_book; ++n) {
      book.text += kWords[word];
      book.text += n % kWordsPerLine == 0 ? '\n' : ' ';
      word = rng.uniform() < kFollow ? (word + 1) % kWords.size() : rng.below(kWords.size());
    }
    out.push_back(std::move(book));
  }
  return out;
}

TextSplit make_text_split(const std::vector<Book>& books, const TextSplitSpec& spec) {
  const int held_out = spec.validation_books;
  if (held_out < 1 || held_out >= static_cast<int>(books.size()))
    throw DataError("validation_books " + std::to_string(held_out) + " must leave at least one of the corpus's " +
                    std::to_string(books.size()) + " books for training and hold out at least one");
  TextSplit split;
  Dataset train, validation;
  train.features = validation.features = spec.seq_len + 1;
  train.vocab = validation.vocab = kByteVocab;
  std::vector<int> book_of;
  split.train_books = static_cast<int>(books.size()) - held_out;
  for (int b = 0; b < static_cast<int>(books.size()); ++b) {
    if (b < split.train_books) book_of.insert(book_of.end(), append_sequences(train, books[b].text, spec.seq_len), b);
    else append_sequences(validation, books[b].text, spec.seq_len);
  }
  if (train.size() == 0 || validation.size() == 0)
    throw DataError("no " + std::string(train.size() == 0 ? "training" : "validation") + " sequence of " +
                    std::to_string(spec.seq_len + 1) + " tokens: the " +
                    (train.size() == 0 ? "training" : "held-out") + " books are shorter than that");
  const auto train_rows = evenly_spaced(train.size(), spec.train_sequences);
  split.train = select_rows(train, train_rows);
  for (const std::size_t r : train_rows) split.book_of_train.push_back(book_of[r]);
  split.validation = select_rows(validation, evenly_spaced(validation.size(), spec.validation_sequences));
  return split;
}

std::vector<std::vector<std::uint32_t>> make_text_shards(const TextSplit& split, int workers, TextPartition partition,
                                                         Rng& rng) {
  const std::size_t n = split.train.size();
  if (n < static_cast<std::size_t>(workers))
    throw DataError(std::to_string(n) + " training sequences cannot give each of " + std::to_string(workers) +
                    " workers one");
  std::vector<std::vector<std::uint32_t>> shards(static_cast<std::size_t>(workers));
  if (partition == TextPartition::by_book) {
    if (split.train_books < workers)
      throw DataError("partition by_book deals whole books, and " + std::to_string(split.train_books) +
                      " training books cannot give each of " + std::to_string(workers) + " workers one");
    for (std::size_t i = 0; i < n;) {
      const int book = split.book_of_train[i];
      auto& smallest = *std::min_element(shards.begin(), shards.end(),
                                         [](const auto& a, const auto& b) { return a.size() < b.size(); });
      for (; i < n && split.book_of_train[i] == book; ++i) smallest.push_back(static_cast<std::uint32_t>(i));
    }
    for (const auto& s : shards)
      if (s.empty()) throw DataError("partition by_book left a worker without a sequence (too few books with sequences)");
    return shards;
  }
  std::vector<std::uint32_t> idx(n);
  std::iota(idx.begin(), idx.end(), 0u);
  if (partition == TextPartition::iid)
    for (std::size_t i = n; i > 1; --i) std::swap(idx[i - 1], idx[rng.below(i)]);  // Fisher-Yates
  for (int w = 0; w < workers; ++w) {
    const std::size_t begin = n * w / workers, end = n * (w + 1) / workers;
    shards[w].assign(idx.begin() + static_cast<std::ptrdiff_t>(begin), idx.begin() + static_cast<std::ptrdiff_t>(end));
  }
  return shards;
}

}  // namespace geotrain::runtime
