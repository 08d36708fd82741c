#!/usr/bin/env python3
"""Real clients for the gateway's listener tests: TLS versions and client certificates, new
connections across a certificate rotation, an HTTP/2 rapid-reset attacker, an HTTP/2 request
in flight while the gateway drains, and a WebSocket echo service with its client. Each command prints one JSON object on standard output.

Needs the `h2` package for the HTTP/2 commands and `websockets` for the WebSocket ones
(`python3 -m pip install h2 websockets`)."""
import argparse
import hashlib
import json
import socket
import ssl
import sys
import time

VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


def connect(args, alpn):
    raw = socket.create_connection(("127.0.0.1", args.port), timeout=args.timeout)
    if not args.ca:
        return raw
    context = ssl.create_default_context(cafile=args.ca)
    if args.max_version:
        context.maximum_version = VERSIONS[args.max_version]
    if args.min_version:
        context.minimum_version = VERSIONS[args.min_version]
    if args.cert:
        context.load_cert_chain(args.cert, args.key)
    context.set_alpn_protocols(alpn)
    return context.wrap_socket(raw, server_hostname="127.0.0.1")


def http1_get(args):
    """One GET over a new connection: TLS version, ALPN, certificate fingerprint, status, body."""
    sock = connect(args, ["http/1.1"])
    result = {}
    if isinstance(sock, ssl.SSLSocket):
        result["version"] = sock.version()
        result["alpn"] = sock.selected_alpn_protocol()
        result["fingerprint"] = hashlib.sha256(sock.getpeercert(binary_form=True)).hexdigest()
    request = f"GET {args.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    sock.sendall(request.encode())
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    sock.close()
    head, _, body = data.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].decode()
    result["status"] = int(status_line.split(" ")[1]) if status_line else 0
    result["body"] = body.decode(errors="replace")
    return result


def get(args):
    try:
        print(json.dumps(http1_get(args)))
    except (ssl.SSLError, OSError) as error:
        print(json.dumps({"error": f"{type(error).__name__}: {error}"}))


def rotation(args):
    """New connections, one GET each, for at least `seconds` and until `fingerprints` different
    server certificates were seen (at most `timeout`): how many succeeded or failed, and which
    certificates were seen."""
    start = time.monotonic()
    ok = failed = 0
    fingerprints = []
    errors = []
    while time.monotonic() < start + args.timeout and (time.monotonic() < start + args.seconds or len(fingerprints) < args.fingerprints):
        try:
            result = http1_get(args)
            if result["status"] == 200:
                ok += 1
            else:
                failed += 1
                errors.append(f"status {result['status']}")
            if result["fingerprint"] not in fingerprints:
                fingerprints.append(result["fingerprint"])
        except (ssl.SSLError, OSError) as error:
            failed += 1
            errors.append(f"{type(error).__name__}: {error}")
    print(json.dumps({"ok": ok, "failed": failed, "fingerprints": fingerprints, "errors": errors[:5]}))


def h2_connection(args):
    import h2.config
    import h2.connection

    sock = connect(args, ["h2"])
    connection = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    connection.initiate_connection()
    sock.sendall(connection.data_to_send())
    return sock, connection


def request_headers(args):
    return [(":method", "GET"), (":path", args.path), (":scheme", "https" if args.ca else "http"), (":authority", "127.0.0.1")]


def rapid_reset(args):
    """Opens and at once resets `streams` streams, as the CVE-2023-44487 attacker does; reports
    whether the server answered with GOAWAY and closed the connection."""
    import h2.exceptions

    sock, connection = h2_connection(args)
    sock.settimeout(args.timeout)
    sent = 0
    try:
        for index in range(args.streams):
            stream = connection.get_next_available_stream_id()
            connection.send_headers(stream, request_headers(args), end_stream=True)
            connection.reset_stream(stream)
            sent += 1
            sock.sendall(connection.data_to_send())
    except (OSError, h2.exceptions.ProtocolError):
        pass
    result = {"goaway": None}

    def on_frame(frame_type, flags, stream_id, payload):
        if frame_type == 7 and result["goaway"] is None:
            result["goaway"] = {"error_code": int.from_bytes(payload[4:8], "big"), "last_stream_id": int.from_bytes(payload[0:4], "big") & 0x7FFFFFFF}
        return False

    try:
        read_frames(sock, time.monotonic() + args.timeout, on_frame)
        sock.settimeout(0.5)
        closed = sock.recv(1) == b""
    except OSError:
        closed = True
    goaway = result["goaway"]
    print(json.dumps({"sent": sent, "goaway": goaway, "closed": closed}))


def read_frames(sock, deadline, on_frame):
    """Reads raw HTTP/2 frames and calls on_frame(type, flags, stream_id, payload) for each until
    it returns True, the connection closes or the deadline passes. Raw, because h2's state machine
    refuses frames a server may rightly send after its GOAWAY (the PING of a graceful close, the
    rest of the streams it still serves)."""
    received = b""
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data = sock.recv(65536)
        except socket.timeout:
            return
        if not data:
            return
        received += data
        while len(received) >= 9:
            length = int.from_bytes(received[0:3], "big")
            if len(received) < 9 + length:
                break
            frame_type, flags = received[3], received[4]
            stream_id = int.from_bytes(received[5:9], "big") & 0x7FFFFFFF
            payload = received[9 : 9 + length]
            received = received[9 + length :]
            if on_frame(frame_type, flags, stream_id, payload):
                return


def drain(args):
    """One GET over HTTP/2 that is still in flight when the server starts draining: reports its
    status and body length, and whether GOAWAY came before the answer ended."""
    import hpack

    sock, connection = h2_connection(args)
    stream = connection.get_next_available_stream_id()
    connection.send_headers(stream, request_headers(args), end_stream=True)
    sock.sendall(connection.data_to_send())
    decoder = hpack.Decoder()
    state = {"status": None, "body": 0, "ended": False, "goaway_before_end": False}

    def on_frame(frame_type, flags, stream_id, payload):
        if frame_type == 1 and stream_id == stream:  # HEADERS (no padding or priority from these servers)
            headers = dict(decoder.decode(payload))
            if ":status" in headers:
                state["status"] = int(headers[":status"])
        elif frame_type == 0 and stream_id == stream:  # DATA
            state["body"] += len(payload)
        elif frame_type == 7 and not state["ended"]:  # GOAWAY
            state["goaway_before_end"] = True
        elif frame_type == 6 and not flags & 0x1:  # PING: acknowledge, as a live client does
            sock.sendall(len(payload).to_bytes(3, "big") + bytes([6, 0x1]) + (0).to_bytes(4, "big") + payload)
        if frame_type in (0, 1) and stream_id == stream and flags & 0x1:  # END_STREAM
            state["ended"] = True
            return True
        return False

    read_frames(sock, time.monotonic() + args.timeout, on_frame)
    print(json.dumps({"status": state["status"], "body_bytes": state["body"], "ended": state["ended"], "goaway_before_end": state["goaway_before_end"]}))


def settings(args):
    """The SETTINGS the server sends in its connection preface."""
    import h2.events

    sock, connection = h2_connection(args)
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        data = sock.recv(65536)
        if not data:
            break
        for event in connection.receive_data(data):
            if isinstance(event, h2.events.RemoteSettingsChanged):
                remote = connection.remote_settings
                print(json.dumps({"max_concurrent_streams": remote.max_concurrent_streams, "max_header_list_size": remote.max_header_list_size}))
                return
    print(json.dumps({"error": "no SETTINGS from the server"}))


def ws_echo_server(args):
    """A WebSocket service: echoes every message; on /headers it first sends the handshake's
    request headers as a JSON text message; a handshake for /refuse it answers 403. Runs until
    killed."""
    import asyncio
    from websockets.asyncio.server import serve

    def refuse(connection, request):
        if request.path.startswith("/refuse"):
            return connection.respond(403, "no\n")
        return None

    async def handler(socket):
        if socket.request.path.startswith("/headers"):
            await socket.send(json.dumps({name.lower(): value for name, value in socket.request.headers.raw_items()}))
        async for message in socket:
            await socket.send(message)

    async def run():
        async with serve(handler, "127.0.0.1", args.port, max_size=64 * 1024 * 1024, process_request=refuse):
            await asyncio.Future()

    asyncio.run(run())


def ws_connect(args):
    from websockets.asyncio.client import connect

    scheme = "wss" if args.ca else "ws"
    context = None
    if args.ca:
        context = ssl.create_default_context(cafile=args.ca)
    headers = [tuple(header.split(": ", 1)) for header in args.header]
    return connect(
        f"{scheme}://127.0.0.1:{args.port}{args.path}", additional_headers=headers, origin=args.origin, ssl=context,
        max_size=64 * 1024 * 1024, open_timeout=args.timeout, close_timeout=args.timeout,
    )


def ws(args):
    """Through the gateway: a text message, a binary message of `size` bytes and a ping, each
    answered; or the handshake's refusal status; or, with --hold, how the gateway closes a socket
    left open (close code, reason, seconds)."""
    import asyncio
    import os
    from websockets.exceptions import ConnectionClosed, InvalidStatus

    async def run():
        try:
            async with ws_connect(args) as socket:
                result = {"status": 101}
                if args.path.startswith("/ws/headers"):
                    result["headers"] = json.loads(await socket.recv())
                if args.hold:
                    start = time.monotonic()
                    try:
                        await asyncio.wait_for(socket.recv(), args.timeout)
                    except (ConnectionClosed, asyncio.TimeoutError):
                        pass
                    result.update(close_code=socket.close_code, close_reason=socket.close_reason, seconds=round(time.monotonic() - start, 2))
                    return result
                await socket.send("hello")
                result["text"] = await socket.recv() == "hello"
                payload = os.urandom(args.size)
                try:
                    await socket.send(payload)
                    result["binary"] = await socket.recv() == payload
                except ConnectionClosed:
                    result["binary"] = False
                    result.update(close_code=socket.close_code, close_reason=socket.close_reason)
                    return result
                pong = await socket.ping()
                await asyncio.wait_for(pong, args.timeout)
                result["pong"] = True
                return result
        except InvalidStatus as refusal:
            return {"status": refusal.response.status_code}

    print(json.dumps(asyncio.run(run())))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["get", "rotation", "rapid-reset", "drain", "settings", "ws-echo-server", "ws"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/")
    parser.add_argument("--ca", help="trust this CA and speak TLS; plaintext without it")
    parser.add_argument("--max-version", choices=VERSIONS)
    parser.add_argument("--min-version", choices=VERSIONS)
    parser.add_argument("--cert", help="client certificate (PEM)")
    parser.add_argument("--key", help="client certificate's key (PEM)")
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--fingerprints", type=int, default=1, help="rotation: go on until this many certificates were seen")
    parser.add_argument("--timeout", type=float, default=10)
    parser.add_argument("--header", action="append", default=[], help="ws: a request header, 'Name: value'")
    parser.add_argument("--origin", help="ws: the Origin to send")
    parser.add_argument("--size", type=int, default=1024 * 1024, help="ws: bytes of the binary message")
    parser.add_argument("--hold", action="store_true", help="ws: send nothing and report how the socket is closed")
    args = parser.parse_args()
    commands = {
        "get": get, "rotation": rotation, "rapid-reset": rapid_reset, "drain": drain, "settings": settings,
        "ws-echo-server": ws_echo_server, "ws": ws,
    }
    commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
