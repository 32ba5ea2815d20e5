#pragma once

// RAII owners for nats.c handles. Nothing here leaves src/: nats.c types never reach our public
// headers.

#include <nats/nats.h>

#include <memory>

namespace reflex::rnats::detail {

template <class T, void (*Destroy)(T*)>
struct Deleter {
  void operator()(T* p) const noexcept {
    if (p != nullptr) Destroy(p);
  }
};

template <class T, void (*Destroy)(T*)>
using Handle = std::unique_ptr<T, Deleter<T, Destroy>>;

using OptionsPtr = Handle<natsOptions, natsOptions_Destroy>;
using MsgPtr = Handle<natsMsg, natsMsg_Destroy>;
using SubscriptionPtr = Handle<natsSubscription, natsSubscription_Destroy>;
using JsCtxPtr = Handle<jsCtx, jsCtx_Destroy>;
using StreamInfoPtr = Handle<jsStreamInfo, jsStreamInfo_Destroy>;
using ConsumerInfoPtr = Handle<jsConsumerInfo, jsConsumerInfo_Destroy>;
using PubAckPtr = Handle<jsPubAck, jsPubAck_Destroy>;
using MetaDataPtr = Handle<jsMsgMetaData, jsMsgMetaData_Destroy>;
using KvStorePtr = Handle<kvStore, kvStore_Destroy>;
using KvEntryPtr = Handle<kvEntry, kvEntry_Destroy>;
using KvWatcherPtr = Handle<kvWatcher, kvWatcher_Destroy>;

inline void close_and_destroy(natsConnection* nc) noexcept {
  natsConnection_Close(nc);
  natsConnection_Destroy(nc);
}
using ConnectionPtr = Handle<natsConnection, close_and_destroy>;

}  // namespace reflex::rnats::detail
