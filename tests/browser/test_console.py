#!/usr/bin/env python3
"""test_console.py - the web console (docs/http.md, "Web console") in a real
browser against a real cluster.

Starts three eventflowd (EVENTFLOWD) on free 127.0.0.1 ports with HTTP and
a password, writes events, and drives headless chromium (cdp.py) at one
node's console: the page asks for the password (401), then must show the
three members with their roles and checksums, the streams written, a
clicked stream's events, and events written after it opened arriving in
its live tail over server-sent events. Also checks the console's HTTP
surface: public files with ETag/304, everything else behind the password,
the event stream taking it as access_token. Screenshot and DOM go to
ARTIFACTS (default: the current directory); their paths are printed.
Nodes and chromium are stopped by PID, the temporary directory removed."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cdp import Browser, CdpError  # noqa: E402

PASSWORD = "console-s3cret"
WAIT_S = 20


def fail(message):
    print(f"FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def free_ports(n):
    """n ports the kernel says are free, held together so they differ."""
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def http(port, path, method="GET", body=None, headers=None, auth=True):
    """(status, headers, body bytes) of one request; HTTP errors are answers too."""
    h = dict(headers or {})
    if auth:
        h["Authorization"] = "Bearer " + PASSWORD
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


class Cluster:
    def __init__(self, eventflowd, tmp):
        ports = free_ports(9)
        self.nodes = [{"id": i + 1, "port": ports[3 * i], "raft": ports[3 * i + 1], "http": ports[3 * i + 2]}
                      for i in range(3)]
        members = ",".join(f"{n['id']}@127.0.0.1:{n['raft']}@127.0.0.1:{n['port']}" for n in self.nodes)
        self.procs = []
        for n in self.nodes:
            log = open(os.path.join(tmp, f"node{n['id']}.log"), "wb")
            n["log"] = log.name
            self.procs.append(subprocess.Popen(
                [eventflowd, "--id", str(n["id"]), "--bind", "127.0.0.1", "--port", str(n["port"]),
                 "--raft-address", f"127.0.0.1:{n['raft']}", "--http-port", str(n["http"]),
                 "--data", os.path.join(tmp, f"data{n['id']}"), "--cluster", members,
                 "--password", PASSWORD],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT))
            log.close()

    def leader(self):
        """The node that leads and is ready, once all three answer /cluster."""
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            for i, p in enumerate(self.procs):
                if p.poll() is not None:
                    fail(f"node {i + 1} exited ({p.returncode}); see {self.nodes[i]['log']}")
            try:
                status, _, body = http(self.nodes[0]["http"], "/cluster")
                members = json.loads(body) if status == 200 else []
                lead = [m for m in members if m.get("state") == "leader" and m.get("ready")]
                if len(members) == 3 and all("error" not in m for m in members) and lead:
                    return next(n for n in self.nodes if n["id"] == lead[0]["id"])
            except (OSError, ValueError):
                pass  # not listening yet
            time.sleep(0.1)  # poll interval of a condition wait (a ready leader)
        fail("no ready leader with three members answering")

    def stop_node(self, node):
        """SIGTERM one node by PID and wait for it (stop() checks its exit)."""
        p = self.procs[self.nodes.index(node)]
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            fail(f"node {node['id']} did not stop within 10 s of SIGTERM")

    def stop(self):
        """SIGTERM each node by PID; the nodes that did not exit 0 (a
        sanitizer's report, a crash), with the end of their logs printed."""
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        bad = []
        for n, p in zip(self.nodes, self.procs):
            try:
                rc = p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                rc = f"killed after 10 s ({p.wait()})"
            if rc != 0:
                bad.append(f"node {n['id']}: exit {rc}")
                with open(n["log"], "rb") as f:
                    sys.stderr.write(f"---- node {n['id']} log tail ----\n")
                    sys.stderr.write(f.read()[-4000:].decode(errors="replace"))
        return bad


def add(node, stream, types):
    status, _, body = http(node["http"], "/streams/" + stream, "POST",
                           [{"type": t, "data": {"n": i}} for i, t in enumerate(types)])
    if status != 200:
        fail(f"POST /streams/{stream}: {status} {body[:200]!r}")
    return json.loads(body)["result"][-1]["id"]


def check_http_surface(node):
    """The console's files are public, with ETag/304; data needs the password."""
    status, h, body = http(node["http"], "/", auth=False)
    if status != 200 or not h["Content-Type"].startswith("text/html") or b"/console/app.js" not in body:
        fail(f"GET / without auth: {status} {h.get('Content-Type')}")
    for path, ctype in (("/console/app.js", "text/javascript"), ("/console/style.css", "text/css")):
        status, h, _ = http(node["http"], path, auth=False)
        etag = h.get("ETag")
        if status != 200 or not h["Content-Type"].startswith(ctype) or not etag or h.get("Cache-Control") != "no-cache":
            fail(f"GET {path}: {status} {dict(h)}")
        status, h, body = http(node["http"], path, headers={"If-None-Match": etag}, auth=False)
        if status != 304 or body:
            fail(f"GET {path} with If-None-Match its ETag: {status}, {len(body)} bytes")
    if http(node["http"], "/console/missing.js", auth=False)[0] != 404:
        fail("an unknown console file is not 404")
    if http(node["http"], "/status", auth=False)[0] != 401:
        fail("/status without the password is not 401")
    if http(node["http"], "/streams?access_token=" + PASSWORD, auth=False)[0] != 401:
        fail("access_token is taken outside the event streams")
    if http(node["http"], "/all/subscribe?access_token=wrong", auth=False)[0] != 401:
        fail("/all/subscribe with a wrong access_token is not 401")


def rows(table):
    """JS: a table's body rows as objects from its header's names to the
    cells' text, so the checks do not depend on the columns' order."""
    return (f"(() => {{ const t = document.getElementById('{table}');"
            " const names = [...t.tHead.rows[0].cells].map(c => c.textContent);"
            " return [...t.tBodies[0].rows].map(r => Object.fromEntries(names.map((n, i) => [n, r.cells[i]?.textContent]))); })()")


def drive(browser, cluster_nodes, leader, node, streams, artifacts):
    url = f"http://127.0.0.1:{node['http']}/"
    browser.open(url, 1280, 900)
    browser.wait_for("!document.getElementById('login').hidden", "the password form (401)")
    browser.eval(f"document.getElementById('password').value = {json.dumps(PASSWORD)};"
                 "document.getElementById('login').requestSubmit(); true")

    # The cluster: three members, one leader, two followers, all voters,
    # converged (same applied index and checksum, no lag).
    expr = (f"(() => {{ const r = {rows('cluster')};"
            " return r.length === 3 && r.every(c => c.lag === '0') && new Set(r.map(c => c.checksum)).size === 1"
            " && r[0].checksum ? r : null; })()")
    members = browser.wait_for(expr, "three converged members in the cluster table")
    if sorted(m["id"] for m in members) != ["1", "2", "3"]:
        fail(f"member ids: {members}")
    if sorted(m["state"] for m in members) != ["follower", "follower", "leader"]:
        fail(f"member states: {members}")
    if any(m["role"] != "voter" for m in members):
        fail(f"member roles: {members}")
    if [m["id"] for m in members if m["state"] == "leader"] != [str(leader["id"])]:
        fail(f"the table's leader is not node {leader['id']}: {members}")
    for n in cluster_nodes:
        m = next(m for m in members if m["id"] == str(n["id"]))
        if m["client address"] != f"127.0.0.1:{n['port']}" or m["http"] != f"127.0.0.1:{n['http']}":
            fail(f"node {n['id']}'s addresses: {m}")

    # The streams, with their counts.
    expr = (f"(() => {{ const r = {rows('streams')};"
            f" return {json.dumps(sorted(streams))}.every(s => r.some(c => c.stream === s)) ? r : null; }})()")
    listed = browser.wait_for(expr, "the streams written in the streams table")
    for name, types in streams.items():
        if [name, str(len(types))] not in [[c["stream"], c["events"]] for c in listed]:
            fail(f"stream {name} with {len(types)} events not listed: {listed}")

    # A stream's events, by clicking it.
    name = sorted(streams)[0]
    browser.eval(f"[...document.querySelectorAll('#streams tbody tr')]"
                 f".find(r => r.cells[0].textContent === {json.dumps(name)}).click(); true")
    expr = (f"(() => {{ const r = {rows('events')};"
            f" return r.length === {len(streams[name])} ? r : null; }})()")
    events = browser.wait_for(expr, f"the events of {name}")
    if [e["type"] for e in events] != streams[name] or [e["version"] for e in events] != [str(i) for i in range(len(events))]:
        fail(f"events of {name}: {events}")

    # The live tail: events written after the page opened arrive over SSE.
    browser.wait_for("document.getElementById('tail-state').textContent.startsWith('live')", "the tail to connect")
    written = {"tail-a": ["TailOne", "TailTwo"], "tail-b": ["TailThree"]}
    for stream, types in written.items():
        add(leader, stream, types)
    expr = (f"(() => {{ const r = {rows('tail')};"
            " return r.length >= 3 && ['TailOne','TailTwo','TailThree'].every(t => r.some(c => c.type === t)) ? r : null; })()")
    tail = browser.wait_for(expr, "the events written after load in the live tail")
    # Newest first: the last write is the top row.
    if [tail[0][k] for k in ("stream", "version", "type")] != ["tail-b", "0", "TailThree"]:
        fail(f"tail order: {tail[:3]}")

    # Let the next refresh show the new streams, then keep the evidence.
    browser.wait_for(f"{rows('streams')}.some(c => c.stream === 'tail-b')", "the new streams after a refresh")
    shot = os.path.join(artifacts, "console.png")
    dom = os.path.join(artifacts, "console.html")
    browser.screenshot(shot)
    with open(dom, "w") as f:
        f.write(browser.eval("document.documentElement.outerHTML"))
    print(f"screenshot: {shot}\nDOM: {dom}")
    if browser.eval("!document.getElementById('error').hidden"):
        fail("the page shows an error: " + browser.eval("document.getElementById('error').textContent"))
    errors = browser.page_errors()
    if errors:
        fail(f"errors in the page: {errors}")
    return shot


def check_member_down(browser, cluster, leader, node, artifacts):
    """A member stopped: the page says it is unreachable, and goes on
    showing the others."""
    down = next(n for n in cluster.nodes if n is not leader and n is not node)
    cluster.stop_node(down)
    expr = (f"(() => {{ const r = {rows('cluster')};"
            f" const d = r.find(c => c.id === '{down['id']}');"
            " const why = document.querySelector('#cluster tr.unreachable td[colspan]');"
            " return r.length === 3 && d && d.state === 'unreachable' && why && why.textContent"
            " && r.filter(c => c.state === 'leader' || c.state === 'follower').length === 2 ? why.textContent : null; })()")
    why = browser.wait_for(expr, f"node {down['id']} shown unreachable beside the two others")
    print(f"node {down['id']} stopped; the console says: {why}")
    shot = os.path.join(artifacts, "console-member-down.png")
    browser.screenshot(shot)
    print(f"screenshot, one member down: {shot}")


def main():
    eventflowd = os.environ.get("EVENTFLOWD")
    if not eventflowd or not os.access(eventflowd, os.X_OK):
        fail("set EVENTFLOWD to eventflowd's path")
    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        fail("chromium is not installed (scripts/setup.sh installs it): the web console cannot be tested")
    artifacts = os.environ.get("ARTIFACTS", os.getcwd())
    for old in ("console.png", "console.html", "console-member-down.png", "console-failed.png"):
        # A previous run's evidence must not pass for this run's.
        if os.path.exists(os.path.join(artifacts, old)):
            os.remove(os.path.join(artifacts, old))
    tmp = tempfile.mkdtemp(prefix="eventflow-console-")
    cluster = Cluster(eventflowd, tmp)
    browser = None
    stopped_badly = []
    try:
        leader = cluster.leader()
        check_http_surface(leader)
        streams = {"orders-1": ["OrderPlaced", "OrderPaid", "OrderShipped"], "accounts-7": ["AccountOpened"]}
        for name, types in streams.items():
            add(leader, name, types)
        # A follower's console: reads are served by any node.
        follower = next(n for n in cluster.nodes if n is not leader)
        browser = Browser(chromium, os.path.join(tmp, "profile"), os.path.join(tmp, "chromium.log"))
        try:
            drive(browser, cluster.nodes, leader, follower, streams, artifacts)
            check_member_down(browser, cluster, leader, follower, artifacts)
        except CdpError as e:
            try:
                browser.screenshot(os.path.join(artifacts, "console-failed.png"))
                print(f"screenshot of the failure: {os.path.join(artifacts, 'console-failed.png')}")
            except (CdpError, OSError):
                pass
            fail(f"{e}; page errors: {browser.page_errors()}")
    finally:
        if browser is not None:
            browser.close()
        stopped_badly = cluster.stop()
        if os.environ.get("KEEP_TMP"):
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if stopped_badly:
        fail("nodes did not stop cleanly: " + "; ".join(stopped_badly))
    print("ok: console shows the cluster, the streams, a stream's events and the live tail")


if __name__ == "__main__":
    main()
