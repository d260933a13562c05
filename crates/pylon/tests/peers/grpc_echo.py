"""A gRPC server and client (grpcio) for Pylon's end-to-end tests, without generated code: messages
are raw bytes.

    grpc_echo.py serve <address:port> <name>   serves pylon.test.Echo until killed
    grpc_echo.py call <address:port> [authority] calls it and prints what happened as JSON

Echo/Say (unary) answers "<name>:<request>", or fails with NOT_FOUND for "fail"; Echo/Count
(server streaming) sends "0".."n-1" for "n"; Echo/Chat (bidirectional) echoes each message.
Every answer carries the trailing metadata x-served-by: <name>.
"""

import json
import sys
import time
from concurrent import futures

import grpc

SERVICE = "pylon.test.Echo"


def serve(address, name):
    def say(request, context):
        context.set_trailing_metadata((("x-served-by", name),))
        if request == b"fail":
            context.abort(grpc.StatusCode.NOT_FOUND, "no such thing")
        return name.encode() + b":" + request

    def count(request, context):
        context.set_trailing_metadata((("x-served-by", name),))
        for i in range(int(request)):
            yield str(i).encode()

    def chat(requests, context):
        context.set_trailing_metadata((("x-served-by", name),))
        for message in requests:
            yield message

    handler = grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "Say": grpc.unary_unary_rpc_method_handler(say),
            "Count": grpc.unary_stream_rpc_method_handler(count),
            "Chat": grpc.stream_stream_rpc_method_handler(chat),
        },
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(address)
    server.start()
    print(f"serving {SERVICE} on {address}", flush=True)
    server.wait_for_termination()


def call(address, authority=None):
    options = [("grpc.default_authority", authority)] if authority else []
    channel = grpc.insecure_channel(address, options=options)
    grpc.channel_ready_future(channel).result(timeout=10)
    out = {}

    def record(key, fn):
        try:
            out[key] = fn()
        except grpc.RpcError as e:
            out[key] = {"code": e.code().name, "details": e.details()}

    def unary():
        say = channel.unary_unary(f"/{SERVICE}/Say")
        answer, c = say.with_call(b"hello", timeout=5)
        served_by = dict(c.trailing_metadata()).get("x-served-by")
        return {"answer": answer.decode(), "served_by": served_by}

    def streaming():
        count = channel.unary_stream(f"/{SERVICE}/Count")
        return [m.decode() for m in count(b"5", timeout=5)]

    def bidirectional():
        chat = channel.stream_stream(f"/{SERVICE}/Chat")
        return [m.decode() for m in chat(iter([b"a", b"b", b"c"]), timeout=5)]

    record("unary", unary)
    record("streaming", streaming)
    record("bidirectional", bidirectional)
    record("error", lambda: channel.unary_unary(f"/{SERVICE}/Say")(b"fail", timeout=5).decode())
    record(
        "unknown_method",
        lambda: channel.unary_unary("/pylon.test.Other/Missing")(b"x", timeout=5).decode(),
    )
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2], sys.argv[3])
    else:
        call(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)
