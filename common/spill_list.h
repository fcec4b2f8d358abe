// A list of records that a long run appends to and reads once at its end (timeline rows, WAN
// counter changes): the first `in_memory` of them stay in memory, and from then on each time that
// many have gathered they go to an unnamed temporary file as one run.  So memory stays bounded
// however long the run, and short runs never touch the disk.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <queue>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace geotrain::common {

// An unnamed file in $TMPDIR (or /tmp): removed as soon as it is created, gone when closed.
// Errors (a full disk) throw std::runtime_error naming the file's folder and the system's reason.
class TempFile {
 public:
  TempFile();
  ~TempFile();
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  void append(const void* data, std::size_t bytes);
  void read(std::uint64_t offset, void* data, std::size_t bytes) const;

 private:
  int fd_ = -1;
  std::uint64_t size_ = 0;
  std::string folder_;
};

template <class T>
class SpillList {
  static_assert(std::is_trivially_copyable_v<T>, "records go to the file as their bytes");

 public:
  // A strict weak order of the records, or nullptr: then they are read back in the order added.
  using Order = bool (*)(const T&, const T&);
  explicit SpillList(std::size_t in_memory, Order order = nullptr)
      : in_memory_(std::max<std::size_t>(1, in_memory)), order_(order) {}

  void push_back(const T& record) {
    if (tail_.size() == in_memory_) spill();
    tail_.push_back(record);
  }
  std::size_t size() const { return spilled_ + tail_.size(); }
  bool empty() const { return size() == 0; }
  // The last record added, in memory (a spill happens before an addition, never after it).
  T& back() { return tail_.back(); }
  const T& back() const { return tail_.back(); }
  // True when some records went to the file.
  bool spilled() const { return spilled_ > 0; }
  // Why records could not go to the file (a full disk), or "".  From the first failure on, the
  // records that would have gone there are dropped, so memory stays bounded; the owner must then
  // treat the list as lost (a run reports the failure instead of results).
  const std::string& failure() const { return failure_; }

  // Visits every record: in the order added, or with an Order, sorted by it and stable (records
  // that compare equal in the order added: what std::stable_sort of them all would give).
  template <class Visit>
  void for_each(Visit&& visit) const {
    if (!order_) {
      std::vector<T> block;
      std::uint64_t offset = 0;
      for (const std::size_t length : runs_) {
        for (std::size_t done = 0; done < length;) {
          const std::size_t n = std::min(kReadBlock, length - done);
          block.resize(n);
          file_->read(offset, block.data(), n * sizeof(T));
          for (const T& r : block) visit(r);
          offset += n * sizeof(T);
          done += n;
        }
      }
      for (const T& r : tail_) visit(r);
      return;
    }
    std::vector<T> tail = tail_;
    std::stable_sort(tail.begin(), tail.end(), order_);
    if (runs_.empty()) {
      for (const T& r : tail) visit(r);
      return;
    }
    merge(tail, visit);
  }

 private:
  static constexpr std::size_t kReadBlock = 4096;  // records read at a time from each run

  void spill() {
    if (failure_.empty()) {
      try {
        if (order_) std::stable_sort(tail_.begin(), tail_.end(), order_);
        if (!file_) file_ = std::make_unique<TempFile>();
        file_->append(tail_.data(), tail_.size() * sizeof(T));
        runs_.push_back(tail_.size());
        spilled_ += tail_.size();
      } catch (const std::exception& e) {
        failure_ = e.what();
      }
    }
    tail_.clear();
  }

  // The runs (each sorted, in the order written) and the sorted tail merged: the smallest head
  // first, the earlier run on ties, which keeps the merge stable.
  template <class Visit>
  void merge(const std::vector<T>& tail, Visit& visit) const {
    struct Cursor {
      std::uint64_t offset = 0;     // of the next record still in the file
      std::size_t left_in_file = 0;
      std::vector<T> block;
      std::size_t at = 0;           // in block
    };
    std::vector<Cursor> cursors(runs_.size() + 1);
    std::uint64_t offset = 0;
    for (std::size_t i = 0; i < runs_.size(); ++i) {
      cursors[i].offset = offset;
      cursors[i].left_in_file = runs_[i];
      offset += runs_[i] * sizeof(T);
    }
    cursors.back().block = tail;
    const auto refill = [this](Cursor& c) {
      const std::size_t n = std::min(kReadBlock, c.left_in_file);
      c.block.resize(n);
      c.at = 0;
      if (n == 0) return;
      file_->read(c.offset, c.block.data(), n * sizeof(T));
      c.offset += n * sizeof(T);
      c.left_in_file -= n;
    };
    for (std::size_t i = 0; i + 1 < cursors.size(); ++i) refill(cursors[i]);
    // A heap of cursor indices; the top is the cursor whose head comes first.
    const auto later = [&](std::size_t a, std::size_t b) {
      const T& x = cursors[a].block[cursors[a].at];
      const T& y = cursors[b].block[cursors[b].at];
      if (order_(y, x)) return true;
      if (order_(x, y)) return false;
      return a > b;
    };
    std::priority_queue<std::size_t, std::vector<std::size_t>, decltype(later)> heads(later);
    for (std::size_t i = 0; i < cursors.size(); ++i)
      if (!cursors[i].block.empty()) heads.push(i);
    while (!heads.empty()) {
      const std::size_t i = heads.top();
      heads.pop();
      Cursor& c = cursors[i];
      visit(c.block[c.at]);
      if (++c.at == c.block.size()) refill(c);
      if (c.at < c.block.size()) heads.push(i);
    }
  }

  std::size_t in_memory_;
  Order order_;
  std::vector<T> tail_;
  std::vector<std::size_t> runs_;  // records per run, in the order written
  std::size_t spilled_ = 0;
  std::unique_ptr<TempFile> file_;
  std::string failure_;
};

}  // namespace geotrain::common
