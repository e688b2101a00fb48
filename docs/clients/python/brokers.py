"""The broker list shared by produce.py and consume.py.

Takes the same failover URL as the Java example, with the STOMP ports instead of the
OpenWire ones, or a plain comma-separated host:port list:

    failover:(tcp://127.0.0.1:61613,tcp://127.0.0.1:61623,tcp://127.0.0.1:61633)?randomize=false
    127.0.0.1:61613,127.0.0.1:61623,127.0.0.1:61633

from the first argument, else the STOMP_BROKERS environment variable, else the default
cluster.toml's STOMP ports. Options after `?` are ActiveMQ's and are not read here:
stomp.py walks the list in order, which is what randomize=false asks for.
"""
import os
import re
import sys
import time

import stomp

DEFAULT = "failover:(tcp://127.0.0.1:61613,tcp://127.0.0.1:61623,tcp://127.0.0.1:61633)?randomize=false"
QUEUE = "/queue/queue-cluster"
# What stomp.py raises when the connection is gone under a send: its own NotConnected, or
# the socket's error (ConnectionResetError, BrokenPipeError) as it is.
DROPPED = (stomp.exception.StompException, OSError)


def parse(text):
    m = re.fullmatch(r"failover:\((.*)\)(\?.*)?", text.strip())
    inner = m.group(1) if m else text
    out = []
    for part in inner.split(","):
        part = part.strip()
        if part.startswith("tcp://"):
            part = part[len("tcp://"):]
        host, sep, port = part.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            sys.exit("bad broker %r in %r: want host:port or tcp://host:port" % (part, text))
        out.append((host, int(port)))
    return out


def from_args(argv):
    return parse(argv[1] if len(argv) > 1 else os.environ.get("STOMP_BROKERS", DEFAULT))


def connection(brokers):
    """A stomp.py connection over the whole list. connect() tries each broker in order
    (the slaves and a dead master refuse the TCP connection) and, after a full round without
    an answer, sleeps 0.2 s, 0.3 s, 0.45 s, ... up to 2 s and tries again: about half a minute
    in all before it raises ConnectFailedException."""
    return stomp.Connection12(
        brokers,
        reconnect_sleep_initial=0.2,
        reconnect_sleep_increase=0.5,
        reconnect_sleep_max=2.0,
        # Counted per refused connect, so 3 per round of the list.
        reconnect_attempts_max=20 * len(brokers),
        heartbeats=(0, 0),
    )


def connect(conn):
    """conn.connect(wait=True), which walks the list; again (three times at most) if the
    broker it reached drops the connection during the handshake: right after a kill, the dying
    master's port may still take a TCP connection that is then reset."""
    for attempt in range(3):
        try:
            conn.connect(wait=True)
            host, port = conn.transport.current_host_and_port
            print("connected to %s:%d" % (host, port), flush=True)
            return
        except DROPPED as e:
            if attempt == 2:
                raise
            print("connection dropped during the handshake (%s): trying the list again" % type(e).__name__, flush=True)
            time.sleep(0.5)
