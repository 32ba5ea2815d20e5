#include "shard_run.hpp"

#include "../util.hpp"
#include "reflex/wait.hpp"

namespace reflex::rpatterns::detail {

ShardRun::ShardRun(ShardContext context, FencedShard shard,
                   std::chrono::milliseconds flush_interval, ShardSpecFunc make_spec,
                   RunForeverOptions restart, std::function<void()> on_exit)
    : on_exit_(std::move(on_exit)) {
  context.cursors = make_fenced_cursors(std::move(shard), flush_interval, [this] {
    fenced_ = true;
    stop_.request_stop();
  });
  thread_ = std::jthread(
      [this, make_spec = std::move(make_spec), restart = std::move(restart)](ShardContext context) {
        body(stop_.get_token(), std::move(context), make_spec, restart);
      },
      std::move(context));
}

ShardRun::~ShardRun() {
  stop_.request_stop();
  join();
}

void ShardRun::join() {
  if (thread_.joinable()) thread_.join();
}

void ShardRun::body(std::stop_token stop, ShardContext context, const ShardSpecFunc& make_spec,
                    const RunForeverOptions& restart) {
  const LogFunc log = or_stderr(restart.log);
  while (!stop.stop_requested()) {
    try {
      const Spec spec = make_spec(context);
      (void)run_forever(stop, spec, restart);
      break;  // stopped, or a to_head spec reached the head
    } catch (...) {
      // make_spec threw, or the spec is incomplete: a bug that waiting will not heal quickly.
      log_line(log, "reflex: shard \"" + context.name + "\" could not start, retrying in " +
                        std::to_string(restart.error_backoff.count()) +
                        "ms: " + describe(std::current_exception()));
      if (!sleep_for(stop, restart.error_backoff)) break;
    }
  }
  context = {};  // the cursor store ends here, before the coordinator hears of the exit
  finished_ = true;
  on_exit_();
}

}  // namespace reflex::rpatterns::detail
