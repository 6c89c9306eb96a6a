#include "control/avro/compress_pool.hpp"

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <stdexcept>

namespace privateer {

CompressionPool::CompressionPool(unsigned threads, int nice) : nice_(nice) {
  if (threads == 0) throw std::invalid_argument("compression pool: needs at least one thread");
  threads_.reserve(threads);
  for (unsigned i = 0; i < threads; ++i) threads_.emplace_back([this] { run(); });
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

void CompressionPool::run() {
  pthread_setname_np(pthread_self(), "pvt-compress");
  setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), nice_);
  BlockCompressor compressor;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    work_cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
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
