#!/usr/bin/env python3
"""bsctl.py: drive baresip through its ctrl_tcp module (JSON in netstrings).

baresip 1.0.0's ctrl_tcp serves ONE connection at a time: a new connection
replaces the old one, and events are sent only to the connection open when
they happen (never replayed). So a test that needs both commands and events
runs a hub that holds the one connection for the agent's whole life:

  bsctl.py --hub PORT DIR
      Connect to ctrl_tcp on 127.0.0.1:PORT (retrying for 20 s), then append
      every event to DIR/events.jsonl (one JSON object per line, in order),
      log all traffic to DIR/ctrl.log and serve commands on the UNIX socket
      DIR/ctl.sock. Exits when baresip closes the connection.

TARGET below is either such a hub socket (a path, through the hub) or a
ctrl_tcp port number (a fresh connection of its own: do not use it while a hub
holds the connection - it would take the connection away from the hub).

  bsctl.py TARGET COMMAND [PARAMS...]
      Run one command (a menu command: reginfo, dial URI, hangup, ...) and
      print the response's data with terminal colour codes removed. Exit 0
      when baresip says ok, 1 when not, 2 on usage or connection errors.
  bsctl.py TARGET --wait-event TYPE [--match TEXT] [--timeout S] [--since N]
           [COMMAND [PARAMS...]]
      Wait for an event of type TYPE (REGISTER_OK, CALL_ESTABLISHED, ...)
      whose JSON contains TEXT, and print it (one JSON line). With COMMAND:
      run it first and wait only for events that come after it. Through a
      hub, events are looked up in DIR/events.jsonl: without COMMAND, from
      event number N on (default 0, i.e. since the hub started, so an event
      that happened before the call is found). Exit 1 on timeout (default 20 s).
  bsctl.py TARGET --count
      (hub only) Print how many events were logged so far: pass it as --since
      to wait for an event caused by a later action.
"""
import json
import os
import re
import selectors
import socket
import sys
import time

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def strip_ansi(s):
    return ANSI.sub("", s)


def netstring(obj):
    data = json.dumps(obj).encode()
    return str(len(data)).encode() + b":" + data + b","


class NetstringReader:
    """Splits a byte stream into netstring payloads (decoded JSON objects)."""

    def __init__(self):
        self.buf = b""

    def feed(self, data):
        self.buf += data
        out = []
        while True:
            colon = self.buf.find(b":")
            if colon < 0:
                if len(self.buf) > 10:
                    raise ValueError("bad netstring header: %r" % self.buf[:20])
                break
            try:
                n = int(self.buf[:colon])
            except ValueError:
                raise ValueError("bad netstring header: %r" % self.buf[:20])
            if len(self.buf) < colon + 1 + n + 1:
                break
            payload = self.buf[colon + 1:colon + 1 + n]
            if self.buf[colon + 1 + n:colon + 2 + n] != b",":
                raise ValueError("netstring without trailing comma")
            self.buf = self.buf[colon + 2 + n:]
            out.append(json.loads(payload.decode("utf-8", "replace")))
        return out


def connect_ctrl(port, timeout):
    deadline = time.time() + timeout
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), 1)
        except OSError:
            if time.time() >= deadline:
                raise
            time.sleep(0.1)


# ---------------------------------------------------------------- hub

def hub(port, d):
    ctrl = connect_ctrl(port, 20)
    ctrl.setblocking(False)
    events = open(os.path.join(d, "events.jsonl"), "a", buffering=1)
    trace = open(os.path.join(d, "ctrl.log"), "a", buffering=1)
    path = os.path.join(d, "ctl.sock")
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    lsn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lsn.bind(path + ".tmp")
    lsn.listen(16)
    os.rename(path + ".tmp", path)  # appears only when ready
    lsn.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(ctrl, selectors.EVENT_READ, "ctrl")
    sel.register(lsn, selectors.EVENT_READ, "listen")
    reader = NetstringReader()
    pending = {}  # token -> client socket
    partial = {}  # client socket -> bytes of its request line so far
    seq = 0
    try:
        while True:
            for key, _ in sel.select():
                s = key.fileobj
                if key.data == "ctrl":
                    data = s.recv(65536)
                    if not data:
                        trace.write("ctrl_tcp closed the connection\n")
                        return 0
                    for msg in reader.feed(data):
                        trace.write("<< " + json.dumps(msg) + "\n")
                        if msg.get("event"):
                            events.write(json.dumps(msg) + "\n")
                        elif msg.get("response"):
                            c = pending.pop(msg.get("token"), None)
                            if c:
                                try:
                                    c.sendall((json.dumps(msg) + "\n").encode())
                                except OSError:
                                    pass
                                c.close()
                elif key.data == "listen":
                    c, _ = s.accept()
                    c.setblocking(True)
                    c.settimeout(5)
                    partial[c] = b""
                    sel.register(c, selectors.EVENT_READ, "client")
                else:
                    data = s.recv(65536)
                    partial[s] += data
                    if not data or b"\n" in partial[s]:
                        sel.unregister(s)
                        line = partial.pop(s).split(b"\n")[0]
                        if not line:
                            s.close()
                            continue
                        req = json.loads(line.decode())
                        seq += 1
                        token = "hub%d" % seq
                        req["token"] = token
                        pending[token] = s
                        trace.write(">> " + json.dumps(req) + "\n")
                        ctrl.setblocking(True)
                        ctrl.sendall(netstring(req))
                        ctrl.setblocking(False)
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass


# ---------------------------------------------------------------- clients

def is_hub(target):
    return "/" in target


def hub_command(sock_path, command, params):
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.settimeout(20)
    c.connect(sock_path)
    c.sendall((json.dumps({"command": command, "params": params}) + "\n").encode())
    data = b""
    while b"\n" not in data:
        chunk = c.recv(65536)
        if not chunk:
            break
        data += chunk
    c.close()
    if not data:
        raise OSError("the hub closed the connection without an answer")
    return json.loads(data.split(b"\n")[0].decode())


def events_file(sock_path):
    return os.path.join(os.path.dirname(sock_path), "events.jsonl")


def read_events(path):
    try:
        with open(path) as f:
            lines = f.read().split("\n")
    except FileNotFoundError:
        return []
    return [json.loads(l) for l in lines[:-1] if l]  # the last piece may be partial


def matches(ev, etype, text):
    return ev.get("type") == etype and (not text or text in json.dumps(ev))


def hub_wait(sock_path, etype, text, timeout, since):
    path = events_file(sock_path)
    deadline = time.time() + timeout
    while True:
        evs = read_events(path)
        for ev in evs[since:]:
            if matches(ev, etype, text):
                return ev
        if time.time() >= deadline:
            sys.stderr.write("bsctl: no %s event within %gs; events since #%d: %s\n" % (
                etype, timeout, since, ", ".join(e.get("type", "?") for e in evs[since:]) or "none"))
            return None
        time.sleep(0.05)


def direct(port, command, params, etype, text, timeout):
    """One fresh ctrl_tcp connection: a command and/or an event that comes
    after the connection (and the command) started."""
    s = connect_ctrl(port, 5)
    reader = NetstringReader()
    deadline = time.time() + timeout
    resp = ev = None
    if command:
        s.sendall(netstring({"command": command, "params": params, "token": "bsctl"}))
    while (command and resp is None) or (etype and ev is None):
        left = deadline - time.time()
        if left <= 0:
            if command and resp is None:
                raise OSError("no answer to %s within %gs" % (command, timeout))
            sys.stderr.write("bsctl: no %s event within %gs\n" % (etype, timeout))
            break
        s.settimeout(left)
        try:
            data = s.recv(65536)
        except socket.timeout:
            continue
        if not data:
            raise OSError("ctrl_tcp closed the connection (another client connected?)")
        for msg in reader.feed(data):
            if msg.get("response") and msg.get("token") == "bsctl":
                resp = msg
            elif msg.get("event") and etype and ev is None and matches(msg, etype, text):
                ev = msg
    s.close()
    return resp, ev


def main(argv):
    if len(argv) >= 1 and argv[0] == "--hub":
        if len(argv) != 3:
            sys.stderr.write("usage: bsctl.py --hub PORT DIR\n")
            return 2
        return hub(int(argv[1]), argv[2])
    if len(argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    target, rest = argv[0], argv[1:]
    etype = text = None
    timeout = 20.0
    since = None
    if rest[0] == "--count":
        if not is_hub(target):
            sys.stderr.write("bsctl: --count needs a hub socket\n")
            return 2
        print(len(read_events(events_file(target))))
        return 0
    if rest[0] == "--wait-event":
        if len(rest) < 2:
            sys.stderr.write("bsctl: --wait-event needs an event type\n")
            return 2
        etype, rest = rest[1], rest[2:]
        while rest and rest[0] in ("--match", "--timeout", "--since"):
            if len(rest) < 2:
                sys.stderr.write("bsctl: %s needs a value\n" % rest[0])
                return 2
            if rest[0] == "--match":
                text = rest[1]
            elif rest[0] == "--timeout":
                timeout = float(rest[1])
            else:
                since = int(rest[1])
            rest = rest[2:]
    command = rest[0] if rest else None
    params = " ".join(rest[1:])
    try:
        if is_hub(target):
            resp = ev = None
            if command:
                if since is None:
                    since = len(read_events(events_file(target)))
                resp = hub_command(target, command, params)
            if etype:
                ev = hub_wait(target, etype, text, timeout, since or 0)
        else:
            resp, ev = direct(int(target), command, params, etype, text, timeout)
    except (OSError, ValueError) as e:
        sys.stderr.write("bsctl: %s\n" % e)
        return 2
    ok = True
    if resp is not None:
        sys.stdout.write(strip_ansi(resp.get("data", "")))
        if not resp.get("data", "").endswith("\n"):
            sys.stdout.write("\n")
        ok = bool(resp.get("ok"))
        if not ok:
            sys.stderr.write("bsctl: %s failed: %s\n" % (command, strip_ansi(resp.get("data", "")).strip()))
    if etype:
        if ev is None:
            return 1
        print(json.dumps(ev))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
