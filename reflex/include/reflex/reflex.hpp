#pragma once

/// Umbrella header of reflex::core.
#include "reflex/buffered_cursor_store.hpp"
#include "reflex/consumer.hpp"
#include "reflex/cursor_store.hpp"
#include "reflex/encoding.hpp"
#include "reflex/errors.hpp"
#include "reflex/event.hpp"
#include "reflex/mem_cursor_store.hpp"
#include "reflex/mem_log.hpp"
#include "reflex/metrics.hpp"
#include "reflex/run.hpp"
#include "reflex/stream.hpp"
#include "reflex/uri.hpp"
#include "reflex/version.hpp"
#include "reflex/wait.hpp"
