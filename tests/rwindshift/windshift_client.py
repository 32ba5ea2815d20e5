#!/usr/bin/python3
"""A windshift client as windshift's users have it: Python code generated from windshift-server's
own .proto files (never ours), talking to our services. Generates that code into GEN_DIR first.

Usage: windshift_client.py PROTO_DIR GEN_DIR ADDRESS NAME
Exits 0 when every step answered as windshift documents; prints the step that did not."""
import os
import subprocess
import sys
import time

proto_dir, gen_dir, address, name = sys.argv[1:5]
os.makedirs(gen_dir, exist_ok=True)
protos = sorted(p for p in os.listdir(proto_dir) if p.endswith(".proto"))
# Debian's protoc (3.21) with grpc's Python plugin: python3-grpc-tools' own protoc is 3.6 and
# refuses proto3 `optional`, which windshift's protos use.
subprocess.run(["protoc", f"-I{proto_dir}", "-I/usr/include", f"--python_out={gen_dir}",
                f"--grpc_out={gen_dir}", "--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin"]
               + protos, check=True)
sys.path.insert(0, gen_dir)

import grpc  # noqa: E402
from google.protobuf import any_pb2, duration_pb2, wrappers_pb2  # noqa: E402
import events_v1alpha1_service_pb2 as ev  # noqa: E402
import events_v1alpha1_service_pb2_grpc as ev_grpc  # noqa: E402
import state_v1alpha1_service_pb2 as st  # noqa: E402
import state_v1alpha1_service_pb2_grpc as st_grpc  # noqa: E402


def check(cond, what):
    if not cond:
        print("FAILED:", what, flush=True)
        sys.exit(1)


channel = grpc.insecure_channel(address)
events = ev_grpc.EventsServiceStub(channel)
state = st_grpc.StateServiceStub(channel)

events.EnsureStream(ev.EnsureStreamRequest(
    name=name, subjects=ev.EnsureStreamRequest.Subjects(subjects=[name + ".>"]),
    storage=ev.EnsureStreamRequest.Storage(type=ev.EnsureStreamRequest.STORAGE_TYPE_MEMORY)),
    timeout=10)
consumer = events.EnsureConsumer(ev.EnsureConsumerRequest(
    stream=name, name="py", subjects=[name + ".>"], **{"from": ev.StreamPointer(start=True)},
    processing_timeout=duration_pb2.Duration(seconds=5)), timeout=10).id
check(consumer == "py", "EnsureConsumer returns the durable name")

data = any_pb2.Any()
data.Pack(wrappers_pb2.StringValue(value="from python"))
published = events.PublishEvent(ev.PublishEventRequest(
    subject=name + ".hello", data=data, idempotency_key="py-1"), timeout=10)
check(published.id == 1, "PublishEvent returns id 1")
again = events.PublishEvent(ev.PublishEventRequest(
    subject=name + ".hello", data=data, idempotency_key="py-1"), timeout=10)
check(again.id == 1, "an idempotency key seen before answers the first id")
try:
    events.PublishEvent(ev.PublishEventRequest(subject="bad..subject", data=data), timeout=10)
    check(False, "a bad subject is refused")
except grpc.RpcError as e:
    check(e.code() == grpc.StatusCode.INVALID_ARGUMENT, "a bad subject is INVALID_ARGUMENT")

requests = []


def outgoing():
    yield ev.EventsRequest(subscribe=ev.EventsRequest.Subscribe(stream=name, consumer="py"))
    while True:
        while not requests:
            time.sleep(0.01)
        r = requests.pop(0)
        if r is None:
            return
        yield r


call = events.Events(outgoing(), timeout=20)
responses = iter(call)
first = next(responses)
check(first.HasField("subscribed"), "the first answer is Subscribed")
check(first.subscribed.processing_timeout.seconds == 5, "Subscribed has the processing timeout")
event = next(responses)
check(event.HasField("event"), "an event follows")
value = wrappers_pb2.StringValue()
check(event.event.data.Unpack(value) and value.value == "from python", "the event's data")
check(event.event.headers.idempotency_key == "py-1", "the event's idempotency key")
requests.append(ev.EventsRequest(ack=ev.EventsRequest.Ack(ids=[event.event.id, 77])))
confirmation = next(responses)
check(confirmation.HasField("ack_confirmation"), "an ack confirmation follows")
check(list(confirmation.ack_confirmation.ids) == [event.event.id], "the ack is done")
check(list(confirmation.ack_confirmation.invalid_ids) == [77], "an unknown id is invalid")
requests.append(None)
call.cancel()

state.EnsureStore(st.EnsureStoreRequest(store=name), timeout=10)
missing = state.Get(st.GetRequest(store=name, key="k"), timeout=10)
check(missing.revision == 0 and not missing.HasField("value"), "a missing key has no value")
rev = state.Set(st.SetRequest(store=name, key="k", value=data), timeout=10).revision
got = state.Get(st.GetRequest(store=name, key="k"), timeout=10)
check(got.revision == rev and got.value.Unpack(value) and value.value == "from python",
      "Get returns what Set stored")
try:
    state.Set(st.SetRequest(store=name, key="k", value=data, create_only=True), timeout=10)
    check(False, "create_only refuses an existing key")
except grpc.RpcError as e:
    check(e.code() == grpc.StatusCode.ALREADY_EXISTS, "create_only conflict is ALREADY_EXISTS")
state.Delete(st.DeleteRequest(store=name, key="k", last_revision=rev), timeout=10)
print("OK", flush=True)
