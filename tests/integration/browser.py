"""A headless Chromium driven over the DevTools protocol, for the console's
browser tests.  Standard library only.

Chromium runs with --remote-debugging-pipe: it reads commands from its fd 3
and writes answers and events to its fd 4, each message a JSON object ended
by a NUL byte.  One page target is attached in flat mode, so every command
for the page carries its sessionId.  Every wait is bounded; close() kills
the browser and removes its profile.

The browser is Debian's `chromium` (scripts/deps.sh installs it), or the
program named by $VABILL_CHROMIUM.
"""
import base64
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time


def chromium_path():
    """The browser to run, or None when none is installed."""
    p = os.environ.get("VABILL_CHROMIUM")
    if p:
        return p
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


class BrowserError(AssertionError):
    pass


def _high_fd(fd):
    """fd moved to a number of 10 or more (not inherited), so that the
    child's redirections to 3 and 4 cannot overwrite it."""
    new = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return new


class Browser:
    def __init__(self, width=1280, height=900, timeout=30):
        exe = chromium_path()
        if exe is None:
            raise BrowserError("chromium is not installed (scripts/deps.sh installs it)")
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="vabill-chromium-")
        cmd_r, self._cmd_w = (_high_fd(f) for f in os.pipe())
        self._res_r, res_w = (_high_fd(f) for f in os.pipe())
        args = [exe, "--headless=new", "--disable-gpu", "--no-sandbox", "--remote-debugging-pipe",
                "--user-data-dir=" + self.profile, "--no-first-run", "--no-default-browser-check",
                "--disable-extensions", "--disable-background-networking", "--disable-sync",
                "--disable-component-update", "--disable-default-apps", "--disable-dev-shm-usage",
                "--password-store=basic", "--use-mock-keychain", "--mute-audio",
                "--window-size=%d,%d" % (width, height), "about:blank"]
        # fd 3: commands in, fd 4: answers out, set up by bash (dash takes
        # no fd number above 9), which closes the originals
        script = 'exec "$@" 3<&%d 4>&%d %d<&- %d>&-' % (cmd_r, res_w, cmd_r, res_w)
        self.log = open(os.path.join(self.profile, "chromium.log"), "w+")
        self.proc = subprocess.Popen(["bash", "-c", script, "bash"] + args, pass_fds=(cmd_r, res_w),
                                     stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
                                     start_new_session=True)
        os.close(cmd_r)
        os.close(res_w)
        self._next_id = 0
        self._answers = {}
        self.events = []
        self._cond = threading.Condition()
        self._closed = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.session = None
        try:
            self._attach()
        except BaseException:
            self.close()
            raise

    # ---- transport ----

    def _read(self):
        buf = b""
        while True:
            try:
                chunk = os.read(self._res_r, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                break
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw)
                with self._cond:
                    if "id" in msg:
                        self._answers[msg["id"]] = msg
                    else:
                        self.events.append(msg)
                        self._on_event(msg)
                    self._cond.notify_all()
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _on_event(self, msg):
        # a dialog blocks the page until answered: confirm() is accepted,
        # alert() is recorded (a test asserts there was none) and dismissed
        if msg.get("method") == "Page.javascriptDialogOpening":
            threading.Thread(target=self._answer_dialog, args=(msg,), daemon=True).start()

    def _answer_dialog(self, msg):
        accept = msg["params"].get("type") == "confirm"
        try:
            self.send("Page.handleJavaScriptDialog", {"accept": accept})
        except BrowserError:
            pass

    def send(self, method, params=None, session=True, timeout=None):
        """Sends one command; returns its result, raises BrowserError on an
        error answer or after timeout seconds."""
        with self._cond:
            self._next_id += 1
            mid = self._next_id
        msg = {"id": mid, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        data = json.dumps(msg).encode() + b"\0"
        try:
            while data:
                data = data[os.write(self._cmd_w, data):]
        except OSError as e:
            raise BrowserError("chromium is gone: %s" % e)
        deadline = time.monotonic() + (timeout or self.timeout)
        with self._cond:
            while mid not in self._answers:
                left = deadline - time.monotonic()
                if self._closed or left <= 0:
                    raise BrowserError("no answer to %s%s" % (method, self._tail()))
                self._cond.wait(left)
            ans = self._answers.pop(mid)
        if "error" in ans:
            raise BrowserError("%s: %s" % (method, ans["error"]))
        return ans.get("result", {})

    def _tail(self):
        try:
            self.log.flush()
            with open(self.log.name) as f:
                return "; chromium said: " + f.read()[-1500:]
        except OSError:
            return ""

    def _attach(self):
        deadline = time.monotonic() + self.timeout
        while True:
            pages = [t for t in self.send("Target.getTargets")["targetInfos"] if t["type"] == "page"]
            if pages:
                break
            if time.monotonic() > deadline:
                raise BrowserError("chromium opened no page")
            time.sleep(0.1)
        self.session = self.send("Target.attachToTarget",
                                 {"targetId": pages[0]["targetId"], "flatten": True},
                                 session=False)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.send(domain + ".enable")

    # ---- the page ----

    def navigate(self, url):
        r = self.send("Page.navigate", {"url": url})
        if r.get("errorText"):
            raise BrowserError("navigate %s: %s" % (url, r["errorText"]))

    def eval(self, expression):
        """The value of a JavaScript expression (promises awaited)."""
        r = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                           "awaitPromise": True})
        if "exceptionDetails" in r:
            raise BrowserError("%s: %s" % (expression, r["exceptionDetails"]))
        return r["result"].get("value")

    def wait_for(self, expression, what=None, timeout=None):
        """Polls until expression is truthy in JavaScript (an element comes
        back as {}); returns its value."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            v = self.eval(expression)
            if v not in (None, False, 0, ""):
                return v
            if time.monotonic() > deadline:
                text = self.eval("document.body ? document.body.innerText.slice(0, 2000) : ''")
                raise BrowserError("timed out waiting for %s; the page shows: %r"
                                   % (what or expression, text))
            time.sleep(0.1)

    def _center(self, selector):
        js = ("(() => { const e = document.querySelector(%s); if (!e) return null;"
              " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
              " return [r.left + r.width / 2, r.top + r.height / 2]; })()" % json.dumps(selector))
        xy = self.wait_for(js, "an element %s" % selector)
        return xy

    def click(self, selector):
        """A real mouse click in the middle of the first element matching selector."""
        x, y = self._center(selector)
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left",
                                                   "clickCount": 1})

    def type(self, selector, text):
        """Focuses the element (by clicking it) and types text into it."""
        self.click(selector)
        self.send("Input.insertText", {"text": text})

    def key(self, name, code, text=""):
        """Presses and releases a key, e.g. key("Enter", 13, "\\r")."""
        self.send("Input.dispatchKeyEvent", {"type": "keyDown", "key": name, "code": name,
                                             "windowsVirtualKeyCode": code, "text": text})
        self.send("Input.dispatchKeyEvent", {"type": "keyUp", "key": name, "code": name,
                                             "windowsVirtualKeyCode": code})

    def viewport(self, width, height, mobile=False):
        self.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": height,
                                                         "deviceScaleFactor": 1, "mobile": mobile})

    def screenshot(self, path, full_page=True):
        """Saves a PNG of the page (the whole page when full_page)."""
        params = {"format": "png"}
        if full_page:
            m = self.send("Page.getLayoutMetrics")["cssContentSize"]
            params["clip"] = {"x": 0, "y": 0, "width": m["width"], "height": m["height"], "scale": 1}
            params["captureBeyondViewport"] = True
        data = base64.b64decode(self.send("Page.captureScreenshot", params)["data"])
        with open(path, "wb") as f:
            f.write(data)
        return path

    def dialogs(self):
        return [e["params"] for e in self.events if e.get("method") == "Page.javascriptDialogOpening"]

    def problems(self):
        """Uncaught exceptions and console errors (CSP violations among them)."""
        out = []
        for e in self.events:
            m, p = e.get("method"), e.get("params", {})
            if m == "Runtime.exceptionThrown":
                out.append("exception: %s" % p["exceptionDetails"].get("text"))
            elif m == "Log.entryAdded" and p["entry"]["level"] == "error":
                out.append("%s: %s" % (p["entry"]["source"], p["entry"]["text"]))
        return out

    # ---- the end ----

    def close(self):
        if self.proc.poll() is None:
            try:
                self.send("Browser.close", session=False, timeout=5)
            except BrowserError:
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, 9)  # its own session: helpers left behind too
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=10)
        self._reader.join(timeout=5)  # it ends at end of file, once the browser is gone
        for fd in (self._cmd_w, self._res_r):
            try:
                os.close(fd)
            except OSError:
                pass
        self.log.close()
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
