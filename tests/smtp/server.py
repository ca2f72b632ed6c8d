#!/usr/bin/env python3
"""A real SMTP server on 127.0.0.1 for OpenVoice's mail tests and bench/mail.sh (aiosmtpd).

    python3 tests/smtp/server.py --port 2525 --dir /tmp/received       # keep every message
    python3 tests/smtp/server.py --port 2525 --sink                    # count only (benchmarks)

Each accepted message is written to DIR/<n>.eml (atomically: a temporary name, then a
rename), preceded by one `X-Test-Rcpt: <address>` line per envelope recipient. The server
prints `READY <port>` once it accepts connections, and `RECEIVED <n>` when it stops.

Failures are chosen by the recipient's local part, so one test can mix them:
  t421-N-anything@…   answer `421` to RCPT for the first N attempts for that address, then accept
  t451-N-anything@…   the same with `451` (a per-message temporary failure)
  p550-anything@…     always `550 5.1.1 User unknown` (a permanent failure, a bounce)
"""

import argparse
import os
import re
import signal
import sys
import threading

from aiosmtpd.controller import Controller

TEMPORARY = re.compile(r"^t(421|451)-(\d+)-", re.IGNORECASE)


class Handler:
    def __init__(self, folder, sink):
        self.folder = folder
        self.sink = sink
        self.received = 0
        self.attempts = {}
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0]
        temporary = TEMPORARY.match(local)
        if temporary:
            code, times = temporary.group(1), int(temporary.group(2))
            seen = self.attempts.get(address.lower(), 0)
            self.attempts[address.lower()] = seen + 1
            if seen < times:
                if code == "421":
                    return "421 4.3.2 Service not available, closing transmission channel"
                return "451 4.3.0 Temporary local problem, try again later"
        if local.lower().startswith("p550-"):
            return "550 5.1.1 User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.received += 1
            n = self.received
        if not self.sink:
            head = "".join(f"X-Test-Rcpt: {rcpt}\r\n" for rcpt in envelope.rcpt_tos).encode()
            body = envelope.original_content or envelope.content
            if isinstance(body, str):
                body = body.encode()
            partial = os.path.join(self.folder, f".{n}.partial")
            with open(partial, "wb") as f:
                f.write(head + body)
            os.rename(partial, os.path.join(self.folder, f"{n}.eml"))
        return "250 2.0.0 Message accepted for delivery"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", help="folder for received messages")
    parser.add_argument("--sink", action="store_true", help="count messages, keep none")
    parser.add_argument("--exit-on-stdin-eof", action="store_true", help="stop when standard input closes (the parent died)")
    args = parser.parse_args()
    if not args.sink and not args.dir:
        parser.error("--dir is required unless --sink")
    if args.dir:
        os.makedirs(args.dir, exist_ok=True)
    handler = Handler(args.dir, args.sink)
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=args.port,
        server_hostname="smtp.test",
        data_size_limit=64 * 1024 * 1024,
    )
    controller.start()
    print(f"READY {args.port}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if args.exit_on_stdin_eof:
        # A test that dies closes our stdin: stop then too, so no server outlives its test.
        def watch_stdin():
            try:
                sys.stdin.read()
            finally:
                stop.set()
        threading.Thread(target=watch_stdin, daemon=True).start()
    stop.wait()
    controller.stop()
    print(f"RECEIVED {handler.received}", flush=True)


if __name__ == "__main__":
    main()
