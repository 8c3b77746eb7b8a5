"""A small W3C WebDriver client (chromedriver, headless Chromium) over urllib: the handful of
commands the designer's browser test needs, so the test has no dependency beyond Debian's
chromium and chromium-driver."""

import base64
import json
import subprocess
import time
import urllib.error
import urllib.request

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"


class WebDriverError(Exception):
    pass


class Browser:
    def __init__(self, port=9515, chromedriver="chromedriver", chromium="/usr/bin/chromium"):
        self.base = f"http://127.0.0.1:{port}"
        self.driver = subprocess.Popen([chromedriver, f"--port={port}", "--allowed-ips=127.0.0.1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while True:
            try:
                self._call("GET", "/status")
                break
            except (OSError, WebDriverError):
                if time.monotonic() > deadline:
                    raise WebDriverError("chromedriver did not start within 20 s")
                time.sleep(0.2)
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1000", "--no-proxy-server"]}}}}
        self.session = self._call("POST", "/session", caps)["sessionId"]

    def _call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return json.loads(r.read())["value"]
        except urllib.error.HTTPError as e:
            raise WebDriverError(f"{method} {path}: {e.read().decode(errors='replace')[:500]}") from None

    def cmd(self, method, path, body=None):
        return self._call(method, f"/session/{self.session}{path}", body)

    def get(self, url):
        self.cmd("POST", "/url", {"url": url})

    def find(self, css, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.cmd("POST", "/element", {"using": "css selector", "value": css})[ELEMENT]
            except WebDriverError:
                if time.monotonic() > deadline:
                    raise WebDriverError(f"no element {css!r} on {self.url()} within {timeout} s; page text: {self.text('body', 0)[:800]!r}") from None
                time.sleep(0.2)

    def click(self, css):
        self.cmd("POST", f"/element/{self.find(css)}/click", {})

    def script(self, js, *args):
        return self.cmd("POST", "/execute/sync", {"script": js, "args": list(args)})

    def submit(self, css, timeout=30):
        """Clicks a button that loads a new page, and waits until the new page is there."""
        self.script("window.__before_submit = true;")
        self.click(css)
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.script("return window.__before_submit === undefined && document.readyState === 'complete';"):
                    return
            except WebDriverError:
                pass  # navigating
            if time.monotonic() > deadline:
                raise WebDriverError(f"clicking {css!r} loaded no new page within {timeout} s")
            time.sleep(0.1)

    def type(self, css, text):
        el = self.find(css)
        self.cmd("POST", f"/element/{el}/clear", {})
        self.cmd("POST", f"/element/{el}/value", {"text": text})

    def select(self, css, value):
        self.script("document.querySelector(arguments[0]).value = arguments[1];", css, value)

    def text(self, css="body", timeout=10):
        try:
            return self.cmd("GET", f"/element/{self.find(css, timeout)}/text")
        except WebDriverError:
            if timeout == 0:
                return ""
            raise

    def url(self):
        return self.cmd("GET", "/url")

    def screenshot(self, path):
        path.write_bytes(base64.b64decode(self.cmd("GET", "/screenshot")))

    def close(self):
        try:
            self.cmd("DELETE", "")
        finally:
            self.driver.terminate()
            self.driver.wait(10)
