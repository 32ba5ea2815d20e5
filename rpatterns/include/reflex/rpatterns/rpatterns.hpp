#pragma once

/// Umbrella header of reflex::rpatterns.
#include "reflex/rpatterns/ack.hpp"
#include "reflex/rpatterns/await.hpp"
#include "reflex/rpatterns/backfill.hpp"
#include "reflex/rpatterns/batch.hpp"
#include "reflex/rpatterns/bootstrap.hpp"
#include "reflex/rpatterns/concurrent.hpp"
#include "reflex/rpatterns/cursor_stores.hpp"
#include "reflex/rpatterns/gap_sequence.hpp"
#include "reflex/rpatterns/inbox.hpp"
#include "reflex/rpatterns/log.hpp"
#include "reflex/rpatterns/parallel.hpp"
#include "reflex/rpatterns/poller.hpp"
#include "reflex/rpatterns/retry.hpp"
#include "reflex/rpatterns/run_forever.hpp"
#include "reflex/rpatterns/transactional.hpp"
