#!/usr/bin/env python3
"""A gRPC service for the gateway's gRPC client tests, on grpcio (`python3 -m pip install grpcio`).

Service `bfftest.v1.Users` on 127.0.0.1:PORT, messages passed as raw bytes:
- Echo: answers with the request message unchanged;
- Missing: NOT_FOUND with a message that needs percent-encoding;
- Slow: answers after 2 s, unless the call's deadline has passed by then;
- Unavailable: UNAVAILABLE;
- Deadline: answers with the time the call had left when it arrived, in milliseconds, as text;
- Headers: answers with the call's metadata as JSON.
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


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    methods = {"Echo": echo, "Missing": missing, "Slow": slow, "Unavailable": unavailable, "Deadline": deadline, "Headers": headers}
    handlers = {name: grpc.unary_unary_rpc_method_handler(function) for name, function in methods.items()}
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("bfftest.v1.Users", handlers)])
    server.add_insecure_port(f"127.0.0.1:{args.port}")
    server.start()
    server.wait_for_termination()


if __name__ == "__main__":
    main()
