// A windshift client of reflexd: code generated from the windshift protos (reflex::proto ships
// them), nothing of reflex's own. It declares a stream and a durable consumer, publishes three
// order events, then receives them on the Events stream and acknowledges each.
//
//   windshift_client --target 127.0.0.1:8080 [--stream ORDERS]
#include <google/protobuf/wrappers.pb.h>
#include <grpcpp/grpcpp.h>
#include <reflex/proto/windshift/events/v1alpha1/service.grpc.pb.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <set>
#include <string>
#include <string_view>

namespace ws = windshift::events::v1alpha1;

namespace {

void check(const grpc::Status& status, std::string_view what) {
  if (!status.ok()) {
    std::cerr << what << ": " << status.error_message() << " (code " << status.error_code()
              << ")\n";
    std::exit(1);
  }
}

std::unique_ptr<grpc::ClientContext> context(std::chrono::seconds timeout) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + timeout);
  return ctx;
}

}  // namespace

int main(int argc, char** argv) {
  std::string target = "127.0.0.1:8080";
  std::string stream = "ORDERS";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view flag = argv[i];
    if (flag == "--target") target = argv[i + 1];
    if (flag == "--stream") stream = argv[i + 1];
  }
  auto events =
      ws::EventsService::NewStub(grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));

  // [snippet:client]
  // A stream collecting every "<stream>.>" subject, and a durable consumer of it.
  ws::EnsureStreamRequest declare;
  declare.set_name(stream);
  declare.mutable_subjects()->add_subjects(stream + ".>");
  ws::EnsureStreamResponse declared;
  check(events->EnsureStream(context(std::chrono::seconds(5)).get(), declare, &declared),
        "EnsureStream");
  ws::EnsureConsumerRequest consumer;
  consumer.set_stream(stream);
  consumer.set_name("mailer");
  consumer.add_subjects(stream + ".created");
  consumer.mutable_processing_timeout()->set_seconds(30);
  ws::EnsureConsumerResponse ensured;
  check(events->EnsureConsumer(context(std::chrono::seconds(5)).get(), consumer, &ensured),
        "EnsureConsumer");

  // Three events; the idempotency key makes a retried publish store the event once.
  for (int order = 1; order <= 3; ++order) {
    ws::PublishEventRequest publish;
    publish.set_subject(stream + ".created");
    google::protobuf::StringValue body;
    body.set_value("order " + std::to_string(order));
    publish.mutable_data()->PackFrom(body);
    publish.set_idempotency_key("order-" + std::to_string(order));
    ws::PublishEventResponse published;
    check(events->PublishEvent(context(std::chrono::seconds(5)).get(), publish, &published),
          "PublishEvent");
    std::cout << "published order " << order << " as event " << published.id() << "\n";
  }

  // Receive on the Events stream: Subscribe first, then an Ack per event, each confirmed.
  auto ctx = context(std::chrono::seconds(20));
  auto call = events->Events(ctx.get());
  ws::EventsRequest subscribe;
  subscribe.mutable_subscribe()->set_stream(stream);
  subscribe.mutable_subscribe()->set_consumer(ensured.id());
  call->Write(subscribe);
  std::set<std::uint64_t> unconfirmed;
  int received = 0;
  ws::EventsResponse response;
  while ((received < 3 || !unconfirmed.empty()) && call->Read(&response)) {
    if (response.has_event()) {
      const auto& event = response.event();
      google::protobuf::StringValue body;
      event.data().UnpackTo(&body);
      std::cout << "received " << body.value() << " (event " << event.id() << ", attempt "
                << event.delivery_attempt() << ")\n";
      ws::EventsRequest ack;
      ack.mutable_ack()->add_ids(event.id());
      call->Write(ack);
      unconfirmed.insert(event.id());
      ++received;
    } else if (response.has_ack_confirmation()) {
      for (const auto id : response.ack_confirmation().ids()) unconfirmed.erase(id);
    }
  }
  // [end snippet]
  call->WritesDone();
  ctx->TryCancel();
  call->Finish();
  if (received != 3 || !unconfirmed.empty()) {
    std::cerr << "received " << received << " events, " << unconfirmed.size()
              << " acks unconfirmed\n";
    return 1;
  }
  std::cout << "acknowledged 3 events\n";
  return 0;
}
