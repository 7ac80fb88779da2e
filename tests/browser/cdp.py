"""cdp.py - just enough of the Chrome DevTools Protocol, over the pipe
chromium opens with --remote-debugging-pipe (it reads commands on fd 3 and
writes answers and events on fd 4, each message JSON ended by a NUL), for
test_console.py: open a page, evaluate script in it, take a screenshot.
Standard library only, so the test needs no package beyond chromium."""
import base64
import fcntl
import json
import os
import select
import subprocess
import time


class CdpError(Exception):
    pass


def _as_fds_3_4(r, w):
    """In the child: r as fd 3, w as fd 4. Through copies above both, so
    neither is overwritten while the other is moved; the copies and every
    other descriptor of ours close on exec (Python's are non-inheritable)."""
    hi_r = fcntl.fcntl(r, fcntl.F_DUPFD_CLOEXEC, 10)
    hi_w = fcntl.fcntl(w, fcntl.F_DUPFD_CLOEXEC, 10)
    os.dup2(hi_r, 3)
    os.dup2(hi_w, 4)


class Browser:
    def __init__(self, chromium, profile_dir, log_path):
        # Our ends: we write to to_browser, read from from_browser; the
        # child gets the other ends as its fds 3 and 4.
        cmd_r, self.to_browser = os.pipe()
        self.from_browser, out_w = os.pipe()
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
             "--no-first-run", "--no-default-browser-check", "--window-size=1280,900",
             "--user-data-dir=" + profile_dir, "about:blank"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
            close_fds=False, preexec_fn=lambda: _as_fds_3_4(cmd_r, out_w))
        os.close(cmd_r)
        os.close(out_w)
        self.next_id = 0
        self.pending = b""
        self.events = []       # every event received, in order (method, params, sessionId)
        self.session = None

    def _read_message(self, deadline):
        while b"\0" not in self.pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CdpError("no answer from chromium in time")
            ready, _, _ = select.select([self.from_browser], [], [], left)
            if not ready:
                continue
            chunk = os.read(self.from_browser, 1 << 20)
            if not chunk:
                raise CdpError("chromium closed its debugging pipe (exited?)")
            self.pending += chunk
        msg, _, self.pending = self.pending.partition(b"\0")
        return json.loads(msg)

    def call(self, method, params=None, session=True, timeout=20):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session is not None:
            msg["sessionId"] = self.session
        data = json.dumps(msg).encode() + b"\0"
        while data:
            data = data[os.write(self.to_browser, data):]
        deadline = time.monotonic() + timeout
        while True:
            answer = self._read_message(deadline)
            if answer.get("id") == self.next_id:
                if "error" in answer:
                    raise CdpError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            if "method" in answer:
                self.events.append((answer["method"], answer.get("params", {})))

    def open(self, url, width, height):
        """A new page at url (its session becomes the default for call)."""
        target = self.call("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True},
                                 session=False)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(domain + ".enable")
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        self.call("Page.navigate", {"url": url})

    def eval(self, expression):
        """The value of a JavaScript expression in the page (awaited if a promise)."""
        r = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in r:
            raise CdpError(f"{expression!r} threw: {r['exceptionDetails'].get('text')}")
        return r["result"].get("value")

    def wait_for(self, expression, what, timeout=20):
        """Poll expression until it is truthy; its value, or CdpError naming what."""
        deadline = time.monotonic() + timeout
        # Until the page has loaded, its elements may not exist yet: a throw
        # is "not yet", like a false value.
        guarded = f"(() => {{ try {{ return ({expression}); }} catch (e) {{ return null; }} }})()"
        while True:
            value = self.eval(guarded)
            if value:
                return value
            if time.monotonic() > deadline:
                raise CdpError(f"timed out waiting for {what}")
            time.sleep(0.1)  # poll interval of a condition wait (the page's DOM)

    def page_errors(self):
        """Script exceptions and error-level console or log entries seen so far."""
        errors = []
        for method, p in self.events:
            if method == "Runtime.exceptionThrown":
                errors.append(p["exceptionDetails"].get("text", "exception"))
            elif method == "Runtime.consoleAPICalled" and p.get("type") == "error":
                errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
            elif (method == "Log.entryAdded" and p["entry"].get("level") == "error"
                  and p["entry"].get("source") != "network"):
                # Not a failed request: the test asserts statuses itself,
                # and the page's 401 before the password is expected.
                errors.append(p["entry"].get("text", ""))
        return errors

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self):
        try:
            self.call("Browser.close", session=False, timeout=5)
        except (CdpError, OSError):
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.to_browser)
        os.close(self.from_browser)
        self.log.close()
