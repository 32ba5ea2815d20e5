"""A non-C++ client of a reflex stream: Python's gRPC (grpcio) with protoc-generated messages.

usage: interop_client.py GENERATED_DIR TARGET AFTER TOKEN
Prints one line per event ("event ID TYPE FOREIGN_ID SECONDS NANOS METADATA_HEX"), then the end
status ("status CODE MESSAGE").
"""
import sys

sys.path.insert(0, sys.argv[1])

import grpc  # noqa: E402
import reflex_pb2  # noqa: E402


def main():
    target, after, token = sys.argv[2], sys.argv[3], sys.argv[4]
    channel = grpc.insecure_channel(target)
    stream = channel.unary_stream(
        "/reflexpb.Reflex/Stream",
        request_serializer=reflex_pb2.StreamRequest.SerializeToString,
        response_deserializer=reflex_pb2.Event.FromString,
    )
    request = reflex_pb2.StreamRequest(after=after, options=reflex_pb2.StreamOptions(toHead=True))
    metadata = [("authorization", "Bearer " + token)] if token else None
    try:
        for e in stream(request, metadata=metadata, timeout=20):
            print("event", e.id, e.type, e.foreign_id, e.timestamp.seconds, e.timestamp.nanos,
                  e.metadata.hex() or "-")
    except grpc.RpcError as error:
        print("status", error.code().name, error.details())
    sys.stdout.flush()


main()
