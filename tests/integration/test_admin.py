"""The admin API and the console's files (issue 9; docs/ADMIN.md).

Black-box against the real vabilld: operators are made with `vabill operator
add`, payments with `vabill pay`, notifications go to a local receiver that
fails.  Runs on SQLite and, registered again, on PostgreSQL.
"""
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.parse
import uuid

from harness import (BANKS, COMM, KEY, VABILL, Server, add_community, cli, db_url, invoice,
                     now_local, send)

BANK_KEYS = {"008": "bk008MandiriKey01", "009": "bk009BniKey0002"}
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
TOKEN_RE = re.compile(r"\bvbo_[0-9a-f]{64}\b")


def new_operator(db, name):
    r = cli("operator", "add", name, db=db)
    if r.returncode != 0:
        raise AssertionError("operator add failed: " + r.stderr)
    m = TOKEN_RE.search(r.stdout)
    if not m:
        raise AssertionError("no token in: %r" % r.stdout)
    return m.group(0)


def bearer(token):
    return {"Authorization": "Bearer " + token}


class AdminCase(unittest.TestCase):
    server_args = ()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vabill-admin-")
        self.db = os.path.join(self.tmp, "vabill.db")
        add_community(self.db)
        self.token = new_operator(self.db, "alice")
        self.server = Server(self.db, self.server_args)

    def tearDown(self):
        self.server.__exit__(None, None, None)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def api(self, method, path, body=None, headers=None, token=True, server=None):
        h = dict(headers or {})
        if token is True:
            h.update(bearer(self.token))
        elif token:
            h.update(bearer(token))
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        st, hdrs, data = (server or self.server).request(method, path, body, h)
        return st, hdrs, data

    def get_json(self, path, **kw):
        st, h, data = self.api("GET", path, **kw)
        self.assertEqual(st, 200, data)
        self.assertTrue(h["content-type"].startswith("application/json"))
        return json.loads(data)

    def login(self, token=None):
        st, h, data = self.api("POST", "/admin/api/login", {"token": token or self.token},
                               token=None)
        self.assertEqual(st, 200, data)
        cookie = h["set-cookie"]
        value = re.match(r"vabill_session=([0-9a-f]{64});", cookie).group(1)
        return cookie, value, json.loads(data)

    def send_one(self, doc, **over):
        st, _, body, _ = send(self.server, {doc: invoice(**over)})
        self.assertEqual(body["invoices"][doc]["error_code"], "0000", body)
        # bank code -> VA number
        return {b: v["va_number"] for b, v in body["invoices"][doc]["list_va"].items()}

    def pay(self, bank, va, amount, ref):
        r = cli("pay", "--url", "http://127.0.0.1:%d" % self.server.port, "--bank", bank,
                "--key", BANK_KEYS[bank], va, amount, "--payment-ref", ref)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r


class AuthTests(AdminCase):

    def test_401_without_token_says_nothing(self):
        for path in ("/admin/api/communities", "/admin/api/overview", "/admin/api/invoices",
                     "/admin/api/session", "/admin/api/invoice?community=SGWTES&doc_no=X"):
            st, h, data = self.api("GET", path, token=None)
            self.assertEqual(st, 401, path)
            self.assertEqual(json.loads(data), {"error": "unauthorized"})
            self.assertIn("Bearer", h["www-authenticate"])
            self.assertNotIn(COMM.encode(), data)
        st, _, data = self.api("POST", "/admin/api/communities/SGWTES/disable", token=None)
        self.assertEqual(st, 401)

    def test_wrong_and_removed_tokens(self):
        st, _, _ = self.api("GET", "/admin/api/communities", token="vbo_" + "0" * 64)
        self.assertEqual(st, 401)
        st, _, _ = self.api("GET", "/admin/api/communities", token=self.token[:-1])
        self.assertEqual(st, 401)
        st, _, _ = self.api("GET", "/admin/api/communities",
                            headers={"Authorization": "Basic " + self.token}, token=None)
        self.assertEqual(st, 401)
        bob = new_operator(self.db, "bob")
        self.assertEqual(self.api("GET", "/admin/api/communities", token=bob)[0], 200)
        _, session, _ = self.login(bob)
        r = cli("operator", "remove", "bob", db=self.db)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.api("GET", "/admin/api/communities", token=bob)[0], 401)
        # its console session ends with it
        st, _, _ = self.api("GET", "/admin/api/session", token=None,
                            headers={"Cookie": "vabill_session=" + session})
        self.assertEqual(st, 401)
        # alice is untouched
        self.assertEqual(self.api("GET", "/admin/api/communities")[0], 200)

    def test_communities_list_never_shows_a_key(self):
        add_community(self.db, code="OTHER", key="otherKey12345", banks=["014:5550"],
                      extra=["--partial-payments"])
        st, h, data = self.api("GET", "/admin/api/communities")
        self.assertEqual(st, 200)
        self.assertNotIn(KEY.encode(), data)
        self.assertNotIn(b"otherKey12345", data)
        got = json.loads(data)["communities"]
        self.assertEqual([c["code"] for c in got], ["OTHER", "SGWTES"])
        sg = got[1]
        self.assertEqual(sg["ccy"], "IDR")
        self.assertTrue(sg["enabled"])
        self.assertEqual(sg["banks"], [{"bank_code": b.split(":")[0], "prefix": b.split(":")[1]}
                                       for b in BANKS])
        self.assertTrue(got[0]["partial_payments"])
        self.assertEqual(set(sg), {"code", "ccy", "enabled", "va_length", "va_ttl_min",
                                   "partial_payments", "notify_url", "banks"})

    def test_login_cookie_attributes_and_session(self):
        cookie, value, body = self.login()
        parts = [p.strip() for p in cookie.split(";")]
        self.assertIn("HttpOnly", parts)
        self.assertIn("SameSite=Strict", parts)
        self.assertIn("Path=/", parts)
        self.assertIn("Max-Age=28800", parts)
        self.assertNotIn("Secure", parts)  # plain HTTP here; see TlsCookieTests
        self.assertEqual(body["operator"], "alice")
        self.assertRegex(body["csrf"], r"^[0-9a-f]{64}$")
        self.assertNotEqual(body["csrf"], value)
        st, _, data = self.api("GET", "/admin/api/session", token=None,
                               headers={"Cookie": "vabill_session=" + value})
        self.assertEqual(st, 200)
        self.assertEqual(json.loads(data), {"operator": "alice", "csrf": body["csrf"]})
        # the cookie works for the API like the token
        st, _, data = self.api("GET", "/admin/api/communities", token=None,
                               headers={"Cookie": "other=1; vabill_session=" + value})
        self.assertEqual(st, 200)
        # the store keeps a hash of the cookie, not the cookie
        self.assertEqual(cli("operator", "list", db=self.db).stdout.count(value), 0)
        # logout ends it
        st, h, _ = self.api("POST", "/admin/api/logout", token=None,
                            headers={"Cookie": "vabill_session=" + value,
                                     "X-CSRF-Token": body["csrf"]})
        self.assertEqual(st, 204)
        self.assertIn("Max-Age=0", h["set-cookie"])
        st, _, _ = self.api("GET", "/admin/api/session", token=None,
                            headers={"Cookie": "vabill_session=" + value})
        self.assertEqual(st, 401)

    def test_changes_with_the_cookie_need_the_csrf_token(self):
        _, value, body = self.login()
        c = {"Cookie": "vabill_session=" + value}
        st, _, data = self.api("POST", "/admin/api/communities/SGWTES/disable", token=None,
                               headers=c)
        self.assertEqual((st, json.loads(data)), (403, {"error": "csrf"}))
        st, _, _ = self.api("POST", "/admin/api/communities/SGWTES/disable", token=None,
                            headers=dict(c, **{"X-CSRF-Token": "0" * 64}))
        self.assertEqual(st, 403)
        # nothing changed
        self.assertTrue(json.loads(cli("community", "show", COMM, db=self.db).stdout)["enabled"])
        self.assertEqual(send(self.server, {"D1": invoice()})[2]["error_code"], "0000")
        st, _, data = self.api("POST", "/admin/api/communities/SGWTES/disable", token=None,
                               headers=dict(c, **{"X-CSRF-Token": body["csrf"]}))
        self.assertEqual(st, 200, data)
        self.assertFalse(json.loads(data)["enabled"])
        self.assertEqual(send(self.server, {"D2": invoice()})[2]["error_code"], "0005")
        # a bearer token needs no CSRF token
        st, _, data = self.api("POST", "/admin/api/communities/SGWTES/enable")
        self.assertEqual(st, 200, data)
        self.assertTrue(json.loads(data)["enabled"])
        self.assertEqual(send(self.server, {"D3": invoice()})[2]["error_code"], "0000")
        st, _, _ = self.api("POST", "/admin/api/communities/NOPE/enable")
        self.assertEqual(st, 404)

    def test_failed_logins_are_slowed_logged_and_throttled(self):
        bad = "vbo_" + "1" * 64
        t0 = time.monotonic()
        st, _, data = self.api("POST", "/admin/api/login", {"token": bad}, token=None)
        self.assertEqual((st, json.loads(data)), (401, {"error": "unauthorized"}))
        self.assertGreaterEqual(time.monotonic() - t0, 0.2)
        st, _, _ = self.api("POST", "/admin/api/login", b"not json", token=None)
        self.assertEqual(st, 400)
        for _ in range(9):
            self.api("POST", "/admin/api/login", {"token": bad}, token=None)
        st, h, data = self.api("POST", "/admin/api/login", {"token": self.token}, token=None)
        self.assertEqual((st, json.loads(data)), (429, {"error": "too many attempts"}))
        self.assertEqual(h["retry-after"], "60")
        # the bearer token still works (throttling is for logins)
        self.assertEqual(self.api("GET", "/admin/api/overview")[0], 200)
        time.sleep(0.3)
        log = "".join(self.server.stderr_lines)
        self.assertIn('"event":"login_failed"', log)
        self.assertNotIn(bad, log)
        self.assertNotIn(self.token, log)

    def test_security_headers_and_console_files(self):
        for path in ("/console/", "/admin/api/overview", "/admin/api/communities"):
            st, h, _ = self.api("GET", path, token=None)
            self.assertEqual(h["content-security-policy"], CSP, path)
            self.assertEqual(h["x-content-type-options"], "nosniff")
            self.assertEqual(h["x-frame-options"], "DENY")
            self.assertEqual(h["referrer-policy"], "no-referrer")
        st, h, data = self.api("GET", "/console/", token=None)
        self.assertEqual(st, 200)
        self.assertTrue(h["content-type"].startswith("text/html"))
        html = data.decode()
        # no inline script: every script comes from a file of the console
        for m in re.finditer(r"<script\b([^>]*)>(.*?)</script>", html, re.S):
            self.assertIn("src=", m.group(1))
            self.assertEqual(m.group(2).strip(), "")
        self.assertNotRegex(html, r"\son[a-z]+\s*=")
        srcs = re.findall(r'(?:src|href)="(/console/[^"]+)"', html)
        self.assertTrue(srcs)
        for s in srcs:
            st, h, _ = self.api("GET", s, token=None)
            self.assertEqual(st, 200, s)
        st, h, _ = self.api("GET", "/console", token=None)
        self.assertEqual((st, h["location"]), (301, "/console/"))
        self.assertEqual(self.api("GET", "/console/nope.js", token=None)[0], 404)
        self.assertEqual(self.api("GET", "/admin/api/nope")[0], 404)
        self.assertEqual(self.api("DELETE", "/admin/api/overview")[0], 405)


class DataTests(AdminCase):

    server_args = ("--notify-speedup", "1000000")  # 9 attempts in well under a second

    def test_invoice_search_detail_and_member_name_escaping(self):
        name = "<script>alert(1)</script>"
        vas = self.send_one("INVA", member_code="MEMA", member_name=name)
        self.send_one("INVB", member_code="MEMB")
        self.send_one("INVC", member_code="MEMA")
        va008 = vas["008"]
        for q, want in ((va008, ["INVA"]), ("INVB", ["INVB"]),
                        ("MEMA", ["INVC", "INVA"]), ("nothing", [])):
            got = self.get_json("/admin/api/invoices?q=" + urllib.parse.quote(q))
            self.assertEqual([i["doc_no"] for i in got["invoices"]], want, q)
        st, _, raw = self.api("GET", "/admin/api/invoices?q=INVA")
        row = json.loads(raw)["invoices"][0]
        self.assertEqual(row["member_name"], name)  # JSON carries it as text
        self.assertEqual(row["amount"], "20000.00")
        self.assertEqual(row["status"], "open")
        self.assertRegex(row["doc_ref_no"], r"^VB\d{13}$")
        # paging, newest first
        p1 = self.get_json("/admin/api/invoices?limit=2")
        self.assertEqual([i["doc_no"] for i in p1["invoices"]], ["INVC", "INVB"])
        p2 = self.get_json("/admin/api/invoices?limit=2&before=%d" % p1["next_before"])
        self.assertEqual([i["doc_no"] for i in p2["invoices"]], ["INVA"])
        self.assertIsNone(p2["next_before"])
        for bad in ("limit=0", "limit=501", "status=gone", "from=2026-13-01", "before=x"):
            st, _, data = self.api("GET", "/admin/api/invoices?" + bad)
            self.assertEqual(st, 400, bad)
            self.assertIn("error", json.loads(data))
        # one invoice: its VAs and, once paid, its payment
        cli("bank", "add", "008", "--key", BANK_KEYS["008"], db=self.db)
        self.pay("008", va008, "20000.00", "PAYA1")
        d = self.get_json("/admin/api/invoice?community=SGWTES&doc_no=INVA")["invoice"]
        self.assertEqual(d["member_name"], name)
        self.assertEqual(d["status"], "paid")
        self.assertEqual(d["outstanding"], "0.00")
        self.assertEqual({v["bank_code"]: v["va_number"] for v in d["list_va"]}, vas)
        self.assertEqual([(p["payment_ref"], p["amount"], p["bank_code"], p["va_number"])
                          for p in d["payments"]], [("PAYA1", "20000.00", "008", va008)])
        self.assertEqual(d["notifications"], [])  # the community takes none
        got = self.get_json("/admin/api/invoices?status=paid")
        self.assertEqual([i["doc_no"] for i in got["invoices"]], ["INVA"])
        got = self.get_json("/admin/api/invoices?status=open&community=SGWTES")
        self.assertEqual([i["doc_no"] for i in got["invoices"]], ["INVC", "INVB"])
        today = now_local()[:10]
        got = self.get_json("/admin/api/invoices?from=%s&to=%s" % (today, today))
        self.assertEqual(len(got["invoices"]), 3)
        got = self.get_json("/admin/api/invoices?to=2020-01-01")
        self.assertEqual(got["invoices"], [])
        st, _, _ = self.api("GET", "/admin/api/invoice?community=SGWTES&doc_no=NOPE")
        self.assertEqual(st, 404)

    def test_overview_counts(self):
        for d in ("O1", "O2", "O3"):
            self.send_one(d)
        cli("bank", "add", "009", "--key", BANK_KEYS["009"], db=self.db)
        inv = self.get_json("/admin/api/invoice?community=SGWTES&doc_no=O2")["invoice"]
        va = [v["va_number"] for v in inv["list_va"] if v["bank_code"] == "009"][0]
        self.pay("009", va, "20000.00", "PAYO2")
        self.assertEqual(send(self.server, {"O4": invoice()}, key="wrongkey")[2]["error_code"],
                         "0004")
        o = self.get_json("/admin/api/overview")
        self.assertEqual(o["day"], now_local()[:10])
        self.assertEqual(o["utc_offset"], "+07:00")
        self.assertEqual(o["invoices_today"],
                         {"accepted": 3, "open": 2, "expired": 0, "paid": 1, "closed": 0})
        self.assertEqual(o["payments_today"], {"count": 1, "amount": "20000.00"})
        self.assertEqual(o["notifications"], {"pending": 0, "failed": 0})
        # 3 sends, and `vabill pay`'s inquiry and payment
        self.assertEqual(o["requests_last_hour"].get("0000"), 5)
        self.assertEqual(o["requests_last_hour"].get("0004"), 1)

    def test_failed_notification_attempts_and_retry(self):
        # a partner endpoint that refuses everything: nothing listens there
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        dead = "http://127.0.0.1:%d/notify" % s.getsockname()[1]
        s.close()
        add_community(self.db, code="NTF", key="ntfKey12345678", banks=["008:73111"],
                      extra=["--notify-url", dead])
        cli("bank", "add", "008", "--key", BANK_KEYS["008"], db=self.db)
        st, _, body, _ = send(self.server, {"N1": invoice()}, comm_code="NTF",
                              key="ntfKey12345678")
        va = body["invoices"]["N1"]["list_va"]["008"]["va_number"]
        self.pay("008", va, "20000.00", "PAYN1")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            failed = self.get_json("/admin/api/notifications?status=failed")["notifications"]
            if failed:
                break
            time.sleep(0.2)
        self.assertEqual(len(failed), 1)
        n = failed[0]
        self.assertEqual((n["comm_code"], n["doc_no"], n["payment_ref"], n["status"]),
                         ("NTF", "N1", "PAYN1", "failed"))
        d = self.get_json("/admin/api/invoice?community=NTF&doc_no=N1")["invoice"]
        (nd,) = d["notifications"]
        self.assertEqual(nd["attempts"], len(nd["attempts_log"]))
        self.assertGreaterEqual(nd["attempts"], 2)
        for a in nd["attempts_log"]:
            self.assertFalse(a["delivered"])
            self.assertTrue(a["error"])
        o = self.get_json("/admin/api/overview")
        self.assertEqual(o["notifications"]["failed"], 1)
        # retry now, with the console's session and CSRF token
        _, value, lb = self.login()
        c = {"Cookie": "vabill_session=" + value}
        path = "/admin/api/notifications/%d/retry" % n["id"]
        self.assertEqual(self.api("POST", path, token=None, headers=c)[0], 403)
        st, _, data = self.api("POST", path, token=None,
                               headers=dict(c, **{"X-CSRF-Token": lb["csrf"]}))
        self.assertEqual(st, 200, data)
        self.assertEqual(json.loads(data), {"id": n["id"], "status": "pending"})
        # it fails again, one attempt more each time
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            d = self.get_json("/admin/api/invoice?community=NTF&doc_no=N1")["invoice"]
            if d["notifications"][0]["status"] == "failed" and \
                    d["notifications"][0]["attempts"] > nd["attempts"]:
                break
            time.sleep(0.2)
        self.assertGreater(d["notifications"][0]["attempts"], nd["attempts"])
        # only a failed one can be retried
        st, _, _ = self.api("POST", "/admin/api/notifications/999999/retry")
        self.assertEqual(st, 404)

    def test_report_download_matches_the_command_line(self):
        cli("bank", "add", "008", "--key", BANK_KEYS["008"], db=self.db)
        for i in range(3):
            vas = self.send_one("R%d" % i, amount="1500.50", total_amount="1500.50",
                                installment_amount="1500.50")
            va = vas["008"]
            self.pay("008", va, "1500.50", "PAYR%d" % i)
        today = now_local()[:10]
        for fmt in ("csv", "json"):
            st, h, data = self.api("GET", "/admin/api/reports/payments?from=%s&to=%s&format=%s"
                                   % (today, today, fmt))
            self.assertEqual(st, 200, data)
            self.assertIn("attachment", h["content-disposition"])
            r = subprocess.run([VABILL, "--db", db_url(self.db), "report", "payments",
                                "--from", today, "--to", today, "--format", fmt],
                               capture_output=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(data, r.stdout)  # the same bytes
        self.assertIn(b"PAYR2", data)
        st, _, _ = self.api("GET", "/admin/api/reports/payments?from=%s" % today)
        self.assertEqual(st, 400)


class SeparateListenerTests(unittest.TestCase):

    def test_admin_listen_moves_console_and_api(self):
        tmp = tempfile.mkdtemp(prefix="vabill-admin-")
        self.addCleanup(shutil.rmtree, tmp, True)
        db = os.path.join(tmp, "vabill.db")
        add_community(db)
        token = new_operator(db, "ops")
        with Server(db, ("--admin-listen", "127.0.0.1:0")) as s:
            line = s.proc.stdout.readline()
            m = re.match(r"admin listening on 127\.0\.0\.1:(\d+)$", line.strip())
            self.assertTrue(m, line)
            admin = Server.__new__(Server)
            admin.host, admin.port = "127.0.0.1", int(m.group(1))
            st, _, _ = s.request("GET", "/admin/api/communities", headers=bearer(token))
            self.assertEqual(st, 404)
            self.assertEqual(s.request("GET", "/console/")[0], 404)
            st, _, data = admin.request("GET", "/admin/api/communities", headers=bearer(token))
            self.assertEqual(st, 200)
            self.assertEqual(admin.request("GET", "/console/")[0], 200)
            self.assertEqual(admin.request("GET", "/healthz")[0], 200)
            self.assertEqual(admin.request("GET", "/metrics")[0], 404)
            st, _, body, _ = send(admin, {"X1": invoice()})
            self.assertEqual(st, 404)
            self.assertEqual(send(s, {"X1": invoice()})[2]["error_code"], "0000")


class BigDatabaseTests(unittest.TestCase):
    """Search on a database of 100,000 invoices, loaded with `vabill send`."""

    N = 100000

    def test_search_on_100k_invoices(self):
        tmp = tempfile.mkdtemp(prefix="vabill-admin-")
        self.addCleanup(shutil.rmtree, tmp, True)
        db = os.path.join(tmp, "vabill.db")
        add_community(db)
        token = new_operator(db, "ops")
        csv_path = os.path.join(tmp, "big.csv")
        with open(csv_path, "w") as f:
            f.write("doc_no,member_code,member_name,amount,total_amount,"
                    "number_of_installment,installment_amount,billing_date\n")
            for i in range(self.N):
                f.write("BIG%06d,M%05d,Member %d,1000,1000,1,1000,5\n" % (i, i % 50000, i))
        with Server(db) as s:
            out = os.path.join(tmp, "out.csv")
            r = cli("send", "--url", "http://127.0.0.1:%d" % s.port, "--comm-code", COMM,
                    "--key", KEY, "--quiet", "--concurrency", "2", "--out", out, csv_path)
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(out) as f:
                lines = f.read().splitlines()
            hdr = lines[0].split(",")
            row = [ln.split(",") for ln in lines[1:] if ln.startswith("BIG077777,")][0]
            va = row[hdr.index("va_number")]

            def get(q):
                st, _, data = s.request("GET", "/admin/api/invoices?" + q,
                                        headers=bearer(token))
                self.assertEqual(st, 200, data)
                return json.loads(data)

            t0 = time.monotonic()
            self.assertEqual([i["doc_no"] for i in get("q=" + va)["invoices"]], ["BIG077777"])
            self.assertEqual([i["doc_no"] for i in get("q=BIG012345")["invoices"]],
                             ["BIG012345"])
            self.assertEqual([i["doc_no"] for i in get("q=M00042")["invoices"]],
                             ["BIG050042", "BIG000042"])
            # newest first, by id; `vabill send` runs two batches at once, so
            # the newest rows come from its last two batches
            p1 = get("limit=100")
            ids1 = [i["id"] for i in p1["invoices"]]
            self.assertEqual(len(ids1), 100)
            self.assertEqual(ids1, sorted(ids1, reverse=True))
            self.assertGreaterEqual(int(p1["invoices"][0]["doc_no"][3:]), self.N - 1000)
            self.assertEqual(p1["next_before"], ids1[-1])
            p2 = get("limit=100&status=open&community=SGWTES&before=%d" % p1["next_before"])
            ids2 = [i["id"] for i in p2["invoices"]]
            self.assertEqual(len(ids2), 100)
            self.assertLess(max(ids2), min(ids1))
            self.assertEqual(ids2, sorted(ids2, reverse=True))
            print("\n5 searches on %d invoices: %.3f s" % (self.N, time.monotonic() - t0))


if __name__ == "__main__":
    unittest.main()
