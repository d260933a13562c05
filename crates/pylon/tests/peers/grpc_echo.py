"""A gRPC server and client (grpcio) for Pylon's end-to-end tests, without generated code: messages
are raw bytes.

    grpc_echo.py serve <address:port> <name>   serves pylon.test.Echo until killed
    grpc_echo.py call <address:port> [authority] calls it and prints what happened as JSON
    grpc_echo.py call-tls <address:port> <authority> <ca.crt>  the same over TLS, the server's
                                                certificate checked for <authority> against the CA
    grpc_echo.py edges <address:port> [authority] calls Big, then Die, and prints what happened

Echo/Say (unary) answers "<name>:<request>", or fails with NOT_FOUND for "fail"; Echo/Count
(server streaming) sends "0".."n-1" for "n"; Echo/Chat (bidirectional) echoes each message.
Every answer carries the trailing metadata x-served-by: <name>. Echo/Big answers with 20 000-byte
initial and trailing metadata; Echo/Die (server streaming) sends two messages and then the server
process exits, its connections cut.
"""

import json
import os
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

    def big(request, context):
        context.send_initial_metadata((("x-big-header", "h" * 20000),))
        context.set_trailing_metadata((("x-big-trailer", "t" * 20000),))
        return request

    def die(request, context):
        yield b"one"
        yield b"two"
        time.sleep(0.5)
        os._exit(0)

    handler = grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "Say": grpc.unary_unary_rpc_method_handler(say),
            "Count": grpc.unary_stream_rpc_method_handler(count),
            "Chat": grpc.stream_stream_rpc_method_handler(chat),
            "Big": grpc.unary_unary_rpc_method_handler(big),
            "Die": grpc.unary_stream_rpc_method_handler(die),
        },
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(address)
    server.start()
    print(f"serving {SERVICE} on {address}", flush=True)
    server.wait_for_termination()


def connect(address, authority, ca=None):
    options = [("grpc.max_metadata_size", 1 << 20), ("grpc.absolute_max_metadata_size", 1 << 20)]
    if authority:
        options.append(("grpc.default_authority", authority))
    if ca:
        # SNI and the certificate check name the authority, not the address dialled.
        options.append(("grpc.ssl_target_name_override", authority))
        with open(ca, "rb") as f:
            credentials = grpc.ssl_channel_credentials(root_certificates=f.read())
        channel = grpc.secure_channel(address, credentials, options=options)
    else:
        channel = grpc.insecure_channel(address, options=options)
    grpc.channel_ready_future(channel).result(timeout=10)
    return channel


def recorder(out):
    def record(key, fn):
        try:
            out[key] = fn()
        except grpc.RpcError as e:
            out[key] = {"code": e.code().name, "details": e.details()}

    return record


def edges(address, authority=None):
    channel = connect(address, authority)
    out = {}
    record = recorder(out)

    def big():
        call = channel.unary_unary(f"/{SERVICE}/Big")
        answer, c = call.with_call(b"large", timeout=5)
        initial = dict(c.initial_metadata()).get("x-big-header", "")
        trailing = dict(c.trailing_metadata()).get("x-big-trailer", "")
        return {"answer": answer.decode(), "header": len(initial), "trailer": len(trailing)}

    def die():
        received = []
        try:
            for m in channel.unary_stream(f"/{SERVICE}/Die")(b"", timeout=10):
                received.append(m.decode())
        except grpc.RpcError as e:
            return {"received": received, "code": e.code().name, "details": e.details()}
        return {"received": received, "code": "OK"}

    record("big", big)
    record("die", die)
    print(json.dumps(out), flush=True)


def call(address, authority=None, ca=None):
    channel = connect(address, authority, ca)
    out = {}
    record = recorder(out)

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
    elif sys.argv[1] == "call-tls":
        call(sys.argv[2], sys.argv[3], sys.argv[4])
    elif sys.argv[1] == "edges":
        edges(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)
    else:
        call(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)
