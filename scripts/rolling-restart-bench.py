#!/usr/bin/python3
"""rolling-restart-bench.py - the longest write pause while every node of a
three-node cluster is restarted in turn (SIGTERM, start again, wait until it
has caught up), under a steady write load, and whether any acknowledged
write was lost.

Starts three eventflowd nodes on free 127.0.0.1 ports (temp data dirs) and
WRITERS threads that each append events one at a time, following -MOVED to
the leader and retrying -TRYAGAIN/-NOLEADER/refused connections on the next
node after 5 ms. Every acknowledgement is timestamped; the longest gap
between two consecutive acknowledgements (all writers together) is the
write pause a client saw. ROUNDS times, each node is stopped with SIGTERM
(the leader last, so that each round ends with a handover), restarted, and
waited for (same CHECKSUM as the leader). At the end every acknowledged id
is looked up on the leader: a missing one is a lost write.

With KILLS=N it measures failover under the same load instead: N times,
kill -9 the leader, note when the first write after the kill is
acknowledged by another node, restart the killed node and wait until it has caught up;
it prints the median and max of those times and the raft terms used
(one per kill when no election was wasted).

Env: EVENTFLOWD (default build/src/daemon/eventflowd), WRITERS (default 8),
     ROUNDS (default 1), KILLS (default 0: a rolling restart),
     ELECTION_TIMEOUT / HEARTBEAT_TIMEOUT (passed on).
Needs python3-redis. Prints one summary line and exits 1 on a lost write.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import redis

BIN = os.environ.get("EVENTFLOWD", "build/src/daemon/eventflowd")
WRITERS = int(os.environ.get("WRITERS", "8"))
ROUNDS = int(os.environ.get("ROUNDS", "1"))
KILLS = int(os.environ.get("KILLS", "0"))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Cluster:
    def __init__(self, root):
        self.root = root
        self.cport = {i: free_port() for i in (1, 2, 3)}
        self.rport = {i: free_port() for i in (1, 2, 3)}
        self.procs = {}
        self.members = ",".join(
            f"{i}@127.0.0.1:{self.rport[i]}@127.0.0.1:{self.cport[i]}" for i in (1, 2, 3))

    def start(self, i):
        args = [BIN, "--id", str(i), "--port", str(self.cport[i]),
                "--raft-address", f"127.0.0.1:{self.rport[i]}", "--http-port", "0",
                "--data", f"{self.root}/n{i}", "--cluster", self.members]
        for env, flag in (("ELECTION_TIMEOUT", "--election-timeout"),
                          ("HEARTBEAT_TIMEOUT", "--heartbeat-timeout")):
            if os.environ.get(env):
                args += [flag, os.environ[env]]
        log = open(f"{self.root}/n{i}.log", "ab")
        self.procs[i] = subprocess.Popen(args, stdout=log, stderr=log)

    def stop(self, i):
        p = self.procs.pop(i)
        p.send_signal(signal.SIGTERM)
        return p.wait(timeout=30)

    def status(self, i):
        try:
            return json.loads(redis.Redis(port=self.cport[i], socket_timeout=1).execute_command("STATUS"))
        except (redis.RedisError, OSError, ValueError):
            return None

    def leader(self):
        for i in self.procs:
            st = self.status(i)
            if st and st.get("state") == "leader" and st.get("ready"):
                return i
        return None

    def wait(self, what, cond, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = cond()
            if r:
                return r
            time.sleep(0.02)
        raise SystemExit(f"rolling-restart-bench: {what} not reached within {timeout} s")

    def checksum(self, i):
        try:
            return redis.Redis(port=self.cport[i], socket_timeout=1).execute_command("CHECKSUM")
        except (redis.RedisError, OSError):
            return None

    def caught_up(self, i):
        lead = self.leader()
        return lead is not None and self.checksum(lead) == self.checksum(i)

    def kill_all(self):
        for p in self.procs.values():
            p.kill()
            p.wait()
        self.procs.clear()


class Writer(threading.Thread):
    def __init__(self, n, cluster, stop, acks, lock):
        super().__init__(daemon=True)
        self.n, self.cluster, self.stop_ev, self.acks, self.lock = n, cluster, stop, acks, lock
        self.unknown = 0
        self.errors = {}

    def run(self):
        ports = list(self.cluster.cport.values())
        k = self.n % len(ports)
        conn = None
        seq = 0
        while not self.stop_ev.is_set():
            if conn is None:
                conn = redis.Redis(port=ports[k], socket_timeout=5)
            arg = json.dumps({"stream": f"roll-{self.n}", "version": "any",
                              "events": [{"type": "Roll", "data": {"w": self.n, "seq": seq}}]})
            try:
                reply = conn.execute_command("ADD", arg)
            except redis.ResponseError as e:
                word = str(e).split(" ", 1)[0]
                if word == "MOVED":
                    port = int(str(e).split()[2].rsplit(":", 1)[1])
                    k = ports.index(port) if port in ports else (k + 1) % len(ports)
                    conn = None
                    continue
                if word == "UNKNOWN":
                    self.unknown += 1  # may or may not have been written: not counted as acked
                self.errors[word] = self.errors.get(word, 0) + 1
                k = (k + 1) % len(ports)
                conn = None
                time.sleep(0.005)
                continue
            except (redis.ConnectionError, redis.TimeoutError, OSError):
                k = (k + 1) % len(ports)
                conn = None
                time.sleep(0.005)
                continue
            ev = json.loads(reply[0])
            with self.lock:
                self.acks.append((time.monotonic(), self.n, ev["id"], ports[k]))
            seq += 1


def main():
    if not os.access(BIN, os.X_OK):
        sys.exit(f"no {BIN}: build first, or set EVENTFLOWD")
    root = tempfile.mkdtemp(prefix="eventflow-rolling.")
    c = Cluster(root)
    try:
        for i in (1, 2, 3):
            c.start(i)
        c.wait("a leader", c.leader)
        stop, lock, acks = threading.Event(), threading.Lock(), []
        writers = [Writer(n, c, stop, acks, lock) for n in range(WRITERS)]
        for w in writers:
            w.start()
        time.sleep(2)  # load before the first restart: the baseline gap
        t_roll = time.monotonic()
        handovers = 0
        samples = []
        term0 = c.status(c.wait("a leader", c.leader))["term"]
        for _ in range(KILLS):
            lead = c.wait("a leader", c.leader)
            p = c.procs.pop(lead)
            t_kill = time.monotonic()
            p.kill()
            p.wait()

            # Acknowledged by another node: a reply the killed leader sent
            # just before the signal may still arrive after it.
            def acked_since():
                with lock:
                    return [a[0] for a in acks[-4 * WRITERS:] if a[0] > t_kill and a[3] != c.cport[lead]]
            c.wait("a write acknowledged after the kill", acked_since)
            with lock:
                samples.append(min(a[0] for a in acks if a[0] > t_kill and a[3] != c.cport[lead]) - t_kill)
            c.start(lead)
            c.wait(f"node {lead} caught up", lambda: c.caught_up(lead))
        for _ in range(ROUNDS if KILLS == 0 else 0):
            lead = c.wait("a leader", c.leader)
            for i in [x for x in (1, 2, 3) if x != lead] + [lead]:
                before = len(open(f"{root}/n{i}.log", "rb").read().split(b"handed leadership"))
                rc = c.stop(i)
                if rc != 0:
                    sys.exit(f"node {i} exited with status {rc} after SIGTERM")
                handovers += len(open(f"{root}/n{i}.log", "rb").read().split(b"handed leadership")) - before
                c.start(i)
                c.wait(f"node {i} caught up", lambda: c.caught_up(i))
        t_end = time.monotonic()
        time.sleep(1)
        stop.set()
        for w in writers:
            w.join()
        acks.sort()
        gaps = [(b[0] - a[0], a[0]) for a, b in zip(acks, acks[1:]) if a[0] >= t_roll - 1 and b[0] <= t_end + 1]
        pause, at = max(gaps) if gaps else (0, 0)
        base = [b[0] - a[0] for a, b in zip(acks, acks[1:]) if b[0] < t_roll]
        lead = c.wait("a leader", c.leader)
        r = redis.Redis(port=c.cport[lead], socket_timeout=30)
        lost = 0
        for n in range(WRITERS):
            got, version = set(), 0
            while True:
                page = [json.loads(e) for e in r.execute_command(
                    "GET", json.dumps({"stream": f"roll-{n}", "version": version, "limit": 10000}))]
                if not page:
                    break
                got.update(e["id"] for e in page)
                version = page[-1]["version"] + 1
            lost += sum(1 for a in acks if a[1] == n and a[2] not in got)
        errors = {}
        for w in writers:
            for k, v in w.errors.items():
                errors[k] = errors.get(k, 0) + v
        if KILLS:
            samples.sort()
            terms = c.status(lead)["term"] - term0
            print(f"kill -9 of the leader x {KILLS} under {WRITERS} writers ({len(acks) / (acks[-1][0] - acks[0][0]):.0f} "
                  f"writes/s): first write acknowledged after the kill: median {samples[len(samples) // 2] * 1000:.0f} ms, "
                  f"min {samples[0] * 1000:.0f} ms, max {samples[-1] * 1000:.0f} ms; raft terms used {terms}; "
                  f"lost {lost}, error replies {errors}")
            return 1 if lost else 0
        print(f"rolling restart of 3 nodes x {ROUNDS} round(s), {WRITERS} writers: {len(acks)} writes acknowledged "
              f"({len(acks) / (acks[-1][0] - acks[0][0]):.0f}/s), longest pause {pause * 1000:.0f} ms "
              f"({at - t_roll:.1f} s into the restarts; longest before them {max(base) * 1000 if base else 0:.0f} ms), "
              f"handovers logged {handovers}, lost {lost}, error replies {errors}")
        return 1 if lost else 0
    finally:
        c.kill_all()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
