#!/usr/bin/python3
"""bench-metrics.py - what a METRICS scrape costs the node's loop.

Starts one eventflowd (BUILD/src/daemon/eventflowd) on a free port in a
temporary directory, gives it GROUP_COUNT consumer groups (half following
one stream each, half the global log, each with an event pending),
STREAM_COUNT streams, SUB_CONNS subscribed connections holding SUB_COUNT
subscriptions in all,
then scrapes METRICS SCRAPES times, one at a time. Each exposition carries
eventflow_metrics_render_seconds, the loop time the previous render took,
measured inside eventflowd around metrics_render; the client's round trip
(render, RESP framing, loopback) is printed as an upper bound.

Env: BUILD (./build), GROUP_COUNT (1000), STREAM_COUNT (10000), SUB_CONNS
(100), SUB_COUNT (1000), SCRAPES (500). (Not GROUPS: bash keeps that name.) The server is stopped by its PID and its directory
removed. Needs python3-redis (scripts/setup.sh)."""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import redis


def env_int(name, default):
    return int(os.environ.get(name, default))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(p / 100 * len(v)))]


def main():
    build = os.environ.get("BUILD", "build")
    groups, streams = env_int("GROUP_COUNT", 1000), env_int("STREAM_COUNT", 10000)
    conns, subs, scrapes = env_int("SUB_CONNS", 100), env_int("SUB_COUNT", 1000), env_int("SCRAPES", 500)
    port = free_port()
    tmp = tempfile.mkdtemp(prefix="eventflow-bench-metrics-")
    log = open(os.path.join(tmp, "eventflowd.log"), "w")
    server = subprocess.Popen([os.path.join(build, "src/daemon/eventflowd"), "--port", str(port),
                               "--raft-address", f"127.0.0.1:{free_port()}", "--data", os.path.join(tmp, "data"), "--http-port", "0"],
                              stdout=log, stderr=log)
    sockets = []
    try:
        r = redis.Redis(port=port, decode_responses=True)
        deadline = time.monotonic() + 30
        while True:
            try:
                if '"ready":true' in r.execute_command("STATUS"):
                    break
            except redis.exceptions.ConnectionError:
                pass
            if time.monotonic() > deadline:
                sys.exit("eventflowd did not become ready")
            time.sleep(0.05)

        p = r.pipeline(transaction=False)
        for i in range(groups):
            spec = f'{{"group":"g{i}","stream":"s{i}"}}' if i % 2 == 0 else f'{{"group":"g{i}","all":true}}'
            p.execute_command("GROUP", "CREATE", spec)
        p.execute()
        for start in range(0, streams, 1000):
            p = r.pipeline(transaction=False)
            for i in range(start, min(streams, start + 1000)):
                p.execute_command("ADD", f'{{"stream":"s{i}","version":"any","events":[{{"type":"T"}}]}}')
            p.execute()
        p = r.pipeline(transaction=False)
        for i in range(groups):
            p.execute_command("GROUP", "READ", f'{{"group":"g{i}","consumer":"c","count":1}}')
        p.execute()

        per_conn = max(1, subs // max(1, conns))
        for c in range(conns):
            s = socket.create_connection(("127.0.0.1", port))
            names = [f"s{(c * per_conn + k) % streams}" for k in range(per_conn)]
            args = ["SUBSCRIBE"] + names
            s.sendall(("*%d\r\n" % len(args) + "".join(f"${len(a)}\r\n{a}\r\n" for a in args)).encode())
            sockets.append(s)

        r.execute_command("METRICS")  # the first render, whose time the next one reports
        render, rtt, size = [], [], 0
        for _ in range(scrapes):
            t0 = time.perf_counter()
            text = r.execute_command("METRICS")
            rtt.append(time.perf_counter() - t0)
            size = len(text)
            for line in text.splitlines():
                if line.startswith("eventflow_metrics_render_seconds "):
                    render.append(float(line.split()[1]))
        text = r.execute_command("METRICS")
        subs_live = sum(float(l.split()[1]) for l in text.splitlines() if l.startswith("eventflow_subscriptions{"))
        print(f"groups {groups}, streams {streams}, subscribed connections {conns}, subscriptions {subs_live:.0f}, "
              f"exposition {size} bytes, {scrapes} scrapes")
        print("render (loop time, measured in eventflowd): median %.3f ms, p99 %.3f ms, max %.3f ms" %
              (percentile(render, 50) * 1e3, percentile(render, 99) * 1e3, max(render) * 1e3))
        print("round trip (client, upper bound):          median %.3f ms, p99 %.3f ms, max %.3f ms" %
              (percentile(rtt, 50) * 1e3, percentile(rtt, 99) * 1e3, max(rtt) * 1e3))
    finally:
        for s in sockets:
            s.close()
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
