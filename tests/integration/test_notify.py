"""Partner notifications (SPEC 5.3; docs/DECISIONS.md: rq_uuid NTF + payment
id, retry schedule, --notify-speedup, `notification list` format).

A small HTTP receiver in the test plays the partner: it records every POST
and answers from a script.
"""
import datetime
import hashlib
import json
import os
import re
import shutil
import socket
import tempfile
import threading
import time
import unittest
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness import Server, add_community, cli, invoice, now_local, send

PAY = "/rest/virtualaccount/payment"
NCOMM, NKEY, NBANKS = "NOTIFY", "notifyKey9999abc", ["008:73111", "009:44222"]
BANK_KEYS = {"008": "bk008MandiriKey01", "009": "bk009BniKey0002"}
DT_RE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
NOTIFY_FIELDS = {"rq_uuid", "rq_datetime", "comm_code", "doc_no", "doc_ref_no", "bank_code",
                 "va_number", "payment_ref", "amount", "paid_total", "outstanding_amount",
                 "status", "signature"}
ACK = (200, '{"error_code":"0000","error_message":"Success"}')
WAIT = 15


def sig5(mode, parts, key):
    s = "##" + "##".join(list(parts) + [key, mode]) + "##"
    return hashlib.sha256(s.upper().encode()).hexdigest()


def payment_fields(bank, va, ref, amount):
    u, d = "T5-" + uuid.uuid4().hex, now_local()
    return {"rq_uuid": u, "rq_datetime": d, "bank_code": bank, "va_number": va,
            "signature": sig5("PAYMENT", [u, d, bank, va, ref, amount], BANK_KEYS[bank]),
            "payment_ref": ref, "amount": amount}


class Receiver:
    """Records POSTs; answers with the scripted (status, body) pairs in turn,
    then with `default`."""

    def __init__(self, script=(), default=ACK, port=0):
        self.posts = []
        self.script = list(script)
        self.default = default
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    body = b""
                    while True:
                        n = int(self.rfile.readline().split(b";")[0], 16)
                        if n == 0:
                            self.rfile.readline()
                            break
                        body += self.rfile.read(n)
                        self.rfile.readline()
                else:
                    body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                pairs = urllib.parse.parse_qsl(body.decode("utf-8", "replace"),
                                               keep_blank_values=True)
                with outer.lock:
                    outer.posts.append({"path": self.path, "ctype": self.headers.get("Content-Type", ""),
                                        "pairs": pairs, "fields": dict(pairs), "t": time.monotonic()})
                    st, text = outer.script.pop(0) if outer.script else outer.default
                data = text.encode()
                self.send_response(st)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *a):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.httpd.server_address[1]
        self.url = "http://127.0.0.1:%d/espay/notify" % self.port
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def snapshot(self):
        with self.lock:
            return list(self.posts)

    def wait_for(self, pred, timeout=WAIT):
        """Polls until pred(posts) is true; returns the posts, or fails."""
        deadline = time.monotonic() + timeout
        while True:
            posts = self.snapshot()
            if pred(posts):
                return posts
            if time.monotonic() > deadline:
                raise AssertionError("receiver: condition not met in %ds; got %r"
                                     % (timeout, [p["fields"] for p in posts]))
            time.sleep(0.05)

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class NotifyCase(unittest.TestCase):
    """Community NOTIFY (--partial-payments, --notify-url to self.receiver),
    banks 008 and 009 registered, a server with --notify-speedup."""

    server_args = ("--notify-speedup", "600")
    script = ()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vabill-t5ntf-")
        self.db = os.path.join(self.tmp, "vabill.db")
        self.receiver = Receiver(self.script)
        add_community(self.db, NCOMM, NKEY, NBANKS,
                      extra=["--notify-url", self.receiver.url, "--partial-payments"])
        for b, k in sorted(BANK_KEYS.items()):
            r = cli("bank", "add", b, "--key", k, db=self.db)
            self.assertEqual(r.returncode, 0, r.stderr)
        self.servers = []
        self.server = self.start()

    def start(self):
        s = Server(self.db, self.server_args)
        self.servers.append(s)
        return s

    def tearDown(self):
        for s in self.servers:
            s.__exit__(None, None, None)
        self.receiver.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def new_invoice(self, doc, comm=NCOMM, key=NKEY, server=None):
        st, h, obj, raw = send(server or self.server, {doc: invoice()}, comm_code=comm, key=key)
        self.assertEqual(obj["error_code"], "0000", obj)
        res = obj["invoices"][doc]
        self.assertEqual(res["error_code"], "0000", res)
        return res

    def pay(self, bank, va, ref, amount, server=None, expect="0000"):
        st, h, raw = (server or self.server).post_form(payment_fields(bank, va, ref, amount),
                                                       path=PAY)
        obj = json.loads(raw)
        self.assertEqual(obj["error_code"], expect, obj)
        return obj

    def notifications(self, failed=False):
        args = ["notification", "list"] + (["--failed"] if failed else [])
        r = cli(*args, db=self.db)
        self.assertEqual(r.returncode, 0, r.stderr)
        return [l for l in r.stdout.splitlines() if l.strip()]

    def check_post(self, p, key=NKEY, **want):
        """One notification POST: form encoding, every field once, a valid
        PAYMENTREPORT signature, and the wanted values."""
        self.assertTrue(p["ctype"].split(";")[0].strip().lower()
                        == "application/x-www-form-urlencoded", p["ctype"])
        self.assertEqual(p["path"], "/espay/notify")
        names = [k for k, _ in p["pairs"]]
        self.assertEqual(sorted(names), sorted(NOTIFY_FIELDS), names)
        f = p["fields"]
        self.assertRegex(f["rq_uuid"], r"^NTF\d+$")
        self.assertRegex(f["rq_datetime"], DT_RE)
        t = datetime.datetime.strptime(f["rq_datetime"], "%Y-%m-%d %H:%M:%S")
        now = datetime.datetime.strptime(now_local(), "%Y-%m-%d %H:%M:%S")
        self.assertLess(abs((t - now).total_seconds()), 120, f)
        expected_sig = sig5("PAYMENTREPORT", [f["rq_uuid"], f["rq_datetime"], f["comm_code"],
                                              f["doc_no"], f["payment_ref"], f["amount"]], key)
        self.assertEqual(f["signature"].lower(), expected_sig, f)
        for k, v in want.items():
            self.assertEqual(f[k], v, "%s: %r" % (k, f))
        return f


class DeliveryTests(NotifyCase):

    def test_fields_and_signature(self):
        res = self.new_invoice("NT-1")
        va = res["list_va"]["009"]["va_number"]
        self.pay("009", va, "NREF-1", "20000")
        posts = self.receiver.wait_for(lambda ps: len(ps) >= 1)
        self.check_post(posts[0], comm_code=NCOMM, doc_no="NT-1", doc_ref_no=res["doc_ref_no"],
                        bank_code="009", va_number=va, payment_ref="NREF-1", amount="20000.00",
                        paid_total="20000.00", outstanding_amount="0.00", status="paid")
        # acknowledged: not sent again, not failed
        time.sleep(1.0)
        self.assertEqual(len(self.receiver.snapshot()), 1)
        self.assertEqual(self.notifications(failed=True), [])
        lines = self.notifications()
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("NREF-1", lines[0].split())

    def test_partial_payment_fields(self):
        res = self.new_invoice("NT-2")
        va = res["list_va"]["008"]["va_number"]
        self.pay("008", va, "NREF-2", "1234.5")
        posts = self.receiver.wait_for(lambda ps: len(ps) >= 1)
        self.check_post(posts[0], doc_no="NT-2", bank_code="008", va_number=va,
                        payment_ref="NREF-2", amount="1234.50", paid_total="1234.50",
                        outstanding_amount="18765.50", status="open")

    def test_one_notification_per_applied_payment(self):
        res = self.new_invoice("NT-3")
        va = res["list_va"]["008"]["va_number"]
        f = payment_fields("008", va, "NREF-3", "20000")
        for _ in range(3):  # the first is applied, the others are replays
            st, h, raw = self.server.post_form(f, path=PAY)
            self.assertEqual(json.loads(raw)["error_code"], "0000")
        self.pay("008", va, "NREF-3b", "1", expect="0015")  # refused: no notification
        self.receiver.wait_for(lambda ps: len(ps) >= 1)
        time.sleep(1.0)
        posts = self.receiver.snapshot()
        self.assertEqual([p["fields"]["payment_ref"] for p in posts], ["NREF-3"])

    def test_2xx_other_than_200_with_0000_is_ack(self):
        self.receiver.script = [(201, '{"error_code":"0000"}')]
        res = self.new_invoice("NT-4")
        self.pay("008", res["list_va"]["008"]["va_number"], "NREF-4", "20000")
        self.receiver.wait_for(lambda ps: len(ps) >= 1)
        time.sleep(1.0)
        self.assertEqual(len(self.receiver.snapshot()), 1)

    def test_no_notification_without_notify_url(self):
        add_community(self.db, "QUIET", "quietKey123", ["008:73999"])
        st, h, obj, raw = send(self.server, {"NT-Q": invoice()}, comm_code="QUIET",
                               key="quietKey123")
        va = obj["invoices"]["NT-Q"]["list_va"]["008"]["va_number"]
        self.pay("008", va, "NREF-Q", "20000")
        time.sleep(1.0)
        self.assertEqual(self.receiver.snapshot(), [])


class RetryTests(NotifyCase):

    def test_500_then_ack_same_rq_uuid(self):
        self.receiver.script = [(500, '{"error":"busy"}')]
        res = self.new_invoice("NR-1")
        va = res["list_va"]["008"]["va_number"]
        self.pay("008", va, "NRR-1", "20000")
        posts = self.receiver.wait_for(lambda ps: len(ps) >= 2)
        a = self.check_post(posts[0], payment_ref="NRR-1", amount="20000.00", status="paid")
        b = self.check_post(posts[1], payment_ref="NRR-1", amount="20000.00", status="paid")
        self.assertEqual(a["rq_uuid"], b["rq_uuid"])
        self.assertLessEqual(a["rq_datetime"], b["rq_datetime"])
        # backed off (1 min / 600 = 0.1 s), not hammered
        self.assertGreaterEqual(posts[1]["t"] - posts[0]["t"], 0.05)
        time.sleep(1.0)
        self.assertEqual(len(self.receiver.snapshot()), 2)
        self.assertEqual(self.notifications(failed=True), [])

    def test_200_without_0000_is_retried(self):
        self.receiver.script = [(200, '{"error_code":"0001","error_message":"no"}'),
                                (200, "OK"),
                                (200, ""),
                                (204, "")]
        res = self.new_invoice("NR-2")
        self.pay("009", res["list_va"]["009"]["va_number"], "NRR-2", "20000")
        posts = self.receiver.wait_for(lambda ps: len(ps) >= 5, timeout=20)
        self.assertEqual(len({p["fields"]["rq_uuid"] for p in posts}), 1)
        for p in posts:
            self.check_post(p, payment_ref="NRR-2")
        time.sleep(1.0)
        self.assertEqual(len(self.receiver.snapshot()), 5)

    def test_payment_order_per_invoice(self):
        # the first notification fails once; the second must wait behind it
        self.receiver.script = [(500, "{}")]
        res = self.new_invoice("NR-3")
        va8, va9 = res["list_va"]["008"]["va_number"], res["list_va"]["009"]["va_number"]
        self.pay("008", va8, "NRO-1", "5000")
        self.pay("009", va9, "NRO-2", "7000")
        posts = self.receiver.wait_for(
            lambda ps: any(p["fields"].get("payment_ref") == "NRO-2" for p in ps))
        time.sleep(0.5)
        posts = self.receiver.snapshot()
        self.assertEqual([p["fields"]["payment_ref"] for p in posts], ["NRO-1", "NRO-1", "NRO-2"])
        self.check_post(posts[1], payment_ref="NRO-1", amount="5000.00", paid_total="5000.00",
                        outstanding_amount="15000.00", status="open", bank_code="008")
        self.check_post(posts[2], payment_ref="NRO-2", amount="7000.00", paid_total="12000.00",
                        outstanding_amount="8000.00", status="open", bank_code="009")
        self.assertNotEqual(posts[1]["fields"]["rq_uuid"], posts[2]["fields"]["rq_uuid"])


class RestartTests(NotifyCase):

    def test_pending_notification_survives_restart(self):
        # a port where nothing listens (bound, not listening: connection refused)
        hold = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        hold.bind(("127.0.0.1", 0))
        port = hold.getsockname()[1]
        url = "http://127.0.0.1:%d/espay/notify" % port
        add_community(self.db, "LATER", "laterKey456", ["008:73555"], extra=["--notify-url", url])
        st, h, obj, raw = send(self.server, {"NS-1": invoice()}, comm_code="LATER",
                               key="laterKey456")
        res = obj["invoices"]["NS-1"]
        va = res["list_va"]["008"]["va_number"]
        self.pay("008", va, "NSR-1", "20000")
        time.sleep(0.3)
        self.assertEqual(self.server.stop(), 0)
        # stored, not failed, while the server is down
        lines = self.notifications()
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("NSR-1", lines[0].split())
        self.assertEqual(self.notifications(failed=True), [])
        hold.close()
        late = Receiver(port=port)
        try:
            self.start()
            posts = late.wait_for(lambda ps: len(ps) >= 1, timeout=20)
            self.check_post(posts[0], key="laterKey456", comm_code="LATER", doc_no="NS-1",
                            doc_ref_no=res["doc_ref_no"], payment_ref="NSR-1",
                            amount="20000.00", status="paid")
            time.sleep(0.5)
            self.assertEqual(len(late.snapshot()), 1)
        finally:
            late.stop()
        self.assertEqual(self.receiver.snapshot(), [])


class FailedTests(NotifyCase):

    server_args = ("--notify-speedup", "100000")

    def test_always_failing_ends_failed(self):
        self.receiver.default = (500, '{"error_code":"0099"}')
        res = self.new_invoice("NF-1")
        self.pay("008", res["list_va"]["008"]["va_number"], "NFR-1", "20000")
        deadline = time.monotonic() + 30
        failed = []
        while time.monotonic() < deadline:
            failed = self.notifications(failed=True)
            if failed:
                break
            time.sleep(0.2)
        self.assertEqual(len(failed), 1, "not failed within 30 s; posts=%d, list=%r"
                         % (len(self.receiver.snapshot()), self.notifications()))
        # ID STATUS ATTEMPTS COMM_CODE DOC_NO PAYMENT_REF AMOUNT NEXT_ATTEMPT LAST_ERROR
        cols = failed[0].split(None, 8)
        self.assertGreaterEqual(len(cols), 8, failed)
        self.assertEqual(cols[1:8], ["failed", "9", NCOMM, "NF-1", "NFR-1", "20000.00", "-"],
                         failed)
        self.assertIn(failed[0], self.notifications())
        posts = self.receiver.snapshot()
        self.assertEqual(len(posts), 9, [p["fields"].get("rq_datetime") for p in posts])
        self.assertEqual(len({p["fields"]["rq_uuid"] for p in posts}), 1)
        time.sleep(0.5)
        self.assertEqual(len(self.receiver.snapshot()), 9)

    def test_failed_list_shows_only_failed(self):
        # one delivered, one failed: --failed lists only the failed one
        self.receiver.script = [ACK]
        self.receiver.default = (500, "{}")
        a = self.new_invoice("NF-A")
        self.pay("008", a["list_va"]["008"]["va_number"], "NFA-1", "20000")
        self.receiver.wait_for(lambda ps: len(ps) >= 1)
        b = self.new_invoice("NF-B")
        self.pay("008", b["list_va"]["008"]["va_number"], "NFB-1", "20000")
        deadline = time.monotonic() + 30
        failed = []
        while time.monotonic() < deadline and not failed:
            failed = self.notifications(failed=True)
            time.sleep(0.2)
        self.assertEqual([l.split()[5] for l in failed], ["NFB-1"], failed)
        self.assertEqual(len(self.notifications()), 2)


if __name__ == "__main__":
    unittest.main()
