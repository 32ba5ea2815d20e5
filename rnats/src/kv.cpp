#include "reflex/rnats/kv.hpp"

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <set>
#include <thread>

#include "access.hpp"
#include "codec.hpp"
#include "connection_state.hpp"
#include "kv_state.hpp"
#include "reflex/encoding.hpp"
#include "reflex/errors.hpp"
#include "reflex/rnats/errors.hpp"
#include "status.hpp"

namespace reflex::rnats {

namespace detail {

namespace {

bool key_char(char c, bool pattern) {
  const auto u = static_cast<unsigned char>(c);
  if ((u >= '0' && u <= '9') || (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z')) return true;
  switch (c) {
    case '-':
    case '_':
    case '/':
    case '\\':
    case '=':
    case '.':
      return true;
    case '*':
    case '>':
      return pattern;
    default:
      return false;
  }
}

}  // namespace

void check_key(std::string_view key, const std::string& bucket, bool pattern) {
  const auto fail = [&](const std::string& why) {
    throw ConfigError("KV bucket \"" + bucket + "\": " + (pattern ? "pattern" : "key") + " \"" +
                      std::string(key) + "\" is invalid: " + why +
                      " (keys use letters, digits and -_=/\\. ; rnats::escape_key makes any "
                      "text a valid key)");
  };
  if (key.empty()) fail("it is empty");
  for (std::size_t i = 0; i < key.size(); ++i) {
    const char c = key[i];
    if (!key_char(c, pattern)) fail("it contains '" + std::string(1, c) + "'");
    if (c == '.' && (i == 0 || i + 1 == key.size() || key[i - 1] == '.')) {
      fail("'.' separates tokens and cannot lead, trail or repeat");
    }
  }
}

std::string StoreState::subject(std::string_view key) const {
  return "$KV." + bucket + "." + std::string(key);
}

Entry to_entry(kvEntry* e) {
  Entry entry;
  entry.key = kvEntry_Key(e);
  if (const void* v = kvEntry_Value(e); v != nullptr) {
    entry.value.assign(static_cast<const char*>(v), static_cast<std::size_t>(kvEntry_ValueLen(e)));
  }
  entry.revision = kvEntry_Revision(e);
  entry.created = from_unix_nanos(kvEntry_Created(e));
  return entry;
}

struct WatchState {
  std::shared_ptr<StoreState> store;
  KvWatcherPtr watcher;
  std::function<void(const Change&)> on_change;
  bool updates_only = false;

  mutable std::mutex mu;
  std::condition_variable_any cv;
  bool caught_up = false;
  bool ended = false;
  bool stopping = false;
  std::exception_ptr error;
  std::jthread thread;

  void run() {
    for (;;) {
      kvEntry* raw = nullptr;
      // Long waits: stop() interrupts this by stopping the watcher.
      const natsStatus s = kvWatcher_Next(&raw, watcher.get(), 3'600'000);
      if (s == NATS_TIMEOUT) continue;
      if (s != NATS_OK) {
        std::lock_guard lock(mu);
        if (!stopping) {
          try {
            throw_status(s, "watch of KV bucket \"" + store->bucket + "\"");
          } catch (...) {
            error = std::current_exception();
          }
        }
        break;
      }
      const KvEntryPtr entry(raw);
      if (!entry) {
        // nats.c's marker: the values present at the start have all been delivered.
        {
          std::lock_guard lock(mu);
          caught_up = true;
        }
        cv.notify_all();
        continue;
      }
      if (updates_only) {
        std::lock_guard lock(mu);
        if (!caught_up) continue;
      }
      Change change;
      switch (kvEntry_Operation(entry.get())) {
        case kvOp_Delete:
          change.kind = Change::Kind::erase;
          break;
        case kvOp_Purge:
          change.kind = Change::Kind::purge;
          break;
        default:
          change.kind = Change::Kind::put;
      }
      change.entry = to_entry(entry.get());
      try {
        on_change(change);
      } catch (...) {
        std::lock_guard lock(mu);
        error = std::current_exception();
        break;
      }
    }
    {
      std::lock_guard lock(mu);
      ended = true;
    }
    cv.notify_all();
  }

  void stop() {
    {
      std::lock_guard lock(mu);
      stopping = true;
    }
    if (watcher) kvWatcher_Stop(watcher.get());
    if (thread.joinable() && thread.get_id() != std::this_thread::get_id()) thread.join();
  }
};

}  // namespace detail

namespace {

using detail::check;

void check_bucket(std::string_view bucket) {
  if (bucket.empty()) throw ConfigError("KV bucket name is empty");
  for (const char c : bucket) {
    const auto u = static_cast<unsigned char>(c);
    const bool ok = (u >= '0' && u <= '9') || (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') ||
                    c == '-' || c == '_';
    if (!ok) {
      throw ConfigError("KV bucket name \"" + std::string(bucket) +
                        "\" is invalid: use letters, digits, '-' and '_'");
    }
  }
}

std::shared_ptr<detail::StoreState> bind_store(const Connection& connection,
                                               std::string_view bucket) {
  check_bucket(bucket);
  auto state = std::make_shared<detail::StoreState>();
  state->conn = detail::Access::state(connection);
  state->bucket = bucket;
  kvStore* kv = nullptr;
  const natsStatus s = js_KeyValue(&kv, state->conn->js.get(), state->bucket.c_str());
  if (s == NATS_NOT_FOUND) {
    throw NotFound("KV bucket \"" + state->bucket +
                   "\" does not exist; create it with StateStore::ensure");
  }
  check(s, "open KV bucket \"" + state->bucket + "\"");
  state->kv.reset(kv);
  return state;
}

// Applies `config` to the bucket's existing stream: KV buckets are streams named KV_<bucket>.
void update_bucket(detail::ConnectionState& conn, const StoreConfig& config) {
  const std::string stream = "KV_" + config.name;
  jsOptions jo = conn.js_options();
  jsStreamInfo* raw = nullptr;
  jsErrCode jerr{};
  check(js_GetStreamInfo(&raw, conn.js.get(), stream.c_str(), &jo, &jerr),
        "update KV bucket \"" + config.name + "\"", jerr);
  const detail::StreamInfoPtr info(raw);
  jsStreamConfig& sc = *info->Config;
  sc.MaxMsgsPerSubject = config.history;
  sc.MaxAge = std::chrono::duration_cast<std::chrono::nanoseconds>(config.ttl).count();
  sc.MaxBytes = config.max_bytes > 0 ? config.max_bytes : -1;
  sc.MaxMsgSize = config.max_value_size > 0 ? config.max_value_size : -1;
  sc.Replicas = config.replicas;
  if (!config.description.empty()) sc.Description = config.description.c_str();
  const auto storage = config.storage == Storage::memory ? js_MemoryStorage : js_FileStorage;
  if (sc.Storage != storage) {
    throw ConfigError("KV bucket \"" + config.name +
                      "\" exists with another storage type; storage cannot change (delete the "
                      "bucket to recreate it)");
  }
  jsStreamInfo* updated = nullptr;
  jerr = {};
  const natsStatus s = js_UpdateStream(&updated, conn.js.get(), &sc, &jo, &jerr);
  const detail::StreamInfoPtr owned(updated);
  if (s != NATS_OK) {
    try {
      detail::throw_status(s, "update KV bucket \"" + config.name + "\"", jerr);
    } catch (const JetStreamError& e) {
      throw ConfigError(e.what());
    }
  }
}

}  // namespace

StateStore::StateStore(std::shared_ptr<detail::StoreState> state) : state_(std::move(state)) {}

StateStore StateStore::ensure(const Connection& connection, const StoreConfig& config) {
  check_bucket(config.name);
  if (config.history < 1 || config.history > 64) {
    throw ConfigError("KV bucket \"" + config.name + "\": history must be 1..64");
  }
  if (config.replicas < 1 || config.replicas > 5) {
    throw ConfigError("KV bucket \"" + config.name + "\": replicas must be 1..5");
  }
  auto& conn = *detail::Access::state(connection);
  kvConfig kc;
  kvConfig_Init(&kc);
  kc.Bucket = config.name.c_str();
  if (!config.description.empty()) kc.Description = config.description.c_str();
  kc.History = static_cast<uint8_t>(config.history);
  kc.TTL = std::chrono::duration_cast<std::chrono::nanoseconds>(config.ttl).count();
  kc.StorageType = config.storage == Storage::memory ? js_MemoryStorage : js_FileStorage;
  kc.Replicas = config.replicas;
  kc.MaxValueSize = config.max_value_size;
  kc.MaxBytes = config.max_bytes;
  kvStore* kv = nullptr;
  const natsStatus s = js_CreateKeyValue(&kv, conn.js.get(), &kc);
  if (s == NATS_OK) {
    auto state = std::make_shared<detail::StoreState>();
    state->conn = detail::Access::state(connection);
    state->bucket = config.name;
    state->kv.reset(kv);
    return StateStore(std::move(state));
  }
  const std::string text = detail::error_text(s);
  // nats.c or the server (depending on version) refuses a different configuration.
  if (text.find("already in use") == std::string::npos &&
      text.find("configuration is different") == std::string::npos) {
    detail::throw_status(s, "create KV bucket \"" + config.name + "\"");
  }
  // It exists with another configuration: bring it in line.
  update_bucket(conn, config);
  return StateStore(bind_store(connection, config.name));
}

StateStore StateStore::open(const Connection& connection, std::string_view bucket) {
  return StateStore(bind_store(connection, bucket));
}

bool StateStore::remove(const Connection& connection, std::string_view bucket) {
  check_bucket(bucket);
  const std::string name(bucket);
  const natsStatus s = js_DeleteKeyValue(detail::Access::state(connection)->js.get(), name.c_str());
  if (s == NATS_NOT_FOUND) return false;
  check(s, "delete KV bucket \"" + name + "\"");
  return true;
}

const std::string& StateStore::bucket() const noexcept {
  return state_->bucket;
}

std::optional<Entry> StateStore::get(std::string_view key) const {
  detail::check_key(key, state_->bucket, false);
  const std::string k(key);
  kvEntry* raw = nullptr;
  const natsStatus s = kvStore_Get(&raw, state_->kv.get(), k.c_str());
  if (s == NATS_NOT_FOUND) return std::nullopt;
  check(s, "get key \"" + k + "\" of KV bucket \"" + state_->bucket + "\"");
  const detail::KvEntryPtr entry(raw);
  return detail::to_entry(entry.get());
}

std::uint64_t StateStore::put(std::string_view key, std::string_view value) {
  detail::check_key(key, state_->bucket, false);
  const std::string k(key);
  std::uint64_t revision = 0;
  check(kvStore_Put(&revision, state_->kv.get(), k.c_str(), value.data(),
                    static_cast<int>(value.size())),
        "put key \"" + k + "\" of KV bucket \"" + state_->bucket + "\"");
  return revision;
}

std::uint64_t StateStore::create(std::string_view key, std::string_view value) {
  detail::check_key(key, state_->bucket, false);
  const std::string k(key);
  std::uint64_t revision = 0;
  check(kvStore_Create(&revision, state_->kv.get(), k.c_str(), value.data(),
                       static_cast<int>(value.size())),
        "create key \"" + k + "\" of KV bucket \"" + state_->bucket + "\" (it exists already)");
  return revision;
}

std::uint64_t StateStore::update(std::string_view key, std::string_view value,
                                 std::uint64_t revision) {
  detail::check_key(key, state_->bucket, false);
  const std::string k(key);
  if (revision == 0) {
    throw ConfigError("update key \"" + k + "\" of KV bucket \"" + state_->bucket +
                      "\": revision 0 means \"no value\"; use create()");
  }
  std::uint64_t next = 0;
  check(kvStore_Update(&next, state_->kv.get(), k.c_str(), value.data(),
                       static_cast<int>(value.size()), revision),
        "update key \"" + k + "\" of KV bucket \"" + state_->bucket + "\" at revision " +
            std::to_string(revision) + " (its revision changed)");
  return next;
}

void StateStore::erase(std::string_view key) {
  detail::check_key(key, state_->bucket, false);
  const std::string k(key);
  check(kvStore_Delete(state_->kv.get(), k.c_str()),
        "erase key \"" + k + "\" of KV bucket \"" + state_->bucket + "\"");
}

void StateStore::erase(std::string_view key, std::uint64_t revision) {
  detail::check_key(key, state_->bucket, false);
  const std::string k(key);
  const std::string what = "erase key \"" + k + "\" of KV bucket \"" + state_->bucket +
                           "\" at revision " + std::to_string(revision);
  if (revision == 0) throw ConfigError(what + ": revisions start at 1");
  // nats.c 3.4.1 has no conditional delete: write the delete marker kvStore_Delete would write,
  // guarded by the subject's expected last sequence (the key's revision).
  const std::string subject = state_->subject(k);
  natsMsg* raw = nullptr;
  check(natsMsg_Create(&raw, subject.c_str(), nullptr, nullptr, 0), what);
  const detail::MsgPtr msg(raw);
  check(natsMsgHeader_Set(msg.get(), "KV-Operation", "DEL"), what);
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.ExpectLastSubjectSeq = revision;
  jsErrCode jerr{};
  check(js_PublishMsg(nullptr, state_->conn->js.get(), msg.get(), &po, &jerr),
        what + " (its revision changed)", jerr);
}

std::vector<std::string> StateStore::keys() const {
  // What kvStore_Keys does, without its flaws in nats.c 3.4.1: with kvWatchOptions.Timeout it
  // subtracts the time elapsed since the start once per key, so a bucket of a few thousand keys
  // fails with a timeout within milliseconds, and without a timeout it waits for ever when the
  // server goes away. Here each entry may take up to the request timeout, and delete and purge
  // markers are skipped by us (IgnoreDeletes has the same accounting flaw).
  const std::string what = "list the keys of KV bucket \"" + state_->bucket + "\"";
  kvWatchOptions wo;
  kvWatchOptions_Init(&wo);
  wo.MetaOnly = true;  // keys and operations only, no values
  kvWatcher* raw = nullptr;
  check(kvStore_WatchAll(&raw, state_->kv.get(), &wo), what);
  const detail::KvWatcherPtr watcher(raw);
  const std::int64_t timeout =
      std::max<std::int64_t>(1, state_->conn->options.request_timeout.count());
  std::set<std::string> keys;
  for (;;) {
    kvEntry* next = nullptr;
    check(kvWatcher_Next(&next, watcher.get(), timeout), what);
    const detail::KvEntryPtr entry(next);
    if (!entry) break;  // nats.c's marker: every current key has been delivered
    const kvOperation op = kvEntry_Operation(entry.get());
    if (op == kvOp_Delete || op == kvOp_Purge) {
      keys.erase(kvEntry_Key(entry.get()));  // erased while we listed
    } else {
      keys.emplace(kvEntry_Key(entry.get()));
    }
  }
  return {keys.begin(), keys.end()};
}

Watch StateStore::watch(std::string_view key_pattern, std::function<void(const Change&)> on_change,
                        const WatchOptions& options) const {
  detail::check_key(key_pattern, state_->bucket, true);
  if (!on_change) throw ConfigError("StateStore::watch: on_change is empty");
  auto w = std::make_shared<detail::WatchState>();
  w->store = state_;
  w->on_change = std::move(on_change);
  w->updates_only = options.updates_only;
  kvWatchOptions wo;
  kvWatchOptions_Init(&wo);
  wo.IncludeHistory = options.include_history;
  wo.IgnoreDeletes = options.ignore_deletes;
  const std::string pattern(key_pattern);
  kvWatcher* raw = nullptr;
  check(kvStore_Watch(&raw, state_->kv.get(), pattern.c_str(), &wo),
        "watch \"" + pattern + "\" in KV bucket \"" + state_->bucket + "\"");
  w->watcher.reset(raw);
  w->thread = std::jthread([raw_state = w.get()] { raw_state->run(); });
  return detail::Access::watch(std::move(w));
}

Watch::Watch(std::shared_ptr<detail::WatchState> state) : state_(std::move(state)) {}

Watch::~Watch() {
  if (state_) state_->stop();
}

Watch::Watch(Watch&&) noexcept = default;

Watch& Watch::operator=(Watch&& other) noexcept {
  if (this != &other) {
    if (state_) state_->stop();
    state_ = std::move(other.state_);
  }
  return *this;
}

bool Watch::wait_caught_up(std::stop_token stop, std::chrono::milliseconds timeout) {
  std::unique_lock lock(state_->mu);
  state_->cv.wait_for(lock, stop, timeout, [&] { return state_->caught_up || state_->ended; });
  return state_->caught_up && !stop.stop_requested();
}

void Watch::stop() {
  if (state_) state_->stop();
}

std::exception_ptr Watch::error() const {
  std::lock_guard lock(state_->mu);
  return state_->error;
}

std::string escape_key(std::string_view text) {
  if (text.empty()) return "=";  // the empty text, distinct from every escaped non-empty one
  // Percent-encoding with '=' for '%' (which KV keys cannot hold): '%' is never kept, so every
  // '%' of the encoding starts an escape.
  std::string key = percent_encode(text, "-_/");
  std::replace(key.begin(), key.end(), '%', '=');
  return key;
}

std::string unescape_key(std::string_view key) {
  if (key == "=") return {};
  // Escape by escape, keeping what is not one: the key may not be ours (and may hold '%').
  std::string out;
  std::string byte;
  for (std::size_t i = 0; i < key.size(); ++i) {
    if (key[i] == '=' && i + 2 < key.size() && hex_decode(key.substr(i + 1, 2), byte)) {
      out += byte;
      i += 2;
    } else {
      out += key[i];
    }
  }
  return out;
}

namespace detail {

StateStore open_or_create(const Connection& connection, std::string_view bucket) {
  try {
    return StateStore::open(connection, bucket);
  } catch (const NotFound&) {
    return StateStore::ensure(connection, StoreConfig{.name = std::string(bucket)});
  }
}

}  // namespace detail

}  // namespace reflex::rnats
