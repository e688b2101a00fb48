#!/usr/bin/env python3
"""Sends COUNT persistent messages msg---1..COUNT to queue-cluster over STOMP (stomp.py).

    python3 produce.py [BROKERS] [COUNT]      (BROKERS: see brokers.py; COUNT defaults to 3)

Each SEND asks for a receipt, and a message counts as sent only once its receipt is back:
the master gives it after the message is stored (and synced to the slaves as `sync` says).
If the connection drops first (the master died), the client connects again through the
broker list, which skips the dead broker and the slaves, and sends that message again, so
every "sent" line is a message the cluster has; one whose receipt was lost may arrive twice.
"""
import sys
import threading

import stomp

import brokers

RECEIPT_WAIT = 30.0


class Receipts(stomp.ConnectionListener):
    def __init__(self):
        self.cv = threading.Condition()
        self.got = set()
        self.drops = 0

    def on_receipt(self, frame):
        with self.cv:
            self.got.add(frame.headers.get("receipt-id"))
            self.cv.notify_all()

    def on_error(self, frame):
        print("ERROR frame: %s" % frame.body, file=sys.stderr)

    def on_disconnected(self):
        with self.cv:
            self.drops += 1
            self.cv.notify_all()


def main():
    servers = brokers.from_args(sys.argv)
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    conn = brokers.connection(servers)
    listener = Receipts()
    conn.set_listener("", listener)
    brokers.connect(conn)
    i = 1
    while i <= count:
        body = "msg---%d" % i
        with listener.cv:
            drops = listener.drops
        try:
            conn.send(brokers.QUEUE, body, headers={"persistent": "true", "receipt": body})
        except brokers.DROPPED:
            pass  # the wait below sees the drop
        with listener.cv:
            listener.cv.wait_for(lambda: body in listener.got or listener.drops != drops, RECEIPT_WAIT)
            acked = body in listener.got
        if acked:
            print("sent " + body, flush=True)
            i += 1
            continue
        # No receipt: the connection dropped (or hung). Fail over, then send it again.
        print("no receipt for %s: reconnecting" % body, flush=True)
        if conn.is_connected():
            try:
                conn.disconnect()
            except brokers.DROPPED:
                pass
        brokers.connect(conn)
    try:
        conn.disconnect()
    except brokers.DROPPED:
        pass  # every message has its receipt already
    print("**** %d messages sent to the MQ" % count, flush=True)


if __name__ == "__main__":
    main()
