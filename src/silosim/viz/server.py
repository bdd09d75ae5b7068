"""The server of the page: offline assets, who may use the page, and :func:`serve`.

:func:`serve` runs the page (:mod:`silosim.app`) with solara's server in
this process, every JavaScript asset coming from the installed
``solara-assets`` package: nothing is fetched from the internet, and no
version check or telemetry is sent. It answers only requests addressed to
the page itself from the page itself (the ``Host`` and ``Origin`` checks of
:class:`HostGuard`, against DNS rebinding and cross-site websockets).
"""

from __future__ import annotations

import errno
import ipaddress
import os
import re
import socket
import sys
import threading
import typing
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from silosim.scenario import load

STOPPING = threading.Event()  # set when the server stops: the page's Play threads are not daemons
ENV_SCENARIO = "SILOSIM_VIZ_SCENARIO"  # the scenario file the page serves (set by serve)
ENV_SEED = "SILOSIM_VIZ_SEED"  # the --seed given to serve, if any
ENV_SCALE = "SILOSIM_VIZ_SCALE"  # the --scale given to serve, if not 1

# --------------------------------------------------------------------------- offline assets

# solara-assets ships these at full versions; solara's Altair widget asks for the short names
ASSET_ALIASES = {"vega@5": "vega@5.21.0", "vega-lite@5": "vega-lite@5.2.0", "vega-embed@6": "vega-embed@6.20.2"}
# where solara would fetch a missing asset: a loopback port, so that no request can leave the machine
OFFLINE_CDN = "http://127.0.0.1:9/npm/"


def prepare_offline_assets() -> Path:
    """Make solara serve its JavaScript from the installed solara-assets and never go online.

    Turns off solara's telemetry, points its asset proxy at the installed
    asset folder (``sys.prefix/share/solara/cdn``), adds the short-name
    aliases its Altair widget asks for, and makes a missing asset a local 404
    instead of a fetch from a CDN. Must run before solara's server is
    imported; returns the asset folder.

    Raises:
        RuntimeError: solara-assets is not installed, or its folder cannot be used.
    """
    os.environ["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] = "False"
    os.environ["SOLARA_ASSETS_PROXY"] = "True"
    os.environ["SOLARA_ASSETS_CDN"] = OFFLINE_CDN
    os.environ["SOLARA_MODE"] = "production"
    import solara.server.cdn_helper as cdn_helper
    import solara.server.settings as server_settings
    import solara.settings

    server_settings.telemetry.mixpanel_enable = False
    server_settings.main.mode = "production"
    solara.settings.assets.cdn = OFFLINE_CDN
    folder = Path(server_settings.assets.proxy_cache_dir)
    if not solara.settings.assets.proxy:
        raise RuntimeError(f"solara cannot use its asset folder {folder}; the page would load its scripts from a CDN")
    if not (folder / "requirejs@2.3.6").is_dir():
        raise RuntimeError(f"no JavaScript assets in {folder}: install solara-assets (pip install solara-assets)")
    for short, full in ASSET_ALIASES.items():
        if (folder / full).is_dir() and not (folder / short).exists():
            try:
                (folder / short).symlink_to(full, target_is_directory=True)
            except OSError as exc:  # a read-only environment: only Altair charts would miss them
                print(f"silosim viz: cannot alias {short} -> {full} in {folder}: {exc}", file=sys.stderr)

    def offline(url: str) -> bytes:
        raise FileNotFoundError(f"{url}: not in the installed assets, and silosim viz never fetches from the internet")

    if hasattr(cdn_helper, "fetch_from_cdn"):
        cdn_helper.fetch_from_cdn = offline
    return folder


# --------------------------------------------------------------------------- who may use the page

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")  # always allowed when bound to loopback or everywhere
_LABEL = re.compile(r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?")
EXAMPLE_HOSTS = "127.0.0.1 (this machine only), 0.0.0.0 (every interface) or a name this machine resolves"


class AddressError(ValueError):
    """A ``--host`` or ``--allow-host`` value that cannot be used; the message names the flag and the value."""


@dataclass(frozen=True)
class Address:
    """Where the server listens: the ``--host`` as given, resolved to one numeric address.

    Attributes:
        host: the host as given (a name, or a literal address).
        ip: the address it resolved to.
        family: ``socket.AF_INET`` or ``socket.AF_INET6``.
        sockaddr: what ``socket.bind`` takes.
    """

    host: str
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address
    family: int
    sockaddr: tuple

    @property
    def loopback(self) -> bool:
        """Whether only this machine can reach the address."""
        return self.ip.is_loopback

    @property
    def everywhere(self) -> bool:
        """Whether it is the wildcard address (0.0.0.0 or ::): every interface, loopback included."""
        return self.ip.is_unspecified


def check_port(port: int) -> int:
    """The port, if it is a TCP port or 0 (any free port).

    Raises:
        ValueError: not a whole number from 0 to 65535.
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"--port {port!r}: expected a port from 1 to 65535, or 0 for any free port")
    return port


def _is_host_name(name: str) -> bool:
    """Whether ``name`` is a syntactically valid host name (dot-separated labels, an optional final dot)."""
    name = name.lower().removesuffix(".")
    return 0 < len(name) <= 253 and all(_LABEL.fullmatch(label) for label in name.split("."))


def resolve_host(host: str, port: int = 0) -> Address:
    """The address to listen on for ``--host``, found without any network lookup beyond the local resolver.

    Literal addresses are parsed, never looked up; a name is checked for
    syntax, refused at once if it is under ``.invalid`` (RFC 6761: such names
    never resolve), and otherwise asked of the system resolver; the first
    IPv4 address it gives is used, else the first IPv6 one.

    Args:
        host: a literal IPv4 or IPv6 address (brackets allowed) or a host name.
        port: the port, for the returned ``sockaddr``.

    Returns:
        The resolved address.

    Raises:
        AddressError: empty, malformed, or the name does not resolve.
    """
    if not isinstance(host, str) or not host.strip():
        raise AddressError(f"--host {host!r}: expected an address such as {EXAMPLE_HOSTS}; got nothing")
    text = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        ip = None
    if ip is None:
        if re.fullmatch(r"[0-9.]+", text):
            raise AddressError(
                f"--host {host!r}: not an IPv4 address: expected four numbers from 0 to 255 joined by dots, "
                "such as 127.0.0.1"
            )
        if ":" in text:
            raise AddressError(f"--host {host!r}: not an IPv6 address: expected one such as ::1")
        if not _is_host_name(text):
            raise AddressError(
                f"--host {host!r}: not a host name: expected labels of letters, digits and '-' joined by dots, "
                "none starting or ending with '-', such as localhost"
            )
        if text.lower().removesuffix(".").split(".")[-1] == "invalid":
            raise AddressError(f"--host {host!r}: names under .invalid never resolve; expected {EXAMPLE_HOSTS}")
    flags = socket.AI_NUMERICHOST if ip is not None else 0
    try:
        found = socket.getaddrinfo(text, port, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, flags)
    except (socket.gaierror, UnicodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise AddressError(f"--host {host!r}: cannot resolve it ({reason}); expected {EXAMPLE_HOSTS}") from None
    found = [f for f in found if f[0] in (socket.AF_INET, socket.AF_INET6)]
    if not found:
        raise AddressError(f"--host {host!r}: resolves to no IPv4 or IPv6 address; expected {EXAMPLE_HOSTS}")
    family, _, _, _, sockaddr = next((f for f in found if f[0] == socket.AF_INET), found[0])
    return Address(host=host, ip=ipaddress.ip_address(sockaddr[0].split("%")[0]), family=family, sockaddr=sockaddr)


def normalize_authority(text: str) -> str | None:
    """``host`` or ``host:port`` in one canonical spelling (lower case, IPv6 in brackets), or None if malformed.

    Examples: ``LocalHost:08765`` → ``localhost:8765``; ``[0:0::1]`` → ``[::1]``; ``::1`` → ``[::1]``.
    """
    text = text.strip().lower()
    port = None
    if text.startswith("["):
        name, _, rest = text[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                return None
            port = rest[1:]
    elif text.count(":") == 1:
        name, port = text.split(":")
    else:
        name = text
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        ip = None
    if ip is not None:
        name = f"[{ip.compressed}]" if ip.version == 6 else ip.compressed
    elif _is_host_name(name):
        name = name.removesuffix(".")
    else:
        return None
    if port is None:
        return name
    if not port.isascii() or not port.isdigit() or not 0 < int(port) <= 65535:
        return None
    return f"{name}:{int(port)}"


def origin_authority(origin: str) -> str | None:
    """The ``host[:port]`` of an http(s) ``Origin`` header (canonical), or None for any other origin."""
    parts = urlsplit(origin.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
        return None
    if parts.query or parts.fragment or "@" in parts.netloc:
        return None
    return normalize_authority(parts.netloc)


def allow_host_entry(text: str) -> str:
    """One ``--allow-host`` value as a canonical ``host`` or ``host:port``.

    Takes a host name or address, with or without a port, or an origin such
    as ``https://sim.example.org``.

    Raises:
        AddressError: none of those.
    """
    entry = origin_authority(text) if "://" in text else normalize_authority(text)
    if not text.strip() or entry is None:
        raise AddressError(
            f"--allow-host {text!r}: expected a host name or address, with or without a port, or an origin, "
            "such as sim.example.org, 10.0.0.5:8765 or https://sim.example.org"
        )
    return entry


def allowed_hosts(
    address: Address, port: int, extra: typing.Iterable[str] = (), hostname: str | None = None
) -> frozenset[str]:
    """The ``Host`` (and ``Origin`` host) values the page answers, each as ``host`` and ``host:port``.

    Always the bound address, as given and as resolved. Bound to loopback or
    to every interface (which includes loopback): also ``localhost``,
    ``127.0.0.1`` and ``[::1]``. Bound beyond loopback: also the machine's
    host name (``hostname``, full and first label). Then each ``extra``
    entry (see :func:`allow_host_entry`): with its port as given, without
    one as the bare name and with ``port``.

    Args:
        address: where the server listens.
        port: the port it listens on (the real one, if 0 was asked for).
        extra: ``--allow-host`` values.
        hostname: this machine's name (``socket.gethostname()``); used only beyond loopback.

    Returns:
        Canonical ``host`` / ``host:port`` strings.
    """
    names = {address.host, str(address.ip)}
    if address.loopback or address.everywhere:
        names.update(LOOPBACK_NAMES)
    if not address.loopback and hostname:
        names.update({hostname, hostname.split(".")[0]})
    allowed: set[str] = set()
    for name in names:
        canonical = normalize_authority(name)
        if canonical is not None:
            allowed.update({canonical, f"{canonical}:{port}"})
    for entry in extra:
        canonical = allow_host_entry(entry)
        has_port = canonical.rsplit("]", 1)[-1].count(":") == 1
        allowed.update({canonical} if has_port else {canonical, f"{canonical}:{port}"})
    return frozenset(allowed)


def refusal(host_header: str | None, origin_header: str | None, allowed: frozenset[str]) -> tuple[int, str] | None:
    """Whether to refuse a request: None to serve it, else the HTTP status and a one-line reason.

    The ``Host`` must be one of ``allowed`` (else 400: a DNS-rebinding page
    sends its own name); an ``Origin``, if sent, must be an http(s) origin
    whose host is one of ``allowed`` (else 403: another site's page, e.g. a
    cross-site websocket). A request without ``Origin`` (not sent by a
    browser for a plain page load) passes.

    Args:
        host_header: the ``Host`` header, or None if missing (or sent more than once).
        origin_header: the ``Origin`` header, or None if not sent.
        allowed: from :func:`allowed_hosts`.
    """
    if host_header is None or not host_header.strip():
        return 400, "silosim viz: refused: the request has no Host header (or more than one)"
    host = normalize_authority(host_header)
    if host not in allowed:
        fix = f"; start silosim viz with --allow-host {host} to allow it" if host else ""
        return 400, f"silosim viz: refused: Host {host_header!r} is not an address of this page{fix}"
    if origin_header is not None and (origin := origin_authority(origin_header)) not in allowed:
        fix = f"; start silosim viz with --allow-host {origin_header} to allow it" if origin else ""
        return 403, f"silosim viz: refused: requests from origin {origin_header!r} are not allowed{fix}"
    return None


def allowed(host_header: str | None, origin_header: str | None, allowed_hosts: frozenset[str]) -> bool:
    """Whether a request with these ``Host`` and ``Origin`` headers is served (see :func:`refusal`)."""
    return refusal(host_header, origin_header, allowed_hosts) is None


class HostGuard:
    """ASGI middleware: answers only requests for this page's addresses, from this page's origins.

    HTTP requests refused by :func:`refusal` get its status (400 or 403)
    and a short text body; refused websockets are closed before the
    handshake is accepted (HTTP 403). Other scopes (lifespan) pass through.
    Each distinct refusal is also reported once on stderr.
    """

    def __init__(self, app: typing.Callable, allowed: frozenset[str]):
        """Wrap ``app``.

        Args:
            app: the ASGI application (solara's starlette app).
            allowed: from :func:`allowed_hosts`.
        """
        self.app = app
        self.allowed = allowed
        self.reported: set[str] = set()

    async def __call__(self, scope: dict, receive: typing.Callable, send: typing.Callable) -> None:
        """Check the request's headers, then pass it on or refuse it."""
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        hosts = [value.decode("latin-1") for key, value in scope["headers"] if key.lower() == b"host"]
        origins = [value.decode("latin-1") for key, value in scope["headers"] if key.lower() == b"origin"]
        host = hosts[0] if len(hosts) == 1 else None
        origin = None if not origins else origins[0] if len(origins) == 1 else "(several)"
        refused = refusal(host, origin, self.allowed)
        if refused is None:
            await self.app(scope, receive, send)
            return
        status, reason = refused
        if reason not in self.reported and len(self.reported) < 100:
            self.reported.add(reason)
            print(reason, file=sys.stderr, flush=True)
        body = (reason + "\n").encode()
        headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        message = await receive()  # websocket.connect: the handshake waits for the answer
        if message["type"] != "websocket.connect":
            return
        if "websocket.http.response" in scope.get("extensions", {}):
            await send({"type": "websocket.http.response.start", "status": 403, "headers": headers})
            await send({"type": "websocket.http.response.body", "body": body})
        else:
            await send({"type": "websocket.close", "code": 1008})  # before accept: the server answers 403


def exposure_warning(address: Address, port: int) -> str | None:
    """The warning printed when the page is reachable from other machines (None on loopback)."""
    if address.loopback:
        return None
    where = "every network interface" if address.everywhere else f"{address.ip}, not only this machine"
    return (
        f"silosim viz: warning: --host {address.host} listens on {where}: anyone who can reach this machine "
        f"on port {port} can open the page and make it run simulations; use --host 127.0.0.1 to keep it on "
        "this machine"
    )


# --------------------------------------------------------------------------- listening and running


def _listen(address: Address) -> socket.socket:
    """A listening TCP socket on the address.

    Raises:
        OSError: the address cannot be used (in use, not this machine's, ...).
    """
    sock = socket.socket(address.family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address.sockaddr)
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def serve(
    scenario: str | Path,
    host: str = "127.0.0.1",
    port: int = 8765,
    seed: int | None = None,
    allow_hosts: typing.Sequence[str] = (),
    scale: float = 1.0,
) -> int:
    """Serve the page for one scenario file until Ctrl-C (or SIGTERM); print its address.

    Only requests for the page's own addresses are answered, and only from
    its own origins (see :func:`allowed_hosts` and :class:`HostGuard`).
    Listening beyond loopback prints a warning on stderr first.

    Args:
        scenario: scenario YAML file (validated by the caller; invalid input raises ScenarioError).
        host: address to listen on; 127.0.0.1 keeps the page on this machine.
        port: port to listen on (0: any free port; the printed address says which).
        seed: seed for the page's models (default: the scenario's).
        allow_hosts: more host names, addresses or origins the page answers (``--allow-host``).
        scale: ``--scale``: the organisation this many times larger (:func:`silosim.scenario.scaled`).

    Returns:
        0 when stopped by Ctrl-C or SIGTERM, 1 when the address cannot be used (e.g. the port is busy).

    Raises:
        ValueError: the port is not 0 to 65535.
        AddressError: the host or an allowed host is malformed, does not resolve, or is not this machine's.
    """
    address = resolve_host(host, check_port(port))
    extra = [allow_host_entry(entry) for entry in allow_hosts]
    source = str(Path(scenario).resolve())
    base = load(source, [] if seed is None else [f"seed={seed}"], scale)
    try:
        sock = _listen(address)
    except OSError as exc:
        if exc.errno == errno.EADDRNOTAVAIL:
            raise AddressError(
                f"--host {host!r}: {address.ip} is not an address of this machine; expected {EXAMPLE_HOSTS}"
            ) from None
        print(f"silosim viz: cannot listen on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    try:
        bound_port = sock.getsockname()[1]
        warning = exposure_warning(address, bound_port)
        if warning:
            print(warning, file=sys.stderr, flush=True)
        allowed = allowed_hosts(address, bound_port, extra, socket.gethostname())
        url_host = f"[{host.strip('[]')}]" if ":" in host else host
        print(f"silosim viz: {base.name} at http://{url_host}:{bound_port}/  (Ctrl-C to stop)", flush=True)
        os.environ.pop(ENV_SCALE, None)  # the page reads the scale as it reads the seed (page_scenario)
        if scale != 1:
            os.environ[ENV_SCALE] = repr(float(scale))
        return _run(sock, source, seed, allowed)
    finally:
        sock.close()


def _run(sock: socket.socket, source: str, seed: int | None, allowed: frozenset[str]) -> int:
    """Run solara's app, behind :class:`HostGuard`, on the listening socket until Ctrl-C or SIGTERM."""
    import signal

    os.environ[ENV_SCENARIO] = source
    os.environ.pop(ENV_SEED, None)
    if seed is not None:
        os.environ[ENV_SEED] = str(seed)
    os.environ["SOLARA_APP"] = "silosim.app"
    prepare_offline_assets()
    import uvicorn
    from solara.server.starlette import app

    # solara warns on every page load over plain http to a host other than 'localhost'; the page needs no cookie
    warnings.filterwarnings("ignore", message="Cookies with samesite=none require https", category=UserWarning)

    config = uvicorn.Config(HostGuard(app, allowed), log_level="warning", access_log=False, timeout_graceful_shutdown=3)
    server = uvicorn.Server(config)

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)  # uvicorn re-raises it after a clean shutdown
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        STOPPING.set()
        signal.signal(signal.SIGTERM, previous)
    print("silosim viz: stopped", flush=True)
    return 0
