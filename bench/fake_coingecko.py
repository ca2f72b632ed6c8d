#!/usr/bin/env python3
"""A stand-in for CoinGecko's public API on a local port, for benchmarks and screenshots.

Serves the documented response formats from tests/fixtures/coingecko/simple_price.json:
  GET /api/v3/simple/price?ids=a,b&vs_currencies=usd&include_24hr_change=true
  GET /api/v3/coins/{id}/market_chart?vs_currency=usd&days=N   (a deterministic hourly walk
      ending at the fixture's price at the time of the request)
Usage: python3 bench/fake_coingecko.py PORT
"""
import json
import math
import random
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

FIXTURE = json.loads((Path(__file__).resolve().parent.parent / "tests/fixtures/coingecko/simple_price.json").read_text())


def chart(coin, days):
    end = FIXTURE[coin]["usd"]
    rng = random.Random(coin)
    n = days * 24 + 1
    walk = [0.0]
    for _ in range(n - 1):
        walk.append(walk[-1] + rng.gauss(0.0, 0.008))
    now_ms = int(time.time() * 1000)
    return [[now_ms - (n - 1 - i) * 3_600_000, end * math.exp(w - walk[-1])] for i, w in enumerate(walk)]


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        url = urlparse(self.path)
        query = parse_qs(url.query)
        parts = url.path.strip("/").split("/")
        if parts == ["api", "v3", "simple", "price"]:
            ids = query.get("ids", [""])[0].split(",")
            body = {coin: FIXTURE[coin] for coin in ids if coin in FIXTURE}
        elif len(parts) == 5 and parts[:3] == ["api", "v3", "coins"] and parts[4] == "market_chart" and parts[3] in FIXTURE:
            days = int(query.get("days", ["7"])[0])
            body = {"prices": chart(parts[3], days), "market_caps": [], "total_volumes": []}
        else:
            self.send_response(404)
            self.end_headers()
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
