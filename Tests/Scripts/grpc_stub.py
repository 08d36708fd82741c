#!/usr/bin/env python3
"""A gRPC service for the gateway's gRPC client tests, on grpcio (`python3 -m pip install grpcio`).

Service `bfftest.v1.Users` on 127.0.0.1:PORT, messages passed as raw bytes:
- Echo: answers with the request message unchanged;
- Missing: NOT_FOUND with a message that needs percent-encoding;
- Slow: answers after 2 s, unless the call's deadline has passed by then;
- Unavailable: UNAVAILABLE;
- Deadline: answers with the time the call had left when it arrived, in milliseconds, as text;
- Headers: answers with the call's metadata as JSON;
- GetUser (with --descriptor-set, the bfftest.v1 messages): a User for GetUserRequest.user_id, except
  "slow" (after 2 s), "gone" (NOT_FOUND), "down" (UNAVAILABLE), "flaky" (UNAVAILABLE on every other
  call) and "garbage" (bytes that are no User).
Runs until killed."""
import argparse
import json
import time
from concurrent import futures

import grpc


def echo(request, context):
    return request


def missing(request, context):
    context.abort(grpc.StatusCode.NOT_FOUND, "no user 7 — ünknown")


def slow(request, context):
    time.sleep(2)
    return request


def unavailable(request, context):
    context.abort(grpc.StatusCode.UNAVAILABLE, "down for maintenance")


def deadline(request, context):
    remaining = context.time_remaining()
    return str(int(remaining * 1000) if remaining is not None else -1).encode()


def headers(request, context):
    return json.dumps({key: value for key, value in context.invocation_metadata()}).encode()


def typed_get_user(descriptor_set):
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    with open(descriptor_set, "rb") as file:
        files = descriptor_pb2.FileDescriptorSet.FromString(file.read())
    pool = descriptor_pool.DescriptorPool()
    for proto in files.file:
        pool.Add(proto)
    request_type = message_factory.GetMessageClass(pool.FindMessageTypeByName("bfftest.v1.GetUserRequest"))
    user_type = message_factory.GetMessageClass(pool.FindMessageTypeByName("bfftest.v1.User"))
    calls = {"flaky": 0}

    def get_user(request, context):
        user_id = request_type.FromString(request).user_id
        if user_id == "slow":
            time.sleep(2)
        elif user_id == "gone":
            context.abort(grpc.StatusCode.NOT_FOUND, f"no user {user_id}")
        elif user_id == "down":
            context.abort(grpc.StatusCode.UNAVAILABLE, "down")
        elif user_id == "flaky":
            calls["flaky"] += 1
            if calls["flaky"] % 2 == 1:
                context.abort(grpc.StatusCode.UNAVAILABLE, "try again")
        elif user_id == "garbage":
            return b"\xff\xff\xff"
        return user_type(id=user_id, display_name=f"User {user_id}", age=42, balance=9007199254740993).SerializeToString()

    return get_user


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--descriptor-set", help="FileDescriptorSet with the bfftest.v1 messages, for GetUser")
    args = parser.parse_args()
    methods = {"Echo": echo, "Missing": missing, "Slow": slow, "Unavailable": unavailable, "Deadline": deadline, "Headers": headers}
    if args.descriptor_set:
        methods["GetUser"] = typed_get_user(args.descriptor_set)
    handlers = {name: grpc.unary_unary_rpc_method_handler(function) for name, function in methods.items()}
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("bfftest.v1.Users", handlers)])
    server.add_insecure_port(f"127.0.0.1:{args.port}")
    server.start()
    server.wait_for_termination()


if __name__ == "__main__":
    main()
