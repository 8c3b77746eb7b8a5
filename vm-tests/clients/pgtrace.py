"""A transparent TCP relay for the PostgreSQL wire protocol that records what a driver sent
and what the server answered: for every ErrorResponse, the SQL statement it answers (the
simple Query, or the Parse/Bind/Execute whose response it replaces), its SQLSTATE and
message; for every result, its column names and type OIDs. Bytes are forwarded unchanged
(an SSL request the server accepts ends the recording of that connection: the driver suite
does not ask for TLS). Standard library only.

    relay = Relay(("127.0.0.14", 5433)); relay.start()   # relay.port on 127.0.0.1
    relay.tag = "odbc.tables"                            # connections opened from now on
    relay.events(tag)                                    # what those connections did
"""

import socket
import struct
import threading
import time

SSL_REQUEST, GSS_REQUEST, CANCEL_REQUEST = 80877103, 80877104, 80877102


class Conn:
    """One client connection: the client's messages awaiting an answer, in order."""

    def __init__(self, relay, tag):
        self.relay, self.tag = relay, tag
        self.lock = threading.Lock()
        self.pending = []           # [kind, sql]: parse, bind, describe, execute, close, sync, query
        self.statements = {}        # prepared statement name -> SQL
        self.portals = {}           # portal name -> SQL
        self.portal_params = {}     # portal name -> parameter values (text format), or None
        self.negotiating = 0        # SSL/GSS requests the server has not answered yet
        self.startup = True         # the client's next message has no type byte
        self.encrypted = False
        self.params = {}

    def record(self, **event):
        event.update(tag=self.tag, t=time.time())
        with self.relay.lock:
            self.relay.log.append(event)
        return event

    # client -> server
    def client_message(self, typ, body):
        if typ == b"P":
            name, rest = body.split(b"\0", 1)
            sql = rest.split(b"\0", 1)[0].decode(errors="replace")
            self.statements[name] = sql
            self.pending.append(["parse", sql])
            self.record(kind="parse", sql=sql)
        elif typ == b"B":
            portal, stmt, rest = body.split(b"\0", 2)
            self.portals[portal] = self.statements.get(stmt, "?")
            self.portal_params[portal] = bind_params(rest)
            self.pending.append(["bind", self.portals[portal]])
        elif typ == b"D":
            name = body[1:].split(b"\0", 1)[0]
            self.pending.append(["describe", (self.statements if body[:1] == b"S" else self.portals).get(name, "?")])
        elif typ == b"E":
            portal = body.split(b"\0", 1)[0]
            sql = self.portals.get(portal, "?")
            self.pending.append(["execute", sql, self.record(kind="execute", sql=sql, params=self.portal_params.get(portal))])
        elif typ == b"C":
            self.pending.append(["close", ""])
        elif typ == b"S":
            self.pending.append(["sync", ""])
        elif typ == b"Q":
            sql = body.rstrip(b"\0").decode(errors="replace")
            self.pending.append(["query", sql, self.record(kind="query", sql=sql)])

    def untyped_message(self, body):
        code = struct.unpack("!I", body[:4])[0]
        if code in (SSL_REQUEST, GSS_REQUEST):
            self.negotiating += 1
        elif code == CANCEL_REQUEST:
            self.startup = False
        else:  # StartupMessage
            self.startup = False
            parts = body[4:].split(b"\0")
            self.params = {parts[i].decode(): parts[i + 1].decode() for i in range(0, len(parts) - 1, 2) if parts[i]}

    # server -> client
    def server_message(self, typ, body):
        head = self.pending[0] if self.pending else ["?", ""]
        if typ == b"E":
            fields = {}
            for f in body.split(b"\0"):
                if f:
                    fields[chr(f[0])] = f[1:].decode(errors="replace")
            self.record(kind="error", sql=head[1], step=head[0], sqlstate=fields.get("C", ""), message=fields.get("M", ""), detail=fields.get("D", ""))
            failed = [head] if head[0] == "query" else []
            if head[0] != "query":  # the server skips every message up to Sync
                while self.pending and self.pending[0][0] != "sync":
                    failed.append(self.pending.pop(0))
            for op in failed:  # the statement's own event says it failed
                if len(op) > 2:
                    op[2]["failed"] = fields.get("C", "")
        elif typ == b"T":
            n = struct.unpack("!H", body[:2])[0]
            cols, pos = [], 2
            for _ in range(n):
                end = body.index(b"\0", pos)
                name = body[pos:end].decode(errors="replace")
                oid = struct.unpack("!I", body[end + 7:end + 11])[0]
                cols.append((name, oid))
                pos = end + 19
            self.record(kind="columns", sql=head[1], columns=cols)
            if head[0] == "describe":
                self.pending.pop(0)
        elif typ == b"n" and head[0] == "describe":
            self.pending.pop(0)
        elif typ == b"1" and head[0] == "parse" or typ == b"2" and head[0] == "bind" or typ == b"3" and head[0] == "close":
            self.pending.pop(0)
        elif typ in (b"C", b"I", b"s"):
            if head[0] == "execute":
                self.pending.pop(0)
        elif typ == b"Z":
            while self.pending:
                kind = self.pending.pop(0)[0]
                if kind in ("sync", "query"):
                    break


def bind_params(rest):
    """The parameter values of a Bind message (after the portal and statement names) as text,
    or None when any is sent in binary format."""
    nf = struct.unpack("!H", rest[:2])[0]
    formats = struct.unpack(f"!{nf}H", rest[2:2 + 2 * nf])
    pos = 2 + 2 * nf
    n = struct.unpack("!H", rest[pos:pos + 2])[0]
    pos += 2
    values = []
    for i in range(n):
        fmt = formats[0] if nf == 1 else formats[i] if nf else 0
        length = struct.unpack("!i", rest[pos:pos + 4])[0]
        pos += 4
        if length < 0:
            values.append(None)
            continue
        if fmt != 0:
            return None
        values.append(rest[pos:pos + length].decode(errors="replace"))
        pos += length
    return values


class Relay:
    def __init__(self, upstream, listen_host="127.0.0.1"):
        self.upstream = upstream
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((listen_host, 0))
        self.sock.listen(64)
        self.host, self.port = self.sock.getsockname()
        self.lock = threading.Lock()
        self.log = []
        self.tag = ""

    def start(self):
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def events(self, tag):
        with self.lock:
            return [e for e in self.log if e["tag"] == tag]

    def _accept(self):
        while True:
            client, _ = self.sock.accept()
            try:
                server = socket.create_connection(self.upstream, timeout=10)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            conn = Conn(self, self.tag)
            threading.Thread(target=self._pump, args=(client, server, conn, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, conn, False), daemon=True).start()

    def _pump(self, src, dst, conn, from_client):
        buf = b""
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if not conn.encrypted:
                    buf += data
                    try:
                        buf = self._parse(buf, conn, from_client)
                    except Exception:  # never let the recorder break the connection
                        conn.encrypted, buf = True, b""
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    @staticmethod
    def _parse(buf, conn, from_client):
        while True:
            with conn.lock:
                if from_client and conn.startup:
                    if len(buf) < 4:
                        return buf
                    n = struct.unpack("!I", buf[:4])[0]
                    if len(buf) < n:
                        return buf
                    conn.untyped_message(buf[4:n])
                    buf = buf[n:]
                    continue
                if not from_client and conn.negotiating:
                    if not buf:
                        return buf
                    conn.negotiating -= 1
                    if buf[:1] in (b"S", b"G"):
                        conn.encrypted = True
                        return b""
                    buf = buf[1:]
                    continue
                if len(buf) < 5:
                    return buf
                n = struct.unpack("!I", buf[1:5])[0]
                if len(buf) < n + 1:
                    return buf
                typ, body, buf = buf[:1], buf[5:n + 1], buf[n + 1:]
                (conn.client_message if from_client else conn.server_message)(typ, body)
