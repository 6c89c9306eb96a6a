#include "control/avro/compress_pool.hpp"

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <stdexcept>

namespace privateer {

CompressionPool::CompressionPool(unsigned threads, int nice) : nice_(nice) {
  if (threads == 0) throw std::invalid_argument("compression pool: needs at least one thread");
  threads_.reserve(threads);
  for (unsigned i = 0; i < threads; ++i) threads_.emplace_back([this] { thread_main(); });
}

CompressionPool::~CompressionPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void CompressionPool::submit(BlockJob* job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    job->done = false;
    job->error = nullptr;
    queue_.push_back(job);
  }
  work_cv_.notify_one();
}

void CompressionPool::wait(BlockJob* job) {
  std::unique_lock<std::mutex> lock(mu_);
  done_cv_.wait(lock, [job] { return job->done; });
}

bool CompressionPool::done(BlockJob* job) {
  std::lock_guard<std::mutex> lock(mu_);
  return job->done;
}

uint64_t CompressionPool::blocks() const {
  std::lock_guard<std::mutex> lock(mu_);
  return blocks_;
}

void CompressionPool::work_on_batch(std::unique_lock<std::mutex>& lock) {
  TaskBatch* b = batch_;
  while (b && b->next < b->n) {
    const size_t i = b->next++;
    ++b->running;
    lock.unlock();
    std::exception_ptr err;
    try {
      (*b->task)(i);
    } catch (...) {
      err = std::current_exception();
    }
    lock.lock();
    if (err && !b->error) b->error = err;
    if (--b->running == 0 && b->next == b->n) done_cv_.notify_all();
  }
}

void CompressionPool::run(size_t n, const std::function<void(size_t)>& task) {
  if (n == 0) return;
  TaskBatch b{&task, n, 0, 0, nullptr};
  std::unique_lock<std::mutex> lock(mu_);
  // One batch at a time (one merge thread); a second caller waits its turn.
  done_cv_.wait(lock, [this] { return batch_ == nullptr; });
  batch_ = &b;
  work_cv_.notify_all();
  work_on_batch(lock);
  done_cv_.wait(lock, [&b] { return b.next == b.n && b.running == 0; });
  batch_ = nullptr;
  done_cv_.notify_all();
  if (b.error) std::rethrow_exception(b.error);
}

void CompressionPool::thread_main() {
  pthread_setname_np(pthread_self(), "pvt-output");
  setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), nice_);
  BlockCompressor compressor;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    work_cv_.wait(lock, [this] { return stop_ || !queue_.empty() || (batch_ && batch_->next < batch_->n); });
    if (batch_ && batch_->next < batch_->n) {
      work_on_batch(lock);
      continue;
    }
    if (queue_.empty()) return;   // stop_ and nothing left
    BlockJob* job = queue_.front();
    queue_.pop_front();
    lock.unlock();
    std::exception_ptr err;
    try {
      compressor.compress(job->codec, job->raw.data(), job->raw.size(), job->packed);
    } catch (...) {
      err = std::current_exception();
    }
    lock.lock();
    job->error = err;
    job->done = true;
    ++blocks_;
    done_cv_.notify_all();
  }
}

}  // namespace privateer
