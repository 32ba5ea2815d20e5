#include "supervised_stream.hpp"

#include <string>

#include "reflex/errors.hpp"

namespace reflex::rpatterns::detail {

namespace {

struct RequestStop {
  std::stop_source source;
  void operator()() noexcept { source.request_stop(); }
};

class SupervisedClient final : public StreamClient {
 public:
  SupervisedClient(const StreamFunc& inner, const StartWork& start, std::stop_token run_stop,
                   std::string_view after, const StreamOptions& options)
      : run_stop_(run_stop),
        link_(run_stop, RequestStop{wake_}),
        work_(start(run_stop, wake_)),
        client_(inner(wake_.get_token(), after, options)) {
    if (!work_) throw Error("rpatterns: a pattern started no work for its stream");
    if (!client_) throw Error("rpatterns: the wrapped stream function returned null");
  }

  Event recv() override {
    if (auto failure = work_->failure()) std::rethrow_exception(failure);
    try {
      return client_->recv();
    } catch (const HeadReached&) {
      if (auto failure = work_->failure()) std::rethrow_exception(failure);
      work_->drain(run_stop_);
      if (auto failure = work_->failure()) std::rethrow_exception(failure);
      throw;
    } catch (...) {
      if (auto failure = work_->failure()) std::rethrow_exception(failure);
      throw;
    }
  }

  std::optional<std::uint64_t> remaining() const override { return client_->remaining(); }

 private:
  // Destroyed in reverse: the source first, then the work (joining its threads), then the link.
  std::stop_token run_stop_;
  std::stop_source wake_;
  std::stop_callback<RequestStop> link_;
  std::unique_ptr<RunWork> work_;
  std::unique_ptr<StreamClient> client_;
};

}  // namespace

StreamFunc supervised(StreamFunc inner, StartWork start) {
  if (!inner) throw ConfigError("rpatterns: the spec's stream function is empty");
  return [inner = std::move(inner), start = std::move(start)](
             std::stop_token stop, std::string_view after,
             const StreamOptions& options) -> std::unique_ptr<StreamClient> {
    return std::make_unique<SupervisedClient>(inner, start, std::move(stop), after, options);
  };
}

}  // namespace reflex::rpatterns::detail
