"""A small closed-loop HTTP load generator, bounded in count and in time.

``run`` keeps ``concurrency`` connections busy, each sending one prepared raw
HTTP/1.1 request (``Connection: close``: gunicorn's sync workers close every
connection anyway), reading the answer to the end and checking it.  It stops
issuing requests at the deadline, at ``max_requests``, or when the prepared
requests run out (each réassort link or défi answer is good once), and returns
the completed count, the checks that failed, the latencies and its own CPU time
(it shares the machine's cores with the server: the report states its share).

Plain blocking sockets in threads: cheaper per request than asyncio, and
``recv`` lets the GIL go while the server works.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

#: A check receives (status, headers lower-cased, body) and says whether the answer is the right one.
Check = Callable[[int, dict, bytes], bool]
SOCKET_TIMEOUT = 30.0


@dataclass
class Response:
    status: int
    headers: dict
    body: bytes


@dataclass
class RunResult:
    completed: int = 0
    failed: int = 0
    elapsed: float = 0.0
    client_cpu: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    first_failure: str = ""

    @property
    def ok(self) -> int:
        return self.completed - self.failed

    @property
    def rate(self) -> float:
        """Correct answers per second over the run."""
        return self.ok / self.elapsed if self.elapsed else 0.0


def raw_request(method: str, path: str, host: str, cookie: str | None = None,
                form: dict | None = None) -> bytes:
    """The bytes of one HTTP/1.1 request, form-encoded body when ``form`` is given."""
    from urllib.parse import urlencode

    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "User-Agent: reassort-bench",
             "Accept: text/html", "Connection: close"]
    if cookie:
        lines.append(f"Cookie: {cookie}")
    body = b""
    if form is not None:
        body = urlencode(form).encode()
        lines += ["Content-Type: application/x-www-form-urlencoded", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def parse_response(data: bytes) -> Response:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = _unchunk(body)
    return Response(status, headers, body)


def _unchunk(body: bytes) -> bytes:
    out, rest = [], body
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out.append(rest[:size])
        rest = rest[size + 2:]
    return b"".join(out)


def send(address: tuple[str, int], request: bytes, timeout: float = SOCKET_TIMEOUT) -> bytes:
    """Send ``request`` on a new connection and read the whole answer (until the server closes)."""
    with socket.create_connection(address, timeout=timeout) as sock:
        sock.sendall(request)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


def run(address: tuple[str, int], requests: Iterable[bytes], check: Check, *, concurrency: int,
        duration: float, max_requests: int, stop: threading.Event | None = None) -> RunResult:
    """Load ``address`` with ``requests`` until ``duration`` s, ``max_requests``, their end or ``stop``."""
    source: Iterator[bytes] = iter(requests)
    lock = threading.Lock()
    result = RunResult()
    issued = 0
    start = time.perf_counter()
    deadline = start + duration

    def next_request() -> bytes | None:
        nonlocal issued
        with lock:
            if issued >= max_requests or time.perf_counter() >= deadline or (stop is not None and stop.is_set()):
                return None
            request = next(source, None)
            if request is not None:
                issued += 1
            return request

    def worker() -> None:
        latencies, statuses, failed, first_failure = [], Counter(), 0, ""
        while (request := next_request()) is not None:
            t0 = time.perf_counter()
            try:
                answer = parse_response(send(address, request))
                good = check(answer.status, answer.headers, answer.body)
                statuses[answer.status] += 1
                what = f"HTTP {answer.status} {answer.headers.get('location', '')} {answer.body[:300]!r}"
            except (OSError, ValueError, IndexError) as exc:
                good, what = False, f"{type(exc).__name__}: {exc}"
                statuses["error"] += 1
            latencies.append(time.perf_counter() - t0)
            if not good:
                failed += 1
                first_failure = first_failure or what
        with lock:
            result.latencies.extend(latencies)
            result.statuses.update(statuses)
            result.failed += failed
            result.first_failure = result.first_failure or first_failure

    cpu0 = time.process_time()
    threads = [threading.Thread(target=worker, name=f"load-{i}", daemon=True) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.elapsed = time.perf_counter() - start
    result.client_cpu = time.process_time() - cpu0
    result.completed = len(result.latencies)
    return result


def percentile(values: list[float], q: float) -> float:
    """The ``q`` percentile (0–100) by nearest rank; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(min(rank, len(ordered))) - 1]
