"""A bare python-socketio server speaking examserver's candidate protocol, for the baseline.

    .venv/bin/python bench/echo_server.py --port 5101 --async-mode gevent --state FILE

No Flask, no database: ``POST /api/exam/login`` hands out a token, ``/exam`` accepts any token,
emits the connect ``state`` (a waiting attempt), and acknowledges at once: ``start`` emits the
running ``state`` with a paper and acks ``{ok: true}``; ``answer`` and ``flag`` ack
``{ok: true, seq}``. ``--state`` is a JSON file ``{"connect": {...}, "start": {...}}`` holding
the two payloads, taken from a real examserver paper so that the bytes on the wire match. The
WSGI server is the one Flask-SocketIO's ``socketio.run`` uses in the same async mode, with the
same options as ``examserver serve``.
"""

from __future__ import annotations

import argparse
import sys


def patch(mode: str) -> None:
    """Monkey-patch the standard library first, as examserver's launcher does."""
    if mode == "eventlet":
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import eventlet

        eventlet.monkey_patch()
    elif mode == "gevent":
        from gevent import monkey

        monkey.patch_all()


def build_app(states: dict, async_mode: str):  # noqa: ANN201 - a WSGI callable
    """Return the WSGI app: the login route and the Socket.IO server on /socket.io."""
    import json
    import secrets

    import socketio

    sio = socketio.Server(
        async_mode=async_mode, cors_allowed_origins=[], max_http_buffer_size=1024 * 1024
    )
    attempt_ids: dict[str, int] = {}
    counter = iter(range(1, 10**9))

    class ExamNamespace(socketio.Namespace):
        def on_connect(self, sid: str, environ: dict, auth: object = None) -> None:
            if not isinstance(auth, dict) or not isinstance(auth.get("token"), str):
                raise socketio.exceptions.ConnectionRefusedError(
                    {"code": "token_revoked", "message": "token_revoked"}
                )
            attempt_ids[sid] = next(counter)
            self.emit("state", states["connect"], to=sid)

        def on_disconnect(self, sid: str, reason: object = None) -> None:
            attempt_ids.pop(sid, None)

        def on_start(self, sid: str, data: object = None) -> dict:
            self.emit("state", states["start"], to=sid)
            return {"ok": True}

        def on_answer(self, sid: str, data: object = None) -> dict:
            seq = data.get("seq") if isinstance(data, dict) else None
            return {"ok": True, "seq": seq}

        on_flag = on_answer

        def on_navigate(self, sid: str, data: object = None) -> dict:
            return {"ok": True}

    sio.register_namespace(ExamNamespace("/exam"))

    def login(environ: dict, start_response) -> list[bytes]:  # noqa: ANN001
        if environ.get("PATH_INFO") != "/api/exam/login" or environ["REQUEST_METHOD"] != "POST":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = json.loads(environ["wsgi.input"].read(length) or b"{}")
        token = f"{body.get('admission_no', '')}.{secrets.token_hex(8)}"
        reply = json.dumps({"token": token, "attempt_id": next(counter)}).encode()
        start_response(
            "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(reply)))]
        )
        return [reply]

    return socketio.WSGIApp(sio, login)


def serve(app: object, host: str, port: int, mode: str) -> None:
    """Serve as Flask-SocketIO's socketio.run does in ``mode`` (examserver's options)."""
    if mode == "eventlet":
        import eventlet
        import eventlet.wsgi

        listener = eventlet.listen((host, port))
        eventlet.wsgi.server(listener, app, log_output=False, max_size=10000)
    elif mode == "gevent":
        from gevent import pywsgi

        pywsgi.WSGIServer((host, port), app, log=None).serve_forever()
    else:
        raise SystemExit(f"unsupported async mode {mode}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5101)
    parser.add_argument("--async-mode", choices=("eventlet", "gevent"), default="eventlet")
    parser.add_argument("--state", required=True, help="JSON file {connect, start} payloads")
    args = parser.parse_args(argv)
    if args.host not in ("127.0.0.1", "localhost"):
        parser.error("the echo server only listens on 127.0.0.1")
    patch(args.async_mode)
    import json

    with open(args.state, encoding="utf-8") as fh:
        states = json.load(fh)
    print(f"echo server on http://{args.host}:{args.port} ({args.async_mode})", file=sys.stderr)
    serve(build_app(states, args.async_mode), args.host, args.port, args.async_mode)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
