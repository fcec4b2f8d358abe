// Text for the language model: byte-level tokens (vocabulary 256) of the King James Bible from
// Debian's bible-kjv package, a tiny synthetic corpus for tests, the split into training and
// validation sequences by book, and the training sequences' shards per worker.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/dataset.h"
#include "runtime/rng.h"

namespace geotrain::runtime {

// Byte-level tokens: one token per byte of the text.
inline constexpr int kByteVocab = 256;
// What prints the whole KJV text (package bible-kjv); scripts/setup.sh writes it to a file.
inline constexpr const char* kKjvCommand = "bible -f gen1:1-rev22:21";

struct Book {
  std::string name;
  std::string text;
};

// Reads the output of kKjvCommand: one verse per line, "<book><chapter>:<verse> <text>" (book
// names such as "Ge", "1Sm", "Rev").  A book's text is its verses' texts, each followed by '\n'
// (the references are not part of the text).  Throws DataError (unreadable file, a line that is
// not a verse, no verse at all).
std::vector<Book> load_kjv(const std::string& path);

// `books` books of about `bytes_per_book` bytes each: lowercase words from a fixed list of 16,
// each word followed by the next one of the list with probability 0.75 and by a random one
// otherwise, a line break after every 12 words.  A fixed dataset: drawn from a fixed seed, the
// same on every machine and for every scenario seed.
std::vector<Book> make_synthetic_books(int books, std::size_t bytes_per_book);

struct TextSplitSpec {
  int seq_len = 0;                        // tokens a model reads per sequence
  int validation_books = 1;               // the last books of the corpus, held out
  std::size_t train_sequences = 0;        // 0: all; else that many, evenly spaced
  std::size_t validation_sequences = 32;  // evenly spaced over the held-out books
};

struct TextSplit {
  Dataset train, validation;              // rows of seq_len + 1 token ids, vocab kByteVocab
  std::vector<int> book_of_train;         // the book of each training sequence
  int train_books = 0;
};

// Cuts every book into sequences of seq_len + 1 tokens at a stride of seq_len (a sequence never
// crosses a book; a book's tail shorter than a sequence is dropped): the last validation_books
// books make the validation sequences, the others the training ones.  Throws DataError when
// either side has no sequence (books shorter than seq_len + 1 bytes) or when validation_books
// leaves no training book.
TextSplit make_text_split(const std::vector<Book>& books, const TextSplitSpec& spec);

// How the training sequences are dealt to workers.
enum class TextPartition {
  iid,         // a seeded shuffle, near-equal shards
  contiguous,  // worker k gets the k-th run of consecutive sequences (in corpus order)
  by_book,     // whole books, in corpus order, each to the worker with the fewest sequences so far
};

// One shard of training-sequence indices per worker.  Throws DataError when a worker would get
// no sequence (by_book: fewer training books than workers).
std::vector<std::vector<std::uint32_t>> make_text_shards(const TextSplit& split, int workers, TextPartition partition,
                                                         Rng& rng);

}  // namespace geotrain::runtime
