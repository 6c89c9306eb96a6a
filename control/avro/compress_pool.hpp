// A small pool of output threads that compress Avro container blocks. A
// file writer submits each full block as a BlockJob and writes the jobs back
// in submission order once done (control/avro/container.hpp), so blocks are
// compressed in parallel and still land in order. The same threads run the
// plugins' merge tasks (TaskRunner), which go before queued blocks: the merge
// is what the blocks wait for. The pool's threads run at a lower CPU
// priority than the packet path, like the merge thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "control/avro/codec.hpp"
#include "plugins/plugin_api.hpp"

namespace privateer {

struct BlockJob {
  CodecSettings codec;
  std::vector<uint8_t> raw;       // the block's serialized records
  uint64_t records = 0;
  std::vector<uint8_t> packed;    // raw under codec, filled by the pool
  std::exception_ptr error;       // set instead when compression failed
  bool done = false;              // guarded by the pool's mutex
};

class CompressionPool : public TaskRunner {
 public:
  // `threads` >= 1; `nice` is added to each thread's CPU priority.
  explicit CompressionPool(unsigned threads, int nice = 5);
  ~CompressionPool() override;   // finishes the queued jobs, then joins
  CompressionPool(const CompressionPool&) = delete;
  CompressionPool& operator=(const CompressionPool&) = delete;

  // Queues `job` (not done); it must stay alive until wait() returned.
  void submit(BlockJob* job);
  // Blocks until `job` is done (compressed or failed).
  void wait(BlockJob* job);
  // True once `job` is done; never blocks on compression.
  bool done(BlockJob* job);
  // TaskRunner: task(0..n-1) on the pool's threads and the caller's.
  void run(size_t n, const std::function<void(size_t)>& task) override;
  unsigned threads() const { return static_cast<unsigned>(threads_.size()); }
  // Blocks compressed so far.
  uint64_t blocks() const;

 private:
  struct TaskBatch {
    const std::function<void(size_t)>* task;
    size_t n;
    size_t next = 0;      // next index to hand out
    size_t running = 0;   // indexes handed out and not finished
    std::exception_ptr error;
  };
  void thread_main();
  // Runs indexes of batch_ while there are any; called with mu_ held.
  void work_on_batch(std::unique_lock<std::mutex>& lock);

  mutable std::mutex mu_;
  std::condition_variable work_cv_;
  std::condition_variable done_cv_;
  std::deque<BlockJob*> queue_;
  TaskBatch* batch_ = nullptr;   // one merge's tasks at a time
  bool stop_ = false;
  uint64_t blocks_ = 0;
  int nice_;
  std::vector<std::thread> threads_;
};

}  // namespace privateer
