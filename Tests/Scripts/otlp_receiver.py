"""A small OTLP/HTTP traces receiver for the tracing tests.

Listens on 127.0.0.1 (a free port, printed as "PORT <n>" on the first line of stdout), decodes each
POST /v1/traces body (application/x-protobuf, gzip or not) with opentelemetry-proto, and appends one
JSON line per span to the file named by argv[1]: trace_id, span_id, parent_span_id (hex), name,
kind, service (the resource's service.name) and attributes.
"""
import gzip
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

OUT = sys.argv[1]


def value(v):
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind else None


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        request = trace_service_pb2.ExportTraceServiceRequest()
        request.ParseFromString(body)
        with open(OUT, "a") as out:
            for resource_spans in request.resource_spans:
                service = next((value(a.value) for a in resource_spans.resource.attributes if a.key == "service.name"), None)
                for scope in resource_spans.scope_spans:
                    for span in scope.spans:
                        out.write(json.dumps({
                            "trace_id": span.trace_id.hex(),
                            "span_id": span.span_id.hex(),
                            "parent_span_id": span.parent_span_id.hex(),
                            "name": span.name,
                            "kind": span.kind,
                            "service": service,
                            "attributes": {a.key: value(a.value) for a in span.attributes},
                        }) + "\n")
        reply = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
print(f"PORT {server.server_address[1]}", flush=True)
server.serve_forever()
