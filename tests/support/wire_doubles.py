"""Protocol doubles that speak PostgreSQL, Redis (RESP) and raw HTTP on a real socket.

They follow the wire protocols closely enough for the real client drivers (asyncpg, redis-py,
httpx) and misbehave on purpose where the tests need it:

- ``PostgresDouble``: the v3 protocol. Answers an SSLRequest with ``N``, asks for a cleartext
  password (AuthenticationCleartextPassword), then, by ``mode``: an ErrorResponse refusing the
  password (SQLSTATE 28P01), one refusing the session (57P03), or AuthenticationOk, the
  ParameterStatus messages asyncpg needs, ReadyForQuery and an ErrorResponse (XX000) to every
  query. ``message(user, password)`` writes the error text.
- ``RespDouble``: RESP as redis-py speaks it (``HELLO 3 AUTH user password`` first, then RESP3
  replies); ``reply(command_words)`` returns the raw reply, :data:`HELLO_REPLY` a server's.
- ``EndlessHttp``: HTTP/1.1 whose answers are 200 with a body of ``size`` bytes (or endless,
  chunked), sent as fast as the client reads it.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable


class _TcpDouble:
    """Accepts connections on 127.0.0.1 and serves each one in a thread of its own."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.1)
        self.port = int(self.server.getsockname()[1])
        self.connections = 0
        self._running = True
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while self._running:
            try:
                connection, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            connection.settimeout(30)
            threading.Thread(target=self._serve_one, args=(connection,), daemon=True).start()

    def _serve_one(self, connection: socket.socket) -> None:
        try:
            self.serve(connection)
        except OSError:
            pass  # the client went away: expected when it stops reading
        finally:
            connection.close()

    def serve(self, connection: socket.socket) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self._running = False
        self.server.close()
        self._thread.join(2)


def _read_exactly(connection: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed by the client")
        data += chunk
    return data


# -- PostgreSQL ---------------------------------------------------------------------------------
_SSL_REQUEST = 80877103
_GSSENC_REQUEST = 80877104


def _pg_message(kind: bytes, payload: bytes) -> bytes:
    return kind + struct.pack("!i", len(payload) + 4) + payload


def _pg_error(sqlstate: str, text: str) -> bytes:
    fields = [b"SFATAL", b"VFATAL", b"C" + sqlstate.encode(), b"M" + text.encode()]
    return _pg_message(b"E", b"\0".join(fields) + b"\0\0")


class PostgresDouble(_TcpDouble):
    """A PostgreSQL server that fails every session, echoing what ``message`` makes of it."""

    MODES = {"bad_password": "28P01", "refuses_sessions": "57P03", "query_fails": "XX000"}

    def __init__(self, mode: str, message: Callable[[str, str], str]) -> None:
        assert mode in self.MODES, mode
        self.mode = mode
        self.message = message
        self.passwords: list[str] = []
        super().__init__()

    def serve(self, connection: socket.socket) -> None:
        while True:  # SSLRequest / GSSENCRequest come first, then the StartupMessage
            length = struct.unpack("!i", _read_exactly(connection, 4))[0]
            body = _read_exactly(connection, length - 4)
            code = struct.unpack("!i", body[:4])[0]
            if code in (_SSL_REQUEST, _GSSENC_REQUEST):
                connection.sendall(b"N")
                continue
            break
        words = body[4:].split(b"\0")
        params = dict(zip(words[0::2], words[1::2], strict=False))
        user = params.get(b"user", b"").decode()
        connection.sendall(_pg_message(b"R", struct.pack("!i", 3)))  # cleartext password
        kind, payload = self._read_message(connection)
        assert kind == b"p", kind
        password = payload.rstrip(b"\0").decode()
        self.passwords.append(password)
        text = self.message(user, password)
        if self.mode != "query_fails":
            connection.sendall(_pg_error(self.MODES[self.mode], text))
            return
        status = b"".join(
            _pg_message(b"S", name + b"\0" + value + b"\0")
            for name, value in (
                (b"server_version", b"16.2"),
                (b"server_encoding", b"UTF8"),
                (b"client_encoding", b"UTF8"),
                (b"DateStyle", b"ISO, MDY"),
                (b"integer_datetimes", b"on"),
                (b"standard_conforming_strings", b"on"),
            )
        )
        connection.sendall(
            _pg_message(b"R", struct.pack("!i", 0))
            + status
            + _pg_message(b"K", struct.pack("!ii", 4242, 1))
            + _pg_message(b"Z", b"I")
        )
        failed = False
        while True:
            kind, _payload = self._read_message(connection)
            if kind == b"X":  # Terminate
                return
            if kind == b"S":  # Sync ends an extended-protocol batch
                connection.sendall(_pg_message(b"Z", b"I"))
                failed = False
            elif not failed and kind in (b"P", b"Q"):
                reply = _pg_error("XX000", text)
                if kind == b"Q":
                    reply += _pg_message(b"Z", b"I")
                connection.sendall(reply)
                failed = kind == b"P"

    @staticmethod
    def _read_message(connection: socket.socket) -> tuple[bytes, bytes]:
        kind = _read_exactly(connection, 1)
        length = struct.unpack("!i", _read_exactly(connection, 4))[0]
        return kind, _read_exactly(connection, length - 4)


# -- Redis --------------------------------------------------------------------------------------
class RespDouble(_TcpDouble):
    """A Redis server answering each command with ``reply(words)`` (raw RESP bytes)."""

    def __init__(self, reply: Callable[[list[str]], bytes]) -> None:
        self.reply = reply
        self.commands: list[list[str]] = []
        super().__init__()

    def serve(self, connection: socket.socket) -> None:
        reader = connection.makefile("rb")
        while True:
            header = reader.readline()
            if not header:
                return
            assert header[:1] == b"*", header  # redis-py sends every command as an array
            words = []
            for _ in range(int(header[1:])):
                size = int(reader.readline()[1:])
                words.append(reader.read(size + 2)[:-2].decode(errors="replace"))
            self.commands.append(words)
            connection.sendall(self.reply(words))


# What a Redis 7 server answers to HELLO 3 (a RESP3 map), trimmed to what redis-py reads.
HELLO_REPLY = b"%3\r\n+server\r\n+redis\r\n+version\r\n+7.0.15\r\n+proto\r\n:3\r\n"


def resp_error(text: str) -> bytes:
    """A RESP error reply; CR and LF cannot be sent in one and become spaces."""
    return b"-" + text.replace("\r", " ").replace("\n", " ").encode() + b"\r\n"


# -- HTTP ---------------------------------------------------------------------------------------
class EndlessHttp(_TcpDouble):
    """Answers every request 200 with ``size`` bytes of ``filler`` (None: endless, chunked).

    ``prefix`` starts the body, so a JSON client sees the start of a document that never ends.
    ``bytes_sent`` counts what clients took of the bodies.
    """

    def __init__(
        self, size: int | None, prefix: bytes = b'{"status": "', filler: bytes = b"x"
    ) -> None:
        self.size = size
        self.prefix = prefix
        self.chunk = filler * (65536 // len(filler))
        self.bytes_sent = 0
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}"

    def serve(self, connection: socket.socket) -> None:
        reader = connection.makefile("rb")
        while True:
            request = reader.readline()
            if not request:
                return
            length = 0
            while (line := reader.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            reader.read(length)
            if self.size is None:
                head = b"transfer-encoding: chunked\r\n"
            else:
                head = b"content-length: %d\r\n" % self.size
            connection.sendall(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n" + head + b"\r\n"
            )
            self._send_body(connection, request.startswith(b"HEAD"))

    def _send_body(self, connection: socket.socket, head_only: bool) -> None:
        if head_only:
            return
        if self.size is None:
            connection.sendall(b"%x\r\n%s\r\n" % (len(self.prefix), self.prefix))
            while True:
                connection.sendall(b"%x\r\n%s\r\n" % (len(self.chunk), self.chunk))
                self.bytes_sent += len(self.chunk)
        remaining = self.size
        connection.sendall(self.prefix[:remaining])
        remaining -= len(self.prefix[:remaining])
        while remaining > 0:
            piece = self.chunk[:remaining]
            connection.sendall(piece)
            self.bytes_sent += len(piece)
            remaining -= len(piece)
