#include "session_pool.hpp"

namespace reflex::rsql::detail {

SessionPool::Lease SessionPool::lease() {
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      auto session = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(session), true);
    }
  }
  return Lease(this, driver_->connect(), false);
}

void SessionPool::give_back(std::unique_ptr<Session> session) {
  if (session->broken()) return;
  std::lock_guard lock(mutex_);
  if (idle_.size() < max_idle_) idle_.push_back(std::move(session));
}

}  // namespace reflex::rsql::detail
