#include "control/signals.hpp"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "control/log.hpp"

namespace privateer {
namespace {

sigset_t watched_signals() {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGINT);
  sigaddset(&s, SIGTERM);
  sigaddset(&s, SIGHUP);
  sigaddset(&s, SIGUSR1);
  return s;
}

const char* signal_name(int signo) {
  switch (signo) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
    case SIGUSR1: return "SIGUSR1";
  }
  return "a signal";
}

void reopen_log() {
  if (log_target() != LogTarget::file) {
    log_info("received SIGHUP: not logging to a file, nothing to reopen (ignored)");
    return;
  }
  log_info("received SIGHUP: reopening the log file");
  std::string error;
  if (log_reopen(&error)) {
    log_info("log file reopened (SIGHUP)");
  } else {
    log_error("received SIGHUP: " + error + "; still logging to the file open before");
  }
}

}  // namespace

SignalWatcher::SignalWatcher() {
  const sigset_t s = watched_signals();
  pthread_sigmask(SIG_BLOCK, &s, nullptr);
  signal_fd_ = signalfd(-1, &s, SFD_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_CLOEXEC);
  if (signal_fd_ < 0 || wake_fd_ < 0) {
    const int e = errno;
    if (signal_fd_ >= 0) close(signal_fd_);
    if (wake_fd_ >= 0) close(wake_fd_);
    throw std::runtime_error(std::string("cannot watch signals: ") + std::strerror(e));
  }
  thread_ = std::thread([this] { watch(); });
}

SignalWatcher::~SignalWatcher() {
  const uint64_t one = 1;
  if (write(wake_fd_, &one, sizeof one) != sizeof one) {
    // An eventfd write fails only when its counter is full: watch() is awake.
  }
  thread_.join();
  close(signal_fd_);
  close(wake_fd_);
}

void SignalWatcher::watch() {
  pthread_setname_np(pthread_self(), "pvt-signals");
  for (;;) {
    pollfd fds[2] = {{signal_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      log_error(std::string("signal watcher: poll failed: ") + std::strerror(errno));
      return;
    }
    if (fds[1].revents) return;
    signalfd_siginfo si;
    if (read(signal_fd_, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) take(static_cast<int>(si.ssi_signo));
  }
}

void SignalWatcher::take(int signo) {
  if (signo == SIGHUP) {
    reopen_log();
    std::lock_guard<std::mutex> lock(mu_);
    if (reload_) reload_();
    return;
  }
  std::unique_lock<std::mutex> lock(mu_);
  if (signo == SIGUSR1) {
    if (counters_) counters_();
    else log_info("received SIGUSR1: no counters yet (starting up) or any more (run over)");
    return;
  }
  if (stop_signal_) {
    // The run did not stop after the first one: an input that sends nothing
    // (a FIFO or stdin held open), a hung device. Leave now.
    log_error(std::string("received ") + signal_name(signo) + " while stopping (after " + signal_name(stop_signal_) +
              "): exiting at once (the open interval is lost; files being written keep their .tmp names)");
    std::_Exit(128 + signo);
  }
  stop_signal_ = signo;
  log_info(std::string("received ") + signal_name(signo) + ": stopping (" + signal_name(signo) +
           " again exits at once)");
  if (stop_) {
    stop_called_ = true;
    stop_();
  }
  stopped_.notify_all();
}

void SignalWatcher::on_run(std::function<void()> stop, std::function<void()> counters) {
  std::lock_guard<std::mutex> lock(mu_);
  stop_ = std::move(stop);
  counters_ = std::move(counters);
  if (stop_signal_ && !stop_called_ && stop_) {
    stop_called_ = true;
    stop_();
  }
}

void SignalWatcher::on_reload(std::function<void()> reload) {
  std::lock_guard<std::mutex> lock(mu_);
  reload_ = std::move(reload);
}

void SignalWatcher::clear() {
  std::lock_guard<std::mutex> lock(mu_);
  reload_ = nullptr;
  stop_ = nullptr;
  counters_ = nullptr;
}

int SignalWatcher::stop_signal() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stop_signal_;
}

bool SignalWatcher::wait_for_stop(double seconds) {
  std::unique_lock<std::mutex> lock(mu_);
  return stopped_.wait_for(lock, std::chrono::duration<double>(seconds), [this] { return stop_signal_ != 0; });
}

}  // namespace privateer
