"""Throughput of the QuickBooks sandbox over real HTTP on loopback, limits off.

Starts `python -m qbo_sandbox` (demo company, a fresh SQLite file) in a child process, takes
an access token the way a client does, then drives it from client threads, each with its
own keep-alive connection (plain `http.client`, so the client costs as little as it can):

- creates/s: `POST /customer` (a new DisplayName each time) and `POST /invoice` (two lines,
  one taxable, the server computes tax, totals and the DocNumber);
- reads/s: `GET /invoice/<id>` and `GET /customer/<id>` over the objects just created.

Every loop is bounded (a fixed number of requests per thread and a time cap), so the script
always stops. `--runs N` repeats the whole measurement with a fresh server and reports the
median, min and max. `--ceiling` measures the same client against a trivial FastAPI echo
endpoint under the same uvicorn: what this machine can do at most with this client.

    .venv/bin/python bench/sandbox_throughput.py --runs 3 --ceiling
"""

import argparse
import base64
import http.client
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

REALM = "9130350000000001"
CLIENT = ("fieldbooks-demo", "fieldbooks-demo-secret")
REFRESH_TOKEN = "demo-refresh-token"
TIME_CAP_SECONDS = 60.0


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(port: int, path: str, deadline: float = 30.0) -> None:
    """Block until the server answers on `path`."""
    stop = time.monotonic() + deadline
    while time.monotonic() < stop:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server on port {port} did not start")


def start_sandbox(port: int, db: str) -> subprocess.Popen:
    """The emulator as a user runs it (limits and fault injection off by default)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "qbo_sandbox", "--port", str(port), "--db", db, "--demo"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_until_up(port, "/_sandbox/health")
    return process


def start_echo(port: int) -> subprocess.Popen:
    """The ceiling: a trivial FastAPI app under the same uvicorn."""
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve-echo", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_until_up(port, "/health")
    return process


def serve_echo(port: int) -> None:
    """Run the echo app (child process of `--ceiling`)."""
    import uvicorn
    from fastapi import FastAPI, Request
    from fastapi.responses import Response

    app = FastAPI()

    @app.get("/health")
    def health() -> dict[str, bool]:
        return {"ok": True}

    @app.api_route("/v3/company/{realm}/{rest:path}", methods=["GET", "POST"])
    async def echo(realm: str, rest: str, request: Request) -> Response:
        body = await request.body()
        return Response(body or b'{"Customer": {"Id": "1"}}', media_type="application/json")

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def access_token(port: int) -> str:
    """Refresh the demo company's token as intuit-oauth would."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    basic = base64.b64encode(f"{CLIENT[0]}:{CLIENT[1]}".encode()).decode()
    conn.request(
        "POST",
        "/oauth2/v1/tokens/bearer",
        body=f"grant_type=refresh_token&refresh_token={REFRESH_TOKEN}",
        headers={
            "Authorization": "Basic " + basic,
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    answer = json.loads(conn.getresponse().read())
    conn.close()
    return answer["access_token"]


MakeRequest = Callable[[int, int], tuple[str, str, bytes | None]]


def drive(
    port: int, token: str, make: MakeRequest, per_thread: int, threads: int
) -> tuple[float, list]:
    """Send `per_thread` requests from each thread; returns (requests/s, JSON answers)."""
    headers = {
        "Authorization": "Bearer " + token,
        "Content-Type": "application/json",
        "Accept": "application/json",
    }
    answers: list[list] = [[] for _ in range(threads)]
    errors: list[str] = []
    deadline = time.monotonic() + TIME_CAP_SECONDS
    barrier = threading.Barrier(threads + 1)

    def worker(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        barrier.wait()
        for n in range(per_thread):
            if time.monotonic() > deadline:
                errors.append("time cap reached")
                break
            method, path, body = make(index, n)
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            raw = response.read()
            if response.status != 200:
                errors.append(f"{response.status} {raw[:200]!r}")
                break
            answers[index].append(raw)
        conn.close()

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"benchmark requests failed: {errors[:3]}")
    done = sum(len(a) for a in answers)
    return done / elapsed, [json.loads(raw) for batch in answers for raw in batch]


def invoice_body(customer_id: str) -> bytes:
    """A two-line invoice, one line taxable."""
    return json.dumps(
        {
            "CustomerRef": {"value": customer_id},
            "Line": [
                {
                    "Amount": 150.0,
                    "DetailType": "SalesItemLineDetail",
                    "SalesItemLineDetail": {
                        "ItemRef": {"value": "1"},
                        "Qty": 2,
                        "UnitPrice": 75,
                        "TaxCodeRef": {"value": "TAX"},
                    },
                },
                {
                    "Amount": 50.0,
                    "DetailType": "SalesItemLineDetail",
                    "SalesItemLineDetail": {
                        "ItemRef": {"value": "5"},
                        "TaxCodeRef": {"value": "NON"},
                    },
                },
            ],
            "TxnTaxDetail": {"TxnTaxCodeRef": {"value": "1"}},
        }
    ).encode()


def measure_sandbox(per_thread: int, threads: int) -> dict[str, float]:
    """One run against a fresh emulator."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="qbo_bench_") as tmp:
        process = start_sandbox(port, os.path.join(tmp, "bench.sqlite3"))
        try:
            token = access_token(port)
            base = f"/v3/company/{REALM}"
            tag = str(time.time_ns())

            def customer(i: int, n: int) -> tuple[str, str, bytes]:
                body = json.dumps({"DisplayName": f"Bench {tag} {i}-{n}"}).encode()
                return "POST", f"{base}/customer?minorversion=75", body

            rate_customers, created = drive(port, token, customer, per_thread, threads)
            customer_ids = [answer["Customer"]["Id"] for answer in created]

            def invoice(i: int, n: int) -> tuple[str, str, bytes]:
                owner = customer_ids[(i * per_thread + n) % len(customer_ids)]
                return "POST", f"{base}/invoice?minorversion=75", invoice_body(owner)

            rate_invoices, invoices = drive(port, token, invoice, per_thread, threads)
            invoice_ids = [answer["Invoice"]["Id"] for answer in invoices]

            def read_invoice(i: int, n: int) -> tuple[str, str, None]:
                object_id = invoice_ids[(i * 7919 + n) % len(invoice_ids)]
                return "GET", f"{base}/invoice/{object_id}?minorversion=75", None

            def read_customer(i: int, n: int) -> tuple[str, str, None]:
                object_id = customer_ids[(i * 7919 + n) % len(customer_ids)]
                return "GET", f"{base}/customer/{object_id}?minorversion=75", None

            rate_read_invoices, _ = drive(port, token, read_invoice, per_thread * 2, threads)
            rate_read_customers, _ = drive(port, token, read_customer, per_thread * 2, threads)
        finally:
            process.terminate()
            process.wait(timeout=15)
    return {
        "create customer": rate_customers,
        "create invoice": rate_invoices,
        "read invoice": rate_read_invoices,
        "read customer": rate_read_customers,
    }


def measure_ceiling(per_thread: int, threads: int) -> dict[str, float]:
    """One run against the echo endpoint."""
    port = free_port()
    process = start_echo(port)
    try:
        base = f"/v3/company/{REALM}"

        def post(i: int, n: int) -> tuple[str, str, bytes]:
            return "POST", f"{base}/customer", json.dumps({"DisplayName": f"{i}-{n}"}).encode()

        def get(i: int, n: int) -> tuple[str, str, None]:
            return "GET", f"{base}/customer/1", None

        rate_post, _ = drive(port, "x", post, per_thread, threads)
        rate_get, _ = drive(port, "x", get, per_thread * 2, threads)
    finally:
        process.terminate()
        process.wait(timeout=15)
    return {"echo POST": rate_post, "echo GET": rate_get}


def summarise(runs: list[dict[str, float]]) -> dict[str, tuple[float, float, float]]:
    """(median, min, max) per figure."""
    return {
        key: (
            statistics.median(run[key] for run in runs),
            min(run[key] for run in runs),
            max(run[key] for run in runs),
        )
        for key in runs[0]
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--requests", type=int, default=500, help="creates per thread per run")
    parser.add_argument("--ceiling", action="store_true", help="also measure an echo endpoint")
    parser.add_argument("--serve-echo", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_echo is not None:
        serve_echo(args.serve_echo)
        return 0
    runs = [measure_sandbox(args.requests, args.threads) for _ in range(args.runs)]
    results = summarise(runs)
    if args.ceiling:
        results.update(
            summarise([measure_ceiling(args.requests, args.threads) for _ in range(args.runs)])
        )
    print(
        f"machine: nproc={os.cpu_count()}, python {platform.python_version()}, {platform.platform()}"
    )
    print(
        f"runs={args.runs}, client threads={args.threads}, creates per thread={args.requests}, "
        f"reads per thread={args.requests * 2}"
    )
    print()
    print("| requests | median /s | min /s | max /s |")
    print("|---|---:|---:|---:|")
    for key, (median, low, high) in results.items():
        print(f"| {key} | {median:,.0f} | {low:,.0f} | {high:,.0f} |")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "include"))
    raise SystemExit(main())
