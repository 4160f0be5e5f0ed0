
"""The fault proxy itself, against a real local HTTP server (the fault matrix relies on it)."""

import http.client
import http.server
import socket
import threading
import urllib.error
import urllib.request

import pytest

from devstack.faultproxy import Fault, FaultProxy

PAYLOAD = b"x" * 300_000


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's naming
        self.send_response(200)
        self.send_header("Content-Length", str(len(PAYLOAD)))
        self.end_headers()
        self.wfile.write(PAYLOAD)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address
    httpd.shutdown()


@pytest.fixture
def proxy(server):
    with FaultProxy(*server) as running:
        yield running


def fetch(proxy):
    host, port = proxy.address
    with urllib.request.urlopen(f"http://{host}:{port}/obj", timeout=5) as response:
        return response.status, response.read()


def test_passes_traffic_through(proxy):
    assert fetch(proxy) == (200, PAYLOAD)
    assert proxy.stats.bytes_to_client >= len(PAYLOAD)


def test_http_status_for_a_count_of_requests_then_recovers(proxy):
    proxy.set_fault(Fault.http_status(503, count=2))
    for _ in range(2):
        with pytest.raises(urllib.error.HTTPError) as caught:
            fetch(proxy)
        assert caught.value.code == 503
    assert fetch(proxy) == (200, PAYLOAD)
    assert proxy.stats.injected == 2


def test_reset_mid_response(proxy):
    proxy.set_fault(Fault.reset_after(100_000))
    with pytest.raises((ConnectionError, urllib.error.URLError, http.client.IncompleteRead)):
        fetch(proxy)
    proxy.set_fault(Fault.none())
    assert fetch(proxy) == (200, PAYLOAD)


def test_a_counted_reset_cuts_that_many_connections_then_lets_traffic_through(proxy):
    proxy.set_fault(Fault.reset_after(100_000, count=1))
    with pytest.raises((ConnectionError, urllib.error.URLError, http.client.IncompleteRead)):
        fetch(proxy)
    assert fetch(proxy) == (200, PAYLOAD)  # no set_fault in between: the one cut was used up
    assert proxy.stats.injected == 1


def test_refuse_new_connections(proxy):
    proxy.set_fault(Fault.refuse())
    with pytest.raises((ConnectionError, urllib.error.URLError, http.client.RemoteDisconnected)):
        fetch(proxy)


def test_injected_statuses_do_not_starve_a_single_threaded_upstream():
    """The GCS emulator serves one connection at a time: the upstream connection of an answered request must
    be closed, or the emulator waits on it and the next requests hang."""
    httpd = http.server.HTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        with FaultProxy(*httpd.server_address) as running:
            running.set_fault(Fault.http_status(503, count=3))
            for _ in range(3):
                with pytest.raises(urllib.error.HTTPError):
                    fetch(running)
            assert fetch(running) == (200, PAYLOAD)
    finally:
        httpd.shutdown()


def test_hold_after_keeps_the_rest_until_released_then_forwards_all_of_it(proxy):
    proxy.set_fault(Fault.hold_after(100_000, count=1))
    with socket.create_connection(proxy.address, timeout=5) as client:
        client.sendall(b"GET /obj HTTP/1.0\r\n\r\n")
        received = b""
        while len(received) < 100_000:
            received += client.recv(65536)
        assert proxy.held.wait(5) and len(received) == 100_000
        client.settimeout(0.5)
        with pytest.raises(TimeoutError):
            client.recv(65536)  # the rest is held
        proxy.release()
        client.settimeout(5)
        while chunk := client.recv(65536):
            received += chunk
    assert received.endswith(PAYLOAD)
    assert fetch(proxy) == (200, PAYLOAD)  # one connection held; later ones pass


def test_hold_after_lets_the_first_skip_connections_pass(proxy):
    proxy.set_fault(Fault.hold_after(100_000, skip=1))
    assert fetch(proxy) == (200, PAYLOAD) and not proxy.held.is_set()
    with socket.create_connection(proxy.address, timeout=5) as client:
        client.sendall(b"GET /obj HTTP/1.0\r\n\r\n")
        assert proxy.held.wait(5)
    proxy.set_fault(Fault())
    proxy.release()
    assert fetch(proxy) == (200, PAYLOAD)
