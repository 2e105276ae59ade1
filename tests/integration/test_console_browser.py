"""The web console in a real browser (issue 9, docs/ADMIN.md "The console").

Debian's chromium, headless, driven over the DevTools protocol (browser.py),
against the real vabilld: an operator logs in with a token, finds an invoice
by its VA number, opens it and sees its payment and each notification
attempt; the member name, which holds a <script> element, shows as text and
runs nothing; a community is disabled only after a confirmation; a failed
notification is sent again with "Retry now".  Screenshots go to $VABILL_TEST_OUT
(ctest sets build/test-output) for a person to look at.
"""
import http.server
import json
import os
import re
import shutil
import tempfile
import threading
import time
import unittest

from browser import Browser
from harness import COMM, PG, Server, add_community, cli, invoice, send

BANK, BANK_KEY = "008", "bk008ConsoleKey01"
XSS = "<script>alert(1)</script>"
DOC, PAY_REF = "CONSOLE-1", "CON-PAY-1"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
CONSOLE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../console")
TYPES = {"html": "text/html", "js": "text/javascript", "css": "text/css"}


def out_dir():
    d = os.environ.get("VABILL_TEST_OUT") or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "../../build/test-output")
    os.makedirs(d, exist_ok=True)
    return d


def js(s):
    return json.dumps(s)


class Partner(http.server.ThreadingHTTPServer):
    """The partner's notification endpoint, always failing (HTTP 500)."""

    def __init__(self):
        self.hits = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.hits += 1
                self.send_response(500)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    def url(self):
        return "http://127.0.0.1:%d/notify" % self.server_address[1]

    def close(self):
        self.shutdown()
        self.server_close()


class ConsoleCase(unittest.TestCase):
    """Community SGWTES, notifying a partner that always fails, bank 008,
    operator alice, one invoice whose member name is a script element, paid
    in full; a running vabilld whose notification schedule runs in a blink
    (so that the notification soon fails for good)."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vabill-console-")
        self.db = os.path.join(self.tmp, "vabill.db")
        self.partner = Partner()
        add_community(self.db, extra=["--notify-url", self.partner.url()])
        r = cli("bank", "add", BANK, "--key", BANK_KEY, "--name", "Bank " + BANK, db=self.db)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = cli("operator", "add", "alice", db=self.db)
        self.assertEqual(r.returncode, 0, r.stderr)
        m = re.search(r"\bvbo_[0-9a-f]{64}\b", r.stdout)
        self.assertIsNotNone(m, "no token in: %r" % r.stdout)
        self.token = m.group(0)
        self.server = Server(self.db, ["--notify-speedup", "1000000"])
        self.url = "http://%s:%d" % (self.server.host, self.server.port)
        st, h, obj, raw = send(self.server, {DOC: invoice(member_name=XSS)})
        self.assertEqual(obj["invoices"][DOC]["error_code"], "0000", obj)
        self.va = obj["invoices"][DOC]["list_va"][BANK]["va_number"]
        r = cli("pay", "--url", self.url, "--bank", BANK, "--key", BANK_KEY, self.va, "20000",
                "--payment-ref", PAY_REF)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.browser = None

    def tearDown(self):
        if self.browser is not None:
            self.browser.close()
        self.server.__exit__(None, None, None)
        self.partner.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def api(self, path):
        st, h, body = self.server.request("GET", path,
                                          headers={"Authorization": "Bearer " + self.token})
        self.assertEqual(st, 200, body)
        return json.loads(body)

    def wait_failed(self):
        """The notification of the payment, once it has failed for good."""
        deadline = time.monotonic() + 30
        while True:
            ntf = self.api("/admin/api/notifications?status=failed")["notifications"]
            if ntf:
                return ntf[0]
            if time.monotonic() > deadline:
                self.fail("the notification did not fail: %r" % self.api("/admin/api/notifications"))
            time.sleep(0.1)

    def shot(self, name):
        suffix = "-pg" if PG else ""
        return self.browser.screenshot(os.path.join(out_dir(), "console-%s%s.png" % (name, suffix)))

    def login(self):
        self.browser = b = Browser()
        b.navigate(self.url + "/console/")
        b.wait_for("document.querySelector('#login #token')", "the login form")
        b.type("#token", self.token)
        b.click("#login button[type=submit]")
        b.wait_for("!document.getElementById('top').hidden && document.querySelector('.cards')",
                   "the overview after login")
        return b

    def text(self, selector="body"):
        return self.browser.eval("document.querySelector(%s).innerText" % js(selector))

    def assert_clean(self):
        """No alert ran, no script threw, the CSP refused nothing."""
        b = self.browser
        self.assertEqual([d for d in b.dialogs() if d.get("type") != "confirm"], [])
        bad = [p for p in b.problems()
               if not p.startswith("network:") or "Content Security Policy" in p]
        self.assertEqual(bad, [])


class StaticFiles(ConsoleCase):

    def test_embedded_files_are_served_with_type_and_headers(self):
        names = sorted(os.listdir(CONSOLE_DIR))
        self.assertIn("index.html", names)
        for name in names:
            path = "/console/" if name == "index.html" else "/console/" + name
            st, h, body = self.server.request("GET", path)
            self.assertEqual(st, 200, path)
            with open(os.path.join(CONSOLE_DIR, name), "rb") as f:
                self.assertEqual(body, f.read(), "%s is not the file of console/" % path)
            self.assertEqual(h["content-type"].split(";")[0], TYPES[name.rsplit(".", 1)[1]], path)
            self.assertEqual(h.get("content-security-policy"), CSP, path)
            self.assertEqual(h.get("x-content-type-options"), "nosniff", path)
            self.assertEqual(h.get("x-frame-options"), "DENY", path)
            self.assertEqual(h.get("referrer-policy"), "no-referrer", path)
        st, h, body = self.server.request("GET", "/console/no-such-file.js")
        self.assertEqual(st, 404)

    def test_no_inline_script_or_style_in_the_files(self):
        with open(os.path.join(CONSOLE_DIR, "index.html")) as f:
            html = f.read()
        self.assertNotRegex(html, r"<script(?![^>]*\bsrc=)")
        self.assertNotRegex(html, r"<style|\sstyle=|\son[a-z]+=")
        with open(os.path.join(CONSOLE_DIR, "app.js")) as f:
            code = f.read()
        self.assertNotRegex(code, r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(")


class Browse(ConsoleCase):

    def test_find_an_invoice_by_va_number_and_see_its_payment(self):
        ntf = self.wait_failed()
        b = self.login()
        self.assertIn("alice", self.text("#top"))
        b.click("#nav a[data-page=invoices]")
        b.wait_for("document.querySelector('#search')", "the invoice search")
        b.type("#search input[name=q]", self.va)
        b.key("Enter", 13, "\r")
        # the page is the search's once it has been drawn for this route
        b.wait_for("(document.querySelector('main').dataset.shown || '').includes(%s)"
                   % js("q=" + self.va), "the search result")
        self.assertEqual(b.eval("document.querySelectorAll('main tbody tr').length"), 1)
        self.assertIn(DOC, self.text("main tbody"))
        b.click("main tbody tr a")
        b.wait_for("document.querySelector('#invoice #payments')", "the invoice page")
        self.assertEqual(b.eval("decodeURIComponent(location.hash)"),
                         "#/invoice?community=%s&doc_no=%s" % (COMM, DOC))
        payments = self.text("#payments")
        self.assertIn(PAY_REF, payments)
        self.assertIn("20000.00", payments)
        # each delivery attempt, with its outcome
        self.assertEqual(b.eval("document.querySelectorAll('#invoice .card tbody tr').length"),
                         ntf["attempts"])
        self.assertIn("HTTP 500", self.text("#invoice .card"))
        self.assertIn(self.va, self.text("#invoice"))

        # the member name is text: shown as written, no element made of it
        self.assertIn(XSS, self.text("#invoice"))
        self.assertTrue(b.eval(
            "[...document.querySelectorAll('#invoice dd')].some(d => d.textContent === %s)" % js(XSS)))
        self.assertEqual(b.eval("[...document.scripts].map(s => s.getAttribute('src'))"),
                         ["/console/app.js"])
        self.assertFalse(b.eval("[...document.querySelectorAll('script')]"
                                ".some(s => s.textContent.includes('alert(1)'))"))
        self.shot("invoice")
        b.viewport(360, 740, mobile=True)
        b.wait_for("document.documentElement.clientWidth === 360", "the phone-sized viewport")
        # readable on a phone: the page itself does not scroll sideways
        self.assertLessEqual(b.eval("document.documentElement.scrollWidth"), 360)
        self.shot("invoice-phone")
        self.assert_clean()

        # logging out ends the session
        b.click("#logout")
        b.wait_for("document.querySelector('#login #token')", "the login form after logout")
        self.assertEqual(b.eval("fetch('/admin/api/session').then(r => r.status)"), 401)

    def test_disable_a_community_after_confirmation(self):
        b = self.login()
        b.click("#nav a[data-page=communities]")
        b.wait_for("document.querySelector('main tbody button')", "the communities")
        b.click("main tbody button")  # confirm() is accepted by browser.py
        b.wait_for("document.body.innerText.includes(%s)" % js("Community %s is disabled." % COMM),
                   "the community disabled")
        self.assertEqual([d["type"] for d in b.dialogs()], ["confirm"])
        self.assertIn(COMM, b.dialogs()[0]["message"])
        # the change was made: the partner is refused
        st, h, obj, raw = send(self.server, {"CONSOLE-2": invoice()})
        self.assertEqual(obj["error_code"], "0005", obj)
        self.shot("communities")
        b.click("main tbody button")
        b.wait_for("document.body.innerText.includes(%s)" % js("Community %s is enabled." % COMM),
                   "the community enabled again")
        self.assert_clean()

    def test_retry_a_failed_notification(self):
        ntf = self.wait_failed()
        b = self.login()
        b.click("#nav a[data-page=notifications]")
        b.wait_for("document.querySelector('main button.retry')", "the failed notification")
        self.assertIn(PAY_REF, self.text("main tbody"))
        hits = self.partner.hits
        b.click("main button.retry")
        b.wait_for("document.body.innerText.includes(%s)"
                   % js("Notification %d is pending, due now." % ntf["id"]), "the retry")
        self.shot("notifications")
        # the worker was woken: the partner is called once more at once
        deadline = time.monotonic() + 20
        while self.partner.hits == hits:
            self.assertLess(time.monotonic(), deadline, "no new attempt after Retry now")
            time.sleep(0.05)
        self.assert_clean()

    def test_a_wrong_token_is_refused(self):
        self.browser = b = Browser()
        b.navigate(self.url + "/console/")
        b.wait_for("document.querySelector('#login #token')", "the login form")
        b.type("#token", "vbo_" + "0" * 64)
        b.click("#login button[type=submit]")
        b.wait_for("document.body.innerText.includes('Wrong token.')", "the refusal")
        self.assertTrue(b.eval("document.getElementById('top').hidden"))


if __name__ == "__main__":
    unittest.main()
