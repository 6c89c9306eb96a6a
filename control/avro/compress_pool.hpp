// A small pool of output threads that compress Avro container blocks. A
// file writer submits each full block as a BlockJob and writes the jobs back
// in submission order once done (control/avro/container.hpp), so blocks are
// compressed in parallel and still land in order. The pool's threads run at
// a lower CPU priority than the packet path, like the merge thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "control/avro/codec.hpp"

namespace privateer {

struct BlockJob {
  CodecSettings codec;
  std::vector<uint8_t> raw;       // the block's serialized records
  uint64_t records = 0;
  std::vector<uint8_t> packed;    // raw under codec, filled by the pool
  std::exception_ptr error;       // set instead when compression failed
  bool done = false;              // guarded by the pool's mutex
};

class CompressionPool {
 public:
  // `threads` >= 1; `nice` is added to each thread's CPU priority.
  explicit CompressionPool(unsigned threads, int nice = 5);
  ~CompressionPool();   // finishes the queued jobs, then joins
  CompressionPool(const CompressionPool&) = delete;
  CompressionPool& operator=(const CompressionPool&) = delete;

  // Queues `job` (not done); it must stay alive until wait() returned.
  void submit(BlockJob* job);
  // Blocks until `job` is done (compressed or failed).
  void wait(BlockJob* job);
  // True once `job` is done; never blocks on compression.
  bool done(BlockJob* job);
  unsigned threads() const { return static_cast<unsigned>(threads_.size()); }
  // Blocks compressed so far.
  uint64_t blocks() const;

 private:
  void run();

  mutable std::mutex mu_;
  std::condition_variable work_cv_;
  std::condition_variable done_cv_;
  std::deque<BlockJob*> queue_;
  bool stop_ = false;
  uint64_t blocks_ = 0;
  int nice_;
  std::vector<std::thread> threads_;
};

}  // namespace privateer
