// The signals operators send, taken on a thread of their own through a
// signalfd (no signal handler runs: nothing is done in signal context):
//  - SIGINT, SIGTERM: the first asks the run to stop (the open interval is
//    closed as partial); a second one while it stops exits at once;
//  - SIGHUP: reopens the log file (logrotate's `postrotate kill -HUP`), then
//    asks for a reload of the tag tables when the run has any (on_reload());
//  - SIGUSR1: logs the run's counters.
// They are served in every state, start-up and the end of the run included.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace privateer {

class SignalWatcher {
 public:
  // Blocks the four signals in the calling thread (so in every thread it
  // starts afterwards: construct this before any other thread exists) and
  // starts watching. Throws std::runtime_error when the signalfd cannot be made.
  SignalWatcher();
  // Stops watching; the signals stay blocked (ignored until exit).
  ~SignalWatcher();
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

  // What the first SIGINT/SIGTERM does once the run is under way (run at
  // once if one came before), and what SIGUSR1 logs. Both run on the
  // watcher's thread; clear() drops them (a call under way finishes first):
  // call it before the objects they use are destroyed.
  void on_run(std::function<void()> stop, std::function<void()> counters);
  // What SIGHUP does after reopening the log (on the watcher's thread: it
  // should only hand the work over). Dropped by clear() too.
  void on_reload(std::function<void()> reload);
  void clear();

  // The first SIGINT/SIGTERM received (0: none yet).
  int stop_signal() const;
  // Waits until a SIGINT/SIGTERM has come or `seconds` have passed; true for a signal.
  bool wait_for_stop(double seconds);

 private:
  void watch();
  void take(int signo);

  int signal_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: ends watch()
  mutable std::mutex mu_;
  std::condition_variable stopped_;
  int stop_signal_ = 0;
  bool stop_called_ = false;
  std::function<void()> stop_;
  std::function<void()> counters_;
  std::function<void()> reload_;
  std::thread thread_;
};

}  // namespace privateer
