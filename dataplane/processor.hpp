// What a worker runs for each plugin: per-worker state fed packet by packet,
// closed into an interval result that the control plane merges.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "dataplane/packet.hpp"

namespace privateer {

class FlowTable;

// One plugin's result for one interval from one worker. Plugins derive their
// own; the control plane hands all workers' results back to the plugin's merge.
class IntervalResult {
 public:
  virtual ~IntervalResult() = default;
};

// Per-worker, per-plugin state. Called from one worker thread only; must not
// lock, allocate per packet, or make system calls.
class WorkerProcessor {
 public:
  virtual ~WorkerProcessor() = default;
  // A burst of decoded packets; data[i] points at the captured bytes of views[i].
  virtual void process(const PacketView* views, const uint8_t* const* data, size_t n) = 0;
  // Closes the interval that started at `interval_start` (unix seconds) and
  // returns what was gathered in it; the state starts the next one empty.
  virtual std::unique_ptr<IntervalResult> end_interval(uint64_t interval_start) = 0;
  // Where the run keeps flows, before any packet: the worker's flow table
  // (views carry their flow; see dataplane/flow_table.hpp) and the id of the
  // plugin's first alarm reason (its reasons are first_alarm, first_alarm + 1, ...).
  virtual void attach_flows(FlowTable& table, unsigned first_alarm) {
    (void)table;
    (void)first_alarm;
  }
  // The worker has nothing to do and has processed every packet the
  // dispatcher read before one of packet time `ts_ns` (a time that only
  // grows; on a time-ordered input nothing older is to come). Called while
  // the worker waits, when the time moved; a plugin handing packets on in
  // time order (wdcap) lets its reader go on without waiting for this
  // worker. Not called where workers read their own queues.
  virtual void idle(uint64_t ts_ns) { (void)ts_ns; }
};

}  // namespace privateer
