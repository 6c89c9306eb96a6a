// TableRecycler<Table>: brings a worker's table back to it once the merge
// (on the control plane) has read and emptied it, so that the worker starts
// each interval on memory already faulted in (page faults on a fresh table
// of hundreds of MiB cost more than the packets).
//
// One spare, handed over by atomic exchange: put() and take() may run on
// different threads at the same time. A worker shares the recycler (e.g. by
// shared_ptr) with the results it hands out, so that a result outliving its
// worker still has somewhere to put its table (it is freed with the
// recycler).
//
// Table needs: a constructor from a capacity (`Table(size_t)`), move
// construction, and capacity() / size() (FlatTable has them).
#pragma once

#include <atomic>
#include <cstddef>
#include <utility>

namespace privateer {

template <class Table>
class TableRecycler {
 public:
  TableRecycler() = default;
  TableRecycler(const TableRecycler&) = delete;
  TableRecycler& operator=(const TableRecycler&) = delete;
  ~TableRecycler() { delete spare_.load(std::memory_order_acquire); }

  // Offers an emptied table (size() 0) as the spare; it replaces (and frees)
  // a spare not taken yet. A table that is not empty, or has no slots (moved
  // from), is freed instead.
  void put(Table&& t) {
    if (t.size() != 0 || t.capacity() == 0) {
      Table drop(std::move(t));
      return;
    }
    Table* fresh = new Table(std::move(t));
    delete spare_.exchange(fresh, std::memory_order_acq_rel);
  }

  // The spare when it has exactly `capacity` slots (and is empty), else a
  // new Table(capacity); a spare of another size is freed.
  Table take(size_t capacity) {
    Table* s = spare_.exchange(nullptr, std::memory_order_acq_rel);
    if (s && s->capacity() == capacity && s->size() == 0) {
      Table t(std::move(*s));
      delete s;
      return t;
    }
    delete s;
    return Table(capacity);
  }

  // Whether a spare is waiting (for tests; racy by nature).
  bool has_spare() const { return spare_.load(std::memory_order_acquire) != nullptr; }

 private:
  std::atomic<Table*> spare_{nullptr};
};

}  // namespace privateer
