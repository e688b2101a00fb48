"""STOMP scenarios run with the real stomp.py client against a running mqsim master.

Usage: python3 stomp_scenarios.py HOST:PORT [scenario ...]
Prints one line per scenario and exits non-zero if any failed. Driven by tests/stomp.rs.
"""
import socket
import sys
import threading
import time
import uuid

import stomp


class Listener(stomp.ConnectionListener):
    def __init__(self):
        self.cv = threading.Condition()
        self.messages = []
        self.receipts = set()
        self.errors = []

    def on_message(self, frame):
        with self.cv:
            self.messages.append(frame)
            self.cv.notify_all()

    def on_receipt(self, frame):
        with self.cv:
            self.receipts.add(frame.headers["receipt-id"])
            self.cv.notify_all()

    def on_error(self, frame):
        with self.cv:
            self.errors.append(frame)
            self.cv.notify_all()

    def wait(self, pred, timeout=5.0):
        with self.cv:
            ok = self.cv.wait_for(pred, timeout=timeout)
        if not ok:
            raise AssertionError("timed out waiting")


def until(pred, timeout=5.0):
    deadline = time.time() + timeout
    while not pred():
        if time.time() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.01)


def connect(addr, version="1.2", client_id=None):
    host, port = addr
    cls = {"1.0": stomp.Connection10, "1.1": stomp.Connection11, "1.2": stomp.Connection12}[version]
    c = cls([(host, port)])
    l = Listener()
    c.set_listener("", l)
    headers = {"client-id": client_id} if client_id else {}
    if version == "1.0":
        c.connect(wait=True, headers=headers)
    else:
        c.connect(wait=True, headers=headers)
    return c, l


def unique(name):
    return "%s-%s" % (name, uuid.uuid4().hex[:8])


def send_sync(c, l, dest, body, **headers):
    rid = uuid.uuid4().hex
    headers["receipt"] = rid
    c.send(dest, body, headers=headers)
    l.wait(lambda: rid in l.receipts)


def ack(c, version, f):
    if version == "1.2":
        c.ack(f.headers["ack"])
    elif version == "1.1":
        c.ack(f.headers["message-id"], f.headers["subscription"])
    else:
        c.ack(f.headers["message-id"])


def scenario_versions(addr):
    for version in ("1.0", "1.1", "1.2"):
        c, l = connect(addr, version)
        q = "/queue/" + unique("v" + version.replace(".", ""))
        for i in range(3):
            send_sync(c, l, q, "m%d" % i, persistent="true")
        kw = {"id": "s1"} if version != "1.0" else {}
        c.subscribe(q, ack="client", **kw) if version != "1.0" else c.subscribe(q, ack="client", id="s1")
        l.wait(lambda: len(l.messages) == 3)
        assert [f.body for f in l.messages] == ["m0", "m1", "m2"], [f.body for f in l.messages]
        assert l.messages[0].headers["persistent"] == "true"
        ack(c, version, l.messages[-1])  # client mode: cumulative
        c.disconnect()
        # Acked cumulatively: nothing comes back.
        c, l = connect(addr, version)
        c.subscribe(q, ack="auto", id="s2")
        time.sleep(0.5)
        assert not l.messages, "cumulative ack in %s left %d" % (version, len(l.messages))
        c.disconnect()


def scenario_redelivery(addr):
    q = "/queue/" + unique("redeliver")
    c, l = connect(addr)
    send_sync(c, l, q, "once", persistent="true")
    c.subscribe(q, id="a", ack="client-individual")
    l.wait(lambda: len(l.messages) == 1)
    c.disconnect()  # unacked: goes back to the queue
    c, l = connect(addr)
    c.subscribe(q, id="b", ack="client-individual")
    l.wait(lambda: len(l.messages) == 1)
    assert l.messages[0].headers.get("redelivered") == "true", l.messages[0].headers
    ack(c, "1.2", l.messages[0])
    c.disconnect()


def scenario_competing_consumers(addr):
    q = "/queue/" + unique("compete")
    c1, l1 = connect(addr)
    c2, l2 = connect(addr)
    c1.subscribe(q, id="1", ack="auto", headers={"activemq.prefetchSize": "1"})
    c2.subscribe(q, id="1", ack="auto", headers={"activemq.prefetchSize": "1"})
    p, lp = connect(addr)
    for i in range(20):
        send_sync(p, lp, q, "m%d" % i)
    until(lambda: len(l1.messages) + len(l2.messages) == 20)
    assert l1.messages and l2.messages, (len(l1.messages), len(l2.messages))
    for c in (c1, c2, p):
        c.disconnect()


def scenario_transactions(addr):
    q = "/queue/" + unique("tx")
    c, l = connect(addr)
    t = c.begin()
    c.send(q, "committed", headers={"persistent": "true"}, transaction=t)
    c.commit(t)
    t = c.begin()
    c.send(q, "aborted", transaction=t)
    c.abort(t)
    send_sync(c, l, q, "after")
    c.subscribe(q, id="1", ack="auto")
    l.wait(lambda: len(l.messages) == 2)
    time.sleep(0.3)
    assert [f.body for f in l.messages] == ["committed", "after"], [f.body for f in l.messages]
    c.disconnect()


def scenario_nack_to_dlq(addr):
    q = "/queue/" + unique("poison")
    c, l = connect(addr)
    send_sync(c, l, q, "poison", persistent="true")
    c.subscribe(q, id="1", ack="client-individual")
    l.wait(lambda: len(l.messages) == 1)
    c.nack(l.messages[0].headers["ack"])
    c.subscribe("/queue/ActiveMQ.DLQ", id="dlq", ack="client-individual")
    l.wait(lambda: any(f.headers.get("original-destination") == q for f in l.messages))
    for f in l.messages:
        if f.headers["subscription"] == "dlq":
            ack(c, "1.2", f)
    c.disconnect()


def scenario_topics(addr):
    topic = "/topic/" + unique("news")
    client = unique("client")
    # A durable subscription, then away.
    d, dl = connect(addr, client_id=client)
    d.subscribe(topic, id="1", ack="client-individual", headers={"activemq.subscriptionName": "s"})
    time.sleep(0.2)
    d.disconnect()
    a, al = connect(addr)
    b, bl = connect(addr)
    a.subscribe(topic, id="1")
    b.subscribe(topic, id="1")
    time.sleep(0.2)
    send_sync(a, al, topic, "fan-out", persistent="true")
    al.wait(lambda: len(al.messages) == 1)
    bl.wait(lambda: len(bl.messages) == 1)
    # The durable subscriber gets what it missed.
    d, dl = connect(addr, client_id=client)
    d.subscribe(topic, id="1", ack="client-individual", headers={"activemq.subscriptionName": "s"})
    dl.wait(lambda: len(dl.messages) == 1)
    ack(d, "1.2", dl.messages[0])
    d.unsubscribe("1", headers={"persistent": "true", "activemq.subscriptionName": "s"})
    for c in (a, b, d):
        c.disconnect()


def scenario_browser(addr):
    for version in ("1.1", "1.2"):
        q = "/queue/" + unique("browsed")
        c, l = connect(addr, version)
        bodies = ["b1-" + version, "b2-" + version, "b3-" + version]
        for b in bodies:
            send_sync(c, l, q, b, persistent="true")
        rid = uuid.uuid4().hex
        c.subscribe(q, id="browse", ack="auto", headers={"browser": "true", "receipt": rid})
        l.wait(lambda: any(f.headers.get("browser") == "end" for f in l.messages))
        assert rid in l.receipts
        seen = [f.body for f in l.messages if f.headers.get("browser") != "end"]
        assert seen == bodies, seen
        end = l.messages[-1]
        assert end.headers.get("browser") == "end" and end.headers["message-id"] == "0" and end.body == "", end
        assert end.headers["subscription"] == "browse" and end.headers["destination"] == q, end.headers
        c.unsubscribe("browse")
        # Browsing took nothing: a consumer still gets every message.
        l.messages.clear()
        c.subscribe(q, id="take", ack="client-individual")
        l.wait(lambda: len(l.messages) == 3)
        assert [f.body for f in l.messages] == bodies, [f.body for f in l.messages]
        for f in l.messages:
            ack(c, version, f)
        c.disconnect()
    # A browser's copies are not to be acked: ERROR, and the connection closes. (A queue of its
    # own: the consumer above may not be gone yet.)
    q2 = ("/queue/" + unique("browsed")).encode()
    s = socket.create_connection(addr, timeout=5)
    s.sendall(b"CONNECT\naccept-version:1.2\n\n\x00SEND\ndestination:" + q2 + b"\nreceipt:r\n\nx\x00"
              b"SUBSCRIBE\nid:b\ndestination:" + q2 + b"\nbrowser:true\n\n\x00")
    got = b""
    while b"browser:end" not in got:
        chunk = s.recv(65536)
        assert chunk, got
        got += chunk
    assert b"\nack:" in got, got
    ack_id = got.split(b"\nack:", 1)[1].split(b"\n", 1)[0]
    s.sendall(b"ACK\nid:" + ack_id + b"\n\n\x00")
    while chunk:
        chunk = s.recv(65536)
        got += chunk
    s.close()
    assert b"ERROR" in got and b"Cannot ACK a message of a queue browser" in got, got
    # STOMP 1.0 has no browsers (ActiveMQ's answer).
    out = raw(addr, b"CONNECT\n\n\x00SUBSCRIBE\ndestination:" + q.encode() + b"\nbrowser:true\n\n\x00")
    assert b"ERROR" in out and b"only valid for Stomp v1.1+" in out, out


def scenario_selectors(addr):
    q = "/queue/" + unique("selected")
    c, l = connect(addr)
    for i, color in enumerate(["red", "blue", "red", "green"], start=1):
        send_sync(c, l, q, "m%d" % i, persistent="true", color=color, n=str(i))
    # ActiveMQ's STOMP selectors read the string header n as a number where compared so.
    c.subscribe(q, id="red", ack="client-individual", headers={"selector": "color = 'red'"})
    c.subscribe(q, id="big", ack="client-individual", headers={"selector": "n > 3 AND color LIKE 'g%'"})
    l.wait(lambda: len(l.messages) == 3)
    time.sleep(0.2)
    got = sorted((f.headers["subscription"], f.body) for f in l.messages)
    assert got == [("big", "m4"), ("red", "m1"), ("red", "m3")], got
    for f in l.messages:
        ack(c, "1.2", f)
    l.messages.clear()
    # The one nobody selected still waits, for a consumer without a selector.
    c.subscribe(q, id="rest", ack="client-individual")
    l.wait(lambda: len(l.messages) == 1)
    assert (l.messages[0].headers["subscription"], l.messages[0].body) == ("rest", "m2"), l.messages[0]
    ack(c, "1.2", l.messages[0])
    c.disconnect()
    # A selector that does not parse: ERROR, the connection closes, nothing is taken.
    c, l = connect(addr)
    send_sync(c, l, q, "kept", persistent="true")
    c.disconnect()
    sub = b"SUBSCRIBE\nid:1\ndestination:" + q.encode() + b"\nack:auto\nselector:color = \n\n\x00"
    out = raw(addr, b"CONNECT\naccept-version:1.2\n\n\x00" + sub)
    assert b"ERROR" in out and b"invalid selector" in out, out
    assert b"MESSAGE" not in out, out
    # Durable subscriptions take no selector.
    sub = b"SUBSCRIBE\nid:1\ndestination:/topic/t\nactivemq.subscriptionName:s\nselector:a = 1\n\n\x00"
    out = raw(addr, b"CONNECT\naccept-version:1.2\nclient-id:" + unique("c").encode() + b"\n\n\x00" + sub)
    assert b"ERROR" in out and b"durable subscription" in out, out
    c, l = connect(addr)
    c.subscribe(q, id="1", ack="client-individual")
    l.wait(lambda: len(l.messages) == 1)
    assert l.messages[0].body == "kept"
    ack(c, "1.2", l.messages[0])
    c.disconnect()


def raw(addr, data, read=True):
    s = socket.create_connection(addr, timeout=5)
    s.sendall(data)
    out = b""
    if read:
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
        except socket.timeout:
            raise AssertionError("connection was not closed after an ERROR: %r" % out[:200])
    s.close()
    return out


def scenario_bad_frames(addr):
    out = raw(addr, b"CONNECT\naccept-version:1.2\n\n\x00HELLO\n\n\x00")
    assert b"ERROR" in out and b"message:" in out, out
    out = raw(addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert out.startswith(b"ERROR"), out
    out = raw(addr, b"CONNECT\naccept-version:1.2\n\n\x00SEND\ndestination:/queue/x\nbad\\qescape:1\n\nbody\x00")
    assert b"ERROR" in out, out
    out = raw(addr, b"CONNECT\naccept-version:9.9\n\n\x00")
    assert b"ERROR" in out and b"Supported protocol versions" in out, out
    # The broker is unaffected.
    c, l = connect(addr)
    send_sync(c, l, "/queue/" + unique("alive"), "still here")
    c.disconnect()


def scenario_oversized(addr):
    """Run against a cluster with maxFrameSize = 65536."""
    big = b"x" * 70000
    out = raw(addr, b"CONNECT\naccept-version:1.2\n\n\x00SEND\ndestination:/queue/big\ncontent-length:70000\n\n" + big + b"\x00")
    assert b"ERROR" in out and b"larger than max allowed" in out, out[:300]
    c, l = connect(addr)
    send_sync(c, l, "/queue/" + unique("small"), "y" * 1000)
    c.disconnect()


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    addr = (host, int(port))
    names = sys.argv[2:] or [n[len("scenario_"):] for n in globals() if n.startswith("scenario_") and n != "scenario_oversized"]
    failed = 0
    for name in names:
        t0 = time.time()
        try:
            globals()["scenario_" + name](addr)
            print("ok   %-22s %.2fs" % (name, time.time() - t0), flush=True)
        except Exception as e:  # noqa: BLE001 - report every failure
            failed += 1
            print("FAIL %-22s %r" % (name, e), flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
