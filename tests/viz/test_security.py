"""`silosim viz` hardening: --port and --host checked before serving, a warning beyond loopback, Host/Origin checks.

No test listens beyond 127.0.0.1: in this process, binding any other
address fails as if it were not this machine's (the ``loopback_only``
fixture), and the one real server runs on 127.0.0.1 with a port the system
picks (``--port 0``). No name here needs DNS: the hosts are malformed
literals, names under ``.invalid`` (refused without a lookup) or localhost.
"""

import asyncio
import errno
import http.client
import ipaddress
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from silosim import cli
from silosim.viz import server as viz_server
from tests.helpers import ROOT

SCENARIO = ROOT / "scenarios" / "default.yaml"
PORT = 8765
LOOPBACK = frozenset(
    {"127.0.0.1", "127.0.0.1:8765", "localhost", "localhost:8765", "[::1]", "[::1]:8765"}
)  # allowed_hosts(127.0.0.1, 8765)


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    """In this process, a socket bound beyond loopback fails with EADDRNOTAVAIL instead of listening."""
    real_bind = socket.socket.bind

    def bind(sock, address):
        host = address[0] if isinstance(address, tuple) else None
        if host is not None:
            try:
                local = ipaddress.ip_address(host.split("%")[0]).is_loopback
            except ValueError:
                local = host == "localhost"
            if not local:
                raise OSError(errno.EADDRNOTAVAIL, f"test guard: no binding to {host!r} in tests")
        return real_bind(sock, address)

    monkeypatch.setattr(socket.socket, "bind", bind)


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = cli.main(["viz", str(SCENARIO), *args])
    out, err = capsys.readouterr()
    return code, out, err


# --------------------------------------------------------------------------- 1. --port


@pytest.mark.parametrize("port", ["70000", "65536", "-1", "http", "80.5"])
def test_a_port_out_of_range_is_refused_in_one_line_with_exit_2(capsys, port):
    code, out, err = run_cli(capsys, f"--port={port}")
    assert code == 2
    assert err == (
        f"silosim viz: argument --port: expected a port from 1 to 65535 (or 0: any free port), got '{port}'\n"
    )
    assert out == ""


def test_serve_refuses_a_port_out_of_range():
    with pytest.raises(ValueError, match=r"^--port 70000: expected a port from 1 to 65535, or 0 for any free port$"):
        viz_server.serve(SCENARIO, port=70000)


# --------------------------------------------------------------------------- 2. --host


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("", "expected an address such as 127.0.0.1 (this machine only), 0.0.0.0 (every interface) or a name"),
        (" ", "expected an address such as 127.0.0.1"),
        ("999.1.1.1", "not an IPv4 address: expected four numbers from 0 to 255 joined by dots, such as 127.0.0.1"),
        ("1.2.3", "not an IPv4 address"),
        ("-bad-", "not a host name: expected labels of letters, digits and '-' joined by dots, none starting or"),
        ("bad host", "not a host name"),
        ("no.such.host.invalid", "names under .invalid never resolve; expected 127.0.0.1 (this machine only)"),
        ("::g", "not an IPv6 address: expected one such as ::1"),
    ],
    ids=["empty", "blank", "999.1.1.1", "1.2.3", "-bad-", "space", "invalid-tld", "::g"],
)
def test_a_bad_host_is_refused_in_one_line_naming_it_with_exit_2(capsys, host, expected):
    code, out, err = run_cli(capsys, f"--host={host}")
    assert code == 2
    assert err.startswith(f"silosim viz: --host {host!r}: {expected}")
    assert err.count("\n") == 1 and "Traceback" not in err
    assert out == ""  # nothing served, no address printed


def test_a_host_that_is_not_this_machines_is_refused_with_exit_2(capsys):
    code, out, err = run_cli(capsys, "--host", "192.0.2.1", "--port", "0")  # TEST-NET-1 (binding it: EADDRNOTAVAIL)
    assert code == 2
    assert err == (
        "silosim viz: --host '192.0.2.1': 192.0.2.1 is not an address of this machine; expected 127.0.0.1 "
        "(this machine only), 0.0.0.0 (every interface) or a name this machine resolves\n"
    )
    assert out == ""


def test_resolve_host_parses_literals_and_resolves_localhost():
    v4 = viz_server.resolve_host("127.0.0.1", 8765)
    assert (v4.family, v4.sockaddr, v4.loopback, v4.everywhere) == (socket.AF_INET, ("127.0.0.1", 8765), True, False)
    v6 = viz_server.resolve_host("[::1]", 8765)
    assert (v6.family, str(v6.ip), v6.loopback) == (socket.AF_INET6, "::1", True)
    assert viz_server.resolve_host("0.0.0.0").everywhere and not viz_server.resolve_host("0.0.0.0").loopback
    assert viz_server.resolve_host("::").everywhere
    assert not viz_server.resolve_host("10.1.2.3").loopback  # parsed only: nothing binds it
    local = viz_server.resolve_host("localhost")  # /etc/hosts, the local resolver
    assert local.loopback and local.host == "localhost"


def test_a_bad_allow_host_is_refused_in_one_line_with_exit_2(capsys):
    code, out, err = run_cli(capsys, "--allow-host", "http://sim.example.org/page")
    assert code == 2
    assert err == (
        "silosim viz: --allow-host 'http://sim.example.org/page': expected a host name or address, with or without "
        "a port, or an origin, such as sim.example.org, 10.0.0.5:8765 or https://sim.example.org\n"
    )
    assert out == ""


# --------------------------------------------------------------------------- 3. a warning beyond loopback


@pytest.mark.parametrize(
    ("host", "where"),
    [("0.0.0.0", "every network interface"), ("::", "every network interface"), ("10.1.2.3", "10.1.2.3, not only")],
)
def test_exposure_warning_beyond_loopback(host, where):
    warning = viz_server.exposure_warning(viz_server.resolve_host(host), 8765)
    assert warning == (
        f"silosim viz: warning: --host {host} listens on {where}"
        + ("" if "not only" not in where else " this machine")
        + ": anyone who can reach this machine on port 8765 can open the page and make it run simulations; "
        "use --host 127.0.0.1 to keep it on this machine"
    )


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.0.0.2"])
def test_no_warning_on_loopback(host):
    assert viz_server.exposure_warning(viz_server.resolve_host(host), 8765) is None


def test_viz_on_every_interface_warns_on_stderr_before_serving(capsys, monkeypatch):
    """Through the command line; the socket is a loopback one and the server is not run (nothing listens widely)."""
    served = {}

    def listen(address):
        served["address"] = address
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        return sock

    def run(sock, source, seed, allowed):
        served["allowed"] = allowed
        served["port"] = sock.getsockname()[1]
        return 0

    monkeypatch.setattr(viz_server, "_listen", listen)
    monkeypatch.setattr(viz_server, "_run", run)
    monkeypatch.setattr(socket, "gethostname", lambda: "build-box.corp.example")
    code, out, err = run_cli(capsys, "--host", "0.0.0.0", "--allow-host", "sim.example.org")
    assert code == 0
    port = served["port"]
    assert err == (
        f"silosim viz: warning: --host 0.0.0.0 listens on every network interface: anyone who can reach this "
        f"machine on port {port} can open the page and make it run simulations; use --host 127.0.0.1 to keep it "
        "on this machine\n"
    )
    assert out == f"silosim viz: default at http://0.0.0.0:{port}/  (Ctrl-C to stop)\n"
    assert str(served["address"].ip) == "0.0.0.0"
    for name in ("0.0.0.0", "build-box.corp.example", "build-box", "sim.example.org", "localhost"):
        assert {name, f"{name}:{port}"} <= served["allowed"]


def test_viz_on_loopback_prints_no_warning(capsys, monkeypatch):
    monkeypatch.setattr(viz_server, "_run", lambda sock, source, seed, allowed: 0)
    code, out, err = run_cli(capsys, "--port", "0")
    assert (code, err) == (0, "")
    assert re.fullmatch(r"silosim viz: default at http://127\.0\.0\.1:\d+/  \(Ctrl-C to stop\)\n", out)


# --------------------------------------------------------------------------- 4. Host and Origin, by hand


def test_allowed_hosts_on_loopback_are_the_address_and_the_loopback_names():
    assert viz_server.allowed_hosts(viz_server.resolve_host("127.0.0.1"), PORT, hostname="build-box") == LOOPBACK
    assert viz_server.allowed_hosts(viz_server.resolve_host("localhost"), PORT, hostname="build-box") == LOOPBACK
    assert viz_server.allowed_hosts(viz_server.resolve_host("::1"), PORT) == LOOPBACK


def test_allowed_hosts_beyond_loopback_are_the_address_and_the_machines_name():
    allowed = viz_server.allowed_hosts(viz_server.resolve_host("10.1.2.3"), PORT, hostname="Build-Box.corp.example")
    assert allowed == {
        "10.1.2.3",
        "10.1.2.3:8765",
        "build-box.corp.example",
        "build-box.corp.example:8765",
        "build-box",
        "build-box:8765",
    }
    everywhere = viz_server.allowed_hosts(viz_server.resolve_host("::"), PORT, hostname="build-box")
    assert everywhere == LOOPBACK | {"[::]", "[::]:8765", "build-box", "build-box:8765"}


def test_allow_host_entries_add_names_ports_and_origins():
    extra = ["Sim.Example.org", "proxy.example:8443", "https://viz.example.net", "10.0.0.5", "[fe80::1]:9000"]
    allowed = viz_server.allowed_hosts(viz_server.resolve_host("127.0.0.1"), PORT, extra)
    assert allowed - LOOPBACK == {
        "sim.example.org",
        "sim.example.org:8765",
        "proxy.example:8443",  # a port given: only that one
        "viz.example.net",
        "viz.example.net:8765",
        "10.0.0.5",
        "10.0.0.5:8765",
        "[fe80::1]:9000",
    }


@pytest.mark.parametrize(
    ("host", "origin", "status"),
    [
        ("127.0.0.1:8765", None, None),
        ("127.0.0.1", None, None),
        ("localhost:8765", "http://localhost:8765", None),
        ("LocalHost", "http://127.0.0.1:8765", None),
        ("[::1]:8765", "http://[::1]:8765", None),
        ("[0:0::1]:8765", "https://localhost", None),
        ("localhost.:8765", None, None),
        ("evil.example", None, 400),  # DNS rebinding: the attacker's name, resolving to 127.0.0.1
        ("evil.example:8765", "http://evil.example:8765", 400),
        ("127.0.0.1:9999", None, 400),  # another port
        ("127.0.0.1:8765@evil.example", None, 400),
        (None, None, 400),
        ("", None, 400),
        ("127.0.0.1:8765", "http://evil.example", 403),  # cross-site websocket / form post
        ("127.0.0.1:8765", "http://localhost:3000", 403),  # another local site
        ("127.0.0.1:8765", "null", 403),
        ("127.0.0.1:8765", "file://", 403),
        ("127.0.0.1:8765", "ws://127.0.0.1:8765", 403),
        ("127.0.0.1:8765", "http://user@127.0.0.1:8765", 403),
        ("127.0.0.1:8765", "", 403),
    ],
)
def test_refusal_by_hand(host, origin, status):
    refused = viz_server.refusal(host, origin, LOOPBACK)
    assert (refused and refused[0]) == status
    assert viz_server.allowed(host, origin, LOOPBACK) is (status is None)


def test_refusal_messages_name_the_header_and_the_flag():
    assert viz_server.refusal("evil.example:8765", None, LOOPBACK) == (
        400,
        "silosim viz: refused: Host 'evil.example:8765' is not an address of this page; "
        "start silosim viz with --allow-host evil.example:8765 to allow it",
    )
    assert viz_server.refusal("localhost", "http://evil.example", LOOPBACK) == (
        403,
        "silosim viz: refused: requests from origin 'http://evil.example' are not allowed; "
        "start silosim viz with --allow-host http://evil.example to allow it",
    )
    assert viz_server.refusal(None, None, LOOPBACK) == (
        400,
        "silosim viz: refused: the request has no Host header (or more than one)",
    )


def guarded(scope: dict, messages: list[dict]) -> tuple[list[dict], list[dict]]:
    """Run one ASGI call through HostGuard: (what it sent, the scopes the wrapped app received)."""
    sent, reached = [], []
    incoming = list(messages)

    async def app(scope, receive, send):
        reached.append(scope)

    async def receive():
        return incoming.pop(0)

    async def send(message):
        sent.append(message)

    asyncio.run(viz_server.HostGuard(app, LOOPBACK)(scope, receive, send))
    return sent, reached


def test_host_guard_refuses_a_foreign_host_with_400_and_passes_its_own(capsys):
    foreign = {"type": "http", "headers": [(b"host", b"evil.example")]}
    sent, reached = guarded(foreign, [])
    assert reached == []
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 400
    assert sent[1]["body"].decode().startswith("silosim viz: refused: Host 'evil.example' is not an address")
    own = {"type": "http", "headers": [(b"host", b"127.0.0.1:8765")]}
    assert guarded(own, []) == ([], [own])
    twice = {"type": "http", "headers": [(b"host", b"127.0.0.1:8765"), (b"host", b"evil.example")]}
    assert guarded(twice, [])[0][0]["status"] == 400
    assert "refused: Host 'evil.example'" in capsys.readouterr().err  # reported on the server's stderr


def test_host_guard_closes_a_foreign_websocket_before_accepting_it():
    headers = [(b"host", b"127.0.0.1:8765"), (b"origin", b"http://evil.example")]
    connect = [{"type": "websocket.connect"}]
    sent, reached = guarded({"type": "websocket", "headers": headers}, connect)
    assert reached == [] and sent == [{"type": "websocket.close", "code": 1008}]
    scope = {"type": "websocket", "headers": headers, "extensions": {"websocket.http.response": {}}}
    sent, reached = guarded(scope, connect)
    assert reached == []
    assert [m["type"] for m in sent] == ["websocket.http.response.start", "websocket.http.response.body"]
    assert sent[0]["status"] == 403
    own = {"type": "websocket", "headers": [(b"host", b"127.0.0.1:8765"), (b"origin", b"http://127.0.0.1:8765")]}
    assert guarded(own, connect) == ([], [own])


def test_host_guard_passes_lifespan_through():
    scope = {"type": "lifespan"}
    assert guarded(scope, []) == ([], [scope])


# --------------------------------------------------------------------------- 4. against a real server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`silosim viz --port 0 --allow-host sim.example.org` on 127.0.0.1; yields its port."""
    exe = Path(sys.executable).parent / "silosim"
    log = tmp_path_factory.mktemp("viz-security") / "server.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(exe), "viz", str(SCENARIO), "--port", "0", "--allow-host", "sim.example.org"],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 90
        port = None
        while True:
            if process.poll() is not None:
                pytest.fail(f"silosim viz exited with {process.returncode}:\n{log.read_text()}")
            if port is None and (found := re.search(r"at http://127\.0\.0\.1:(\d+)/", log.read_text())):
                port = int(found[1])
            if port is not None and get(port, "/readyz", {"Host": f"127.0.0.1:{port}"})[0] == 200:
                break
            if time.monotonic() > deadline:
                pytest.fail(f"silosim viz did not answer within 90 s:\n{log.read_text()}")
            time.sleep(0.2)
        yield port
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    assert process.returncode == 0, log.read_text()


def get(port: int, path: str, headers: dict[str, str]) -> tuple[int | None, str]:
    """(status, body) of a GET to 127.0.0.1 with exactly these headers (None: no answer yet)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
        for key, value in headers.items():
            connection.putheader(key, value)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    except OSError:
        return None, ""
    finally:
        connection.close()


def websocket_status_line(port: int, origin: str) -> str:
    """The first line of the answer to a websocket upgrade of the page's kernel channel from ``origin``."""
    request = (
        "GET /jupyter/api/kernels/test-kernel/channels?session_id=test HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        f"Origin: {origin}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request.encode())
        answer = b""
        while b"\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer.split(b"\r\n", 1)[0].decode()


def test_real_server_answers_its_own_host_names(server):
    for host in (f"127.0.0.1:{server}", "127.0.0.1", f"localhost:{server}", "sim.example.org"):
        status, body = get(server, "/", {"Host": host})
        assert status == 200, host
        assert "<html" in body.lower()
    assert get(server, "/", {"Host": f"127.0.0.1:{server}", "Origin": f"http://localhost:{server}"})[0] == 200
    assert get(server, "/", {"Host": "sim.example.org", "Origin": "https://sim.example.org"})[0] == 200


def test_real_server_refuses_a_foreign_host_with_400(server):
    status, body = get(server, "/", {"Host": "evil.example"})
    assert status == 400
    assert body.startswith("silosim viz: refused: Host 'evil.example' is not an address of this page")
    assert get(server, "/readyz", {"Host": f"evil.example:{server}"})[0] == 400
    assert get(server, "/", {})[0] == 400  # no Host at all


def test_real_server_refuses_a_foreign_origin_with_403(server):
    status, body = get(server, "/", {"Host": f"127.0.0.1:{server}", "Origin": "http://evil.example"})
    assert status == 403
    assert body.startswith("silosim viz: refused: requests from origin 'http://evil.example' are not allowed")


def test_real_server_refuses_a_cross_site_websocket_and_upgrades_its_own(server):
    assert websocket_status_line(server, "http://evil.example") == "HTTP/1.1 403 Forbidden"
    assert websocket_status_line(server, f"http://localhost:{server + 1}") == "HTTP/1.1 403 Forbidden"
    assert websocket_status_line(server, f"http://127.0.0.1:{server}") == "HTTP/1.1 101 Switching Protocols"
