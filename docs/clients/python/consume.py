#!/usr/bin/env python3
"""Receives from queue-cluster over STOMP (stomp.py) until it has been quiet for 4 s.

    python3 consume.py [BROKERS]      (BROKERS: see brokers.py)

The subscription uses client-individual acks: a message leaves the queue only when this
consumer ACKs it, after printing it. If the master dies first, the client connects again
through the broker list and subscribes again; the new master (whose copy of the queue came
from the old one) delivers what was not acked yet, so a message printed just before the
failover may come twice (counted as a duplicate), but none is lost.
"""
import queue
import sys
import time

import stomp

import brokers

QUIET = 4.0


class Inbox(stomp.ConnectionListener):
    def __init__(self):
        self.frames = queue.Queue()

    def on_message(self, frame):
        self.frames.put(frame)

    def on_error(self, frame):
        print("ERROR frame: %s" % frame.body, file=sys.stderr)

    def on_disconnected(self):
        self.frames.put(None)


def connect(conn):
    brokers.connect(conn)
    try:
        conn.subscribe(brokers.QUEUE, id="1", ack="client-individual")
    except brokers.DROPPED:
        pass  # dropped again at once: on_disconnected queues the next failover


def main():
    conn = brokers.connection(brokers.from_args(sys.argv))
    inbox = Inbox()
    conn.set_listener("", inbox)
    connect(conn)
    seen = set()
    duplicates = 0
    quiet_since = time.monotonic()
    while True:
        try:
            frame = inbox.frames.get(timeout=0.2)
        except queue.Empty:
            if time.monotonic() - quiet_since >= QUIET:
                break
            continue
        if frame is None:  # the connection dropped: fail over and subscribe again
            if not conn.is_connected():
                print("connection lost: reconnecting", flush=True)
                connect(conn)
            quiet_since = time.monotonic()
            continue
        body = frame.body
        if body in seen:
            duplicates += 1
        seen.add(body)
        print("**** consumer received: " + body, flush=True)
        try:
            conn.ack(frame.headers["ack"])
        except brokers.DROPPED:
            pass  # the connection dropped: redelivered after the failover
        quiet_since = time.monotonic()
    try:
        conn.disconnect()
    except brokers.DROPPED:
        pass
    print("**** %d messages received (%d duplicates)" % (len(seen), duplicates), flush=True)


if __name__ == "__main__":
    main()
