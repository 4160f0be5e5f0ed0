"""A TCP proxy that injects faults between a client and a devstack service, for the fault matrix.

Put it in front of S3, GCS, the SSH bastion or PostgreSQL and switch faults while traffic flows:

    proxy = FaultProxy("127.0.0.1", s3_port).start()
    proxy.set_fault(Fault.http_status(503, count=3))      # next 3 HTTP requests answered 503
    proxy.set_fault(Fault.reset_after(1_000_000))         # cut each connection after ~1 MB to the client
    proxy.set_fault(Fault.reset_after(600, count=1))      # cut one connection only, then let traffic through
    proxy.set_fault(Fault.delay(0.5))                     # add latency to every chunk
    proxy.set_fault(Fault.hold_after(256 * 1024, count=1)) # hold one response after 256 KiB until proxy.release()
    proxy.set_fault(Fault.refuse())                       # close new connections at once
    proxy.cut_all()                                       # drop every open connection now

It runs an asyncio loop in a daemon thread, so tests drive it synchronously. It never touches product code.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from dataclasses import dataclass, field

_CHUNK = 64 * 1024


@dataclass
class Fault:
    kind: str = "none"  # none | delay | reset_after | refuse | http_status | stall | hold_after
    seconds: float = 0.0
    limit_bytes: int = 0
    status: int = 503
    count: int = 0  # http_status, reset_after, hold_after: how many requests / connections it takes (0 = all)
    upstream: bool = False  # reset_after: count the bytes sent to the server (an upload) instead of to the client
    skip: int = 0  # hold_after: how many connections reaching the limit pass before it holds

    @classmethod
    def none(cls) -> Fault:
        return cls()

    @classmethod
    def delay(cls, seconds: float) -> Fault:
        return cls("delay", seconds=seconds)

    @classmethod
    def reset_after(cls, limit_bytes: int, *, upstream: bool = False, count: int = 0) -> Fault:
        return cls("reset_after", limit_bytes=limit_bytes, upstream=upstream, count=count)

    @classmethod
    def hold_after(cls, limit_bytes: int, *, count: int = 0, skip: int = 0) -> Fault:
        """Forward `limit_bytes` to the client, then hold the rest (read from the server and kept, so a
        single-threaded server is not blocked) until `FaultProxy.release()`: an event a test waits for, e.g. "a
        part's download is under way", that lasts until the test has acted on it. The first `skip` connections
        that reach the limit pass."""
        return cls("hold_after", limit_bytes=limit_bytes, count=count, skip=skip)

    @classmethod
    def refuse(cls) -> Fault:
        return cls("refuse")

    @classmethod
    def stall(cls) -> Fault:
        return cls("stall")

    @classmethod
    def http_status(cls, status: int = 503, count: int = 0) -> Fault:
        return cls("http_status", status=status, count=count)


@dataclass
class ProxyStats:
    connections: int = 0
    injected: int = 0
    bytes_to_client: int = 0
    bytes_to_server: int = 0


@dataclass
class FaultProxy:
    target_host: str
    target_port: int
    listen_host: str = "127.0.0.1"
    listen_port: int = 0
    fault: Fault = field(default_factory=Fault)
    stats: ProxyStats = field(default_factory=ProxyStats)

    def __post_init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="faultproxy", daemon=True)
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._lock = threading.Lock()
        self._gate = asyncio.Event()  # set by release(): lets go the connections held until then
        self.held = threading.Event()  # set once a connection is held (Fault.hold_after)

    # ------------------------------------------------------------------ control (called from test threads)
    def start(self) -> FaultProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(10)
        return self

    def stop(self) -> None:
        async def close() -> None:
            if self._server:
                self._server.close()
            for writer in list(self._writers):
                writer.transport.abort()
            # what a held connection still waits on (its release, its next read) ends with the proxy
            pending = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def set_fault(self, fault: Fault) -> None:
        with self._lock:
            self.fault = fault

    def release(self) -> None:
        """Let every connection held so far go on (what it held is forwarded first). A hold_after fault still set
        (count 0, or uses left) holds the next connections again."""
        def open_gate() -> None:
            gate, self._gate = self._gate, asyncio.Event()
            gate.set()
        self._loop.call_soon_threadsafe(open_gate)

    def cut_all(self) -> None:
        """Abort every open connection (both directions), like a crashed peer or a dropped network."""
        def abort() -> None:
            for writer in list(self._writers):
                writer.transport.abort()
        self._loop.call_soon_threadsafe(abort)

    @property
    def address(self) -> tuple[str, int]:
        return self.listen_host, self.listen_port

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ the proxy itself
    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.listen_host, self.listen_port)
        self.listen_port = self._server.sockets[0].getsockname()[1]

    def _take_fault(self, kind: str) -> Fault | None:
        """The current fault if it is of `kind`, one of its `count` uses taken (the last one clears it)."""
        with self._lock:
            fault = self.fault
            if fault.kind != kind:
                return None
            if fault.skip:
                fault.skip -= 1
                return None
            if fault.count:
                fault.count -= 1
                if fault.count == 0:
                    self.fault = Fault()
            return fault

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.stats.connections += 1
        self._writers.add(writer)
        fault = self.fault
        try:
            if fault.kind == "refuse":
                self.stats.injected += 1
                writer.transport.abort()
                return
            if fault.kind == "stall":
                self.stats.injected += 1
                await reader.read()  # hold the connection open, forward nothing
                return
            upstream_reader, upstream_writer = await asyncio.open_connection(self.target_host, self.target_port)
            self._writers.add(upstream_writer)
            try:
                await asyncio.gather(self._pump(reader, upstream_writer, to_server=True, client=writer),
                                     self._pump(upstream_reader, writer, to_server=False, client=writer))
            finally:
                self._writers.discard(upstream_writer)
                upstream_writer.transport.abort()
        except (ConnectionError, OSError):
            pass
        finally:
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.transport.abort()

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, *, to_server: bool,
                    client: asyncio.StreamWriter) -> None:
        sent = 0
        pending_head = b""
        hold_decided = False  # hold_after is taken (or skipped) once per connection
        while True:
            chunk = await source.read(_CHUNK)
            if not chunk:
                with contextlib.suppress(Exception):
                    sink.write_eof()
                return
            fault = self.fault
            if not to_server and not hold_decided and fault.kind == "hold_after" \
                    and sent + len(chunk) > fault.limit_bytes:
                hold_decided = True
                if self._take_fault("hold_after") is not None:
                    self.stats.injected += 1
                    head = max(0, fault.limit_bytes - sent)
                    sink.write(chunk[:head])
                    await sink.drain()
                    sent += head
                    chunk, open_ = await self._hold(source, chunk[head:])
                    if not open_:
                        sink.write(chunk)
                        await sink.drain()
                        with contextlib.suppress(Exception):
                            sink.write_eof()
                        return
            if to_server and fault.kind == "http_status":
                pending_head += chunk
                if b"\r\n\r\n" not in pending_head and len(pending_head) < 65536:
                    continue
                http_fault = self._take_fault("http_status")
                if http_fault is not None:
                    self.stats.injected += 1
                    await self._answer_http(client, http_fault.status)
                    # Close the upstream connection too: a single-threaded server (the GCS emulator) would
                    # otherwise wait forever for a request on it and answer nobody else.
                    sink.transport.abort()
                    return
                chunk, pending_head = pending_head, b""
            elif pending_head:
                chunk, pending_head = pending_head + chunk, b""
            if fault.kind == "delay":
                await asyncio.sleep(fault.seconds)
            if fault.kind == "reset_after" and to_server == fault.upstream and sent + len(chunk) > fault.limit_bytes \
                    and self._take_fault("reset_after") is not None:
                self.stats.injected += 1
                head = chunk[: max(0, fault.limit_bytes - sent)]
                if head:
                    sink.write(head)
                    await sink.drain()
                client.transport.abort()
                if to_server:
                    sink.transport.abort()
                return
            sent += len(chunk)
            if to_server:
                self.stats.bytes_to_server += len(chunk)
            else:
                self.stats.bytes_to_client += len(chunk)
            sink.write(chunk)
            await sink.drain()

    async def _hold(self, source: asyncio.StreamReader, pending: bytes) -> tuple[bytes, bool]:
        """Keep reading what the server sends until release(): (all of it, whether the server's side is open)."""
        self.held.set()
        kept, open_ = [pending], True
        released = asyncio.ensure_future(self._gate.wait())
        while not released.done():
            if not open_:
                await released
                break
            read = asyncio.ensure_future(source.read(_CHUNK))
            await asyncio.wait({read, released}, return_when=asyncio.FIRST_COMPLETED)
            if read.done():
                data = read.result()
                kept.append(data)
                open_ = bool(data)
            else:
                read.cancel()
        return b"".join(kept), open_

    @staticmethod
    async def _answer_http(client: asyncio.StreamWriter, status: int) -> None:
        reasons = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
                   504: "Gateway Timeout", 429: "Too Many Requests"}
        body = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>ServiceUnavailable</Code>'
                b"<Message>injected by r2a faultproxy</Message></Error>")
        head = (f"HTTP/1.1 {status} {reasons.get(status, 'Error')}\r\nContent-Type: application/xml\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
        client.write(head + body)
        with contextlib.suppress(Exception):
            await client.drain()
        client.transport.close()
