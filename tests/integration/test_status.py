"""Partner services: checkstatus and closeinvoice (SPEC 5, 5.4, 5.5, 5.6;
SPEC 3 codes; docs/DECISIONS.md "The rest of a VA's life").

Black-box: the server is driven over HTTP, the database is touched only to
move an invoice's expiry into the past.
"""
import datetime
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
import unittest
import uuid

from harness import COMM, KEY, Server, add_community, cli, db_exec, invoice, now_local, send

INQ = "/rest/virtualaccount/inquiry"
PAY = "/rest/virtualaccount/payment"
STATUS = "/rest/virtualaccount/checkstatus"
CLOSE = "/rest/virtualaccount/closeinvoice"
MODES = {STATUS: "CHECKSTATUS", CLOSE: "CLOSEINVOICE"}

BANK_KEYS = {"008": "bk008MandiriKey01", "009": "bk009BniKey0002"}
PCOMM, PKEY, PBANKS = "PARTIAL", "partialKey7777", ["008:71234", "009:55501"]
DT_RE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
FAIL_KEYS = {"rq_uuid", "rs_datetime", "error_code", "error_message"}
FIELDS = ["rq_uuid", "rq_datetime", "comm_code", "doc_no", "signature"]


def sig5(mode, parts, key):
    s = "##" + "##".join(list(parts) + [key, mode]) + "##"
    return hashlib.sha256(s.upper().encode()).hexdigest()


def new_uuid():
    return "T5-" + uuid.uuid4().hex


def partner_fields(path, comm, doc, key, rq_uuid=None, rq_datetime=None, mode=None):
    u = rq_uuid or new_uuid()
    d = rq_datetime or now_local()
    return {"rq_uuid": u, "rq_datetime": d, "comm_code": comm, "doc_no": doc,
            "signature": sig5(mode or MODES[path], [u, d, comm, doc], key)}


def payment_fields(bank, va, ref, amount):
    u, d = new_uuid(), now_local()
    return {"rq_uuid": u, "rq_datetime": d, "bank_code": bank, "va_number": va,
            "signature": sig5("PAYMENT", [u, d, bank, va, ref, amount], BANK_KEYS[bank]),
            "payment_ref": ref, "amount": amount}


def inquiry_fields(bank, va):
    u, d = new_uuid(), now_local()
    return {"rq_uuid": u, "rq_datetime": d, "bank_code": bank, "va_number": va,
            "signature": sig5("INQUIRY", [u, d, bank, va], BANK_KEYS[bank])}


def post5(server, path, fields, form=True):
    if form:
        st, h, raw = server.post_form(fields, path=path)
    else:
        st, h, raw = server.post_json(fields, path=path)
    try:
        obj = json.loads(raw)
    except ValueError:
        raise AssertionError("answer is not JSON: %d %r" % (st, raw))
    return st, h, obj, raw


def expire(db, doc, seconds_ago=120):
    n = db_exec(db, "UPDATE invoice SET expires_at = ? WHERE doc_no = ?",
                (int(time.time()) - seconds_ago, doc))
    if n != 1:
        raise AssertionError("expire %s: %d rows" % (doc, n))


def local_dt(s):
    return datetime.datetime.strptime(s, "%Y-%m-%d %H:%M:%S")


class StatusCase(unittest.TestCase):
    """Communities SGWTES (exact payments) and PARTIAL (--partial-payments),
    banks 008 and 009 registered, then a running server."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vabill-t5st-")
        self.db = os.path.join(self.tmp, "vabill.db")
        add_community(self.db)
        add_community(self.db, PCOMM, PKEY, PBANKS, extra=["--partial-payments"])
        for b, k in sorted(BANK_KEYS.items()):
            r = cli("bank", "add", b, "--key", k, db=self.db)
            self.assertEqual(r.returncode, 0, r.stderr)
        self.server = Server(self.db)
        self.url = "http://%s:%d" % (self.server.host, self.server.port)

    def tearDown(self):
        self.server.__exit__(None, None, None)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def new_invoice(self, doc, comm=COMM, key=KEY, **over):
        st, h, obj, raw = send(self.server, {doc: invoice(**over)}, comm_code=comm, key=key)
        self.assertEqual(obj["error_code"], "0000", obj)
        res = obj["invoices"][doc]
        self.assertEqual(res["error_code"], "0000", res)
        return res

    def status(self, doc, comm=COMM, key=KEY, form=True, **kw):
        return post5(self.server, STATUS, partner_fields(STATUS, comm, doc, key, **kw), form)

    def close(self, doc, comm=COMM, key=KEY, form=True, **kw):
        return post5(self.server, CLOSE, partner_fields(CLOSE, comm, doc, key, **kw), form)

    def pay(self, bank, va, ref, amount):
        st, h, obj, raw = post5(self.server, PAY, payment_fields(bank, va, ref, amount))
        self.assertEqual(obj["error_code"], "0000", obj)
        return obj

    def inquire(self, bank, va):
        return post5(self.server, INQ, inquiry_fields(bank, va))

    def assertFail(self, answer, code, msg, rq_uuid=None):
        st, h, obj, raw = answer
        self.assertEqual((obj.get("error_code"), obj.get("error_message")), (code, msg), obj)
        self.assertEqual(st, 200, obj)
        self.assertEqual(set(obj), FAIL_KEYS, obj)
        self.assertRegex(obj["rs_datetime"], DT_RE)
        if rq_uuid is not None:
            self.assertEqual(obj["rq_uuid"], rq_uuid, obj)
        return obj

    def assertOk(self, answer):
        st, h, obj, raw = answer
        self.assertEqual((obj.get("error_code"), obj.get("error_message")), ("0000", "Success"), obj)
        self.assertEqual(st, 200, obj)
        self.assertTrue(h.get("content-type", "").startswith("application/json"), h)
        self.assertRegex(obj["rs_datetime"], DT_RE)
        return obj

    def state(self, doc, comm=COMM, key=KEY):
        return self.assertOk(self.status(doc, comm, key))


class FieldTests(StatusCase):

    BAD = {
        "rq_uuid": ["x" * 256, "abc\x01def"],
        "rq_datetime": ["2024-02-30 10:00:00", "2024-01-01T10:00:00", "2024-1-1 10:00:00"],
        "comm_code": ["SGW-TES", "A" * 33, "SGW TES"],
        "doc_no": [" DOC1", "DOC1 ", "D" * 33, "doc\x01"],
        "signature": ["abc", "z" * 64, "a" * 65],
    }

    def expect(self, path, changes, code, msg, echo=True):
        f = partner_fields(path, COMM, "ST-F1", KEY)
        for k, v in changes.items():
            if v is None:
                f.pop(k, None)
            else:
                f[k] = v
        if "signature" not in changes:
            g = lambda k: f.get(k) or ""
            f["signature"] = sig5(MODES[path], [g("rq_uuid"), g("rq_datetime"),
                                                g("comm_code"), g("doc_no")], KEY)
        self.assertFail(post5(self.server, path, f), code, msg,
                        rq_uuid=f["rq_uuid"] if echo else "")

    def test_missing(self):
        self.new_invoice("ST-F1")
        for path in (STATUS, CLOSE):
            for name in FIELDS:
                for empty in (None, "", "   "):
                    with self.subTest(path=path, field=name, value=empty):
                        self.expect(path, {name: empty}, "0001",
                                    "Mandatory field left empty = " + name,
                                    echo=(name != "rq_uuid"))
            for i, name in enumerate(FIELDS):
                with self.subTest(path=path, first_missing=name):
                    self.expect(path, {n: None for n in FIELDS[i:]}, "0001",
                                "Mandatory field left empty = " + name,
                                echo=(name != "rq_uuid"))
            # presence before format
            self.expect(path, {"comm_code": "SGW-TES", "signature": None}, "0001",
                        "Mandatory field left empty = signature")
        self.assertEqual(self.state("ST-F1")["status"], "open")

    def test_malformed(self):
        self.new_invoice("ST-F1")
        for path in (STATUS, CLOSE):
            for name in FIELDS:
                for bad in self.BAD[name]:
                    with self.subTest(path=path, field=name, value=bad):
                        self.expect(path, {name: bad}, "0003", "Invalid format = " + name,
                                    echo=(name != "rq_uuid"))
            for i, name in enumerate(FIELDS):
                with self.subTest(path=path, first_bad=name):
                    self.expect(path, {n: self.BAD[n][0] for n in FIELDS[i:]}, "0003",
                                "Invalid format = " + name, echo=(name != "rq_uuid"))
        self.assertEqual(self.state("ST-F1")["status"], "open")

    def test_doc_no_limits(self):
        doc = "D-" + "x" * 28 + " 9"  # 32 printable characters, inner blank
        self.new_invoice(doc)
        self.assertEqual(self.state(doc)["doc_no"], doc)
        self.assertFail(self.status("D" * 32), "0013", "Data not listed = Document No")


class CallerTests(StatusCase):

    def setUp(self):
        super().setUp()
        self.new_invoice("ST-C1")

    def test_unknown_community_0005(self):
        for path in (STATUS, CLOSE):
            f = partner_fields(path, "NOSUCH", "ST-C1", KEY)
            self.assertFail(post5(self.server, path, f), "0005",
                            "Data not listed = Community Code", rq_uuid=f["rq_uuid"])
            # case-sensitive
            f = partner_fields(path, "sgwtes", "ST-C1", KEY)
            self.assertFail(post5(self.server, path, f), "0005", "Data not listed = Community Code")
            # before the signature and the clock
            f = partner_fields(path, "NOSUCH", "ST-C1", "bad",
                               rq_datetime=now_local(delta_seconds=-5000))
            self.assertFail(post5(self.server, path, f), "0005", "Data not listed = Community Code")

    def test_disabled_community_0005(self):
        r = cli("community", "disable", COMM, db=self.db)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertFail(self.status("ST-C1"), "0005", "Data not listed = Community Code")
        self.assertFail(self.close("ST-C1"), "0005", "Data not listed = Community Code")
        r = cli("community", "enable", COMM, db=self.db)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.state("ST-C1")["status"], "open")

    def test_bad_signature_0004(self):
        for path in (STATUS, CLOSE):
            other = CLOSE if path == STATUS else STATUS
            cases = [partner_fields(path, COMM, "ST-C1", "wrong-key"),
                     partner_fields(path, COMM, "ST-C1", PKEY),
                     partner_fields(path, COMM, "ST-C1", KEY, mode=MODES[other]),
                     partner_fields(path, COMM, "ST-C1", KEY, mode="SENDINVOICE")]
            for f in cases:
                self.assertFail(post5(self.server, path, f), "0004", "Invalid signature",
                                rq_uuid=f["rq_uuid"])
            # signature before clock and before the doc_no lookup
            f = partner_fields(path, COMM, "NO-SUCH-DOC", "wrong",
                               rq_datetime=now_local(delta_seconds=-5000))
            self.assertFail(post5(self.server, path, f), "0004", "Invalid signature")
        self.assertEqual(self.state("ST-C1")["status"], "open")

    def test_signature_either_case(self):
        f = partner_fields(STATUS, COMM, "ST-C1", KEY)
        f["signature"] = f["signature"].upper()
        self.assertOk(post5(self.server, STATUS, f))

    def test_clock_skew_0009(self):
        for path in (STATUS, CLOSE):
            for delta in (-1000, 1000):
                d = now_local(delta_seconds=delta)
                self.assertFail(post5(self.server, path,
                                      partner_fields(path, COMM, "ST-C1", KEY, rq_datetime=d)),
                                "0009", "Request expired = rq_datetime")
                # clock before the doc_no lookup
                self.assertFail(post5(self.server, path,
                                      partner_fields(path, COMM, "NO-SUCH", KEY, rq_datetime=d)),
                                "0009", "Request expired = rq_datetime")
        self.assertEqual(self.state("ST-C1")["status"], "open")

    def test_unknown_doc_0013(self):
        self.new_invoice("ST-P1", comm=PCOMM, key=PKEY)
        for path in (STATUS, CLOSE):
            f = partner_fields(path, COMM, "NO-SUCH", KEY)
            self.assertFail(post5(self.server, path, f), "0013", "Data not listed = Document No",
                            rq_uuid=f["rq_uuid"])
            # another community's invoice is not listed for this one
            self.assertFail(post5(self.server, path, partner_fields(path, COMM, "ST-P1", KEY)),
                            "0013", "Data not listed = Document No")
            # doc_no is exact
            self.assertFail(post5(self.server, path, partner_fields(path, COMM, "st-c1", KEY)),
                            "0013", "Data not listed = Document No")
        self.assertEqual(self.state("ST-P1", PCOMM, PKEY)["status"], "open")


class CheckStatusTests(StatusCase):

    def check_invoice(self, obj, doc, res, status, amount, paid_total, outstanding):
        want = {"doc_no": doc, "doc_ref_no": res["doc_ref_no"], "status": status,
                "amount": amount, "paid_total": paid_total, "outstanding_amount": outstanding}
        for k, v in want.items():
            self.assertEqual(obj.get(k), v, "%s: %r" % (k, obj))

    def test_open_invoice(self):
        res = self.new_invoice("CS-1", amount="150000.5", total_amount="300000",
                               installment_amount="150000.5")
        for form in (True, False):
            f = partner_fields(STATUS, COMM, "CS-1", KEY)
            obj = self.assertOk(post5(self.server, STATUS, f, form))
            self.assertEqual(obj["rq_uuid"], f["rq_uuid"])
            self.check_invoice(obj, "CS-1", res, "open", "150000.50", "0.00", "150000.50")
            self.assertEqual(obj["list_va"], res["list_va"])
            self.assertEqual(list(obj["list_va"]), ["008", "009"])
            self.assertEqual(obj["payments"], [])

    def test_payments_in_order(self):
        res = self.new_invoice("CS-2", comm=PCOMM, key=PKEY)
        va8, va9 = res["list_va"]["008"]["va_number"], res["list_va"]["009"]["va_number"]
        plan = [("008", va8, "SP-1", "1000", "1000.00"),
                ("009", va9, "SP-2", "2500.5", "2500.50"),
                ("008", va8, "SP-3", "0.01", "0.01")]
        before = local_dt(now_local(delta_seconds=-120))
        for bank, va, ref, amt, _ in plan:
            self.pay(bank, va, ref, amt)
        after = local_dt(now_local(delta_seconds=120))
        obj = self.state("CS-2", PCOMM, PKEY)
        self.check_invoice(obj, "CS-2", res, "open", "20000.00", "3500.51", "16499.49")
        self.assertEqual(obj["list_va"], res["list_va"])
        pays = obj["payments"]
        self.assertIsInstance(pays, list)
        self.assertEqual(len(pays), 3, pays)
        prev = None
        for p, (bank, va, ref, _, shown) in zip(pays, plan):
            self.assertEqual(set(p), {"payment_ref", "bank_code", "va_number", "amount", "paid_at"}, p)
            self.assertEqual((p["payment_ref"], p["bank_code"], p["va_number"], p["amount"]),
                             (ref, bank, va, shown), p)
            self.assertRegex(p["paid_at"], DT_RE)
            t = local_dt(p["paid_at"])
            self.assertTrue(before <= t <= after, p)
            if prev is not None:
                self.assertLessEqual(prev, t)
            prev = t
        # the rest: paid
        self.pay("009", va9, "SP-4", "16499.49")
        obj = self.state("CS-2", PCOMM, PKEY)
        self.check_invoice(obj, "CS-2", res, "paid", "20000.00", "20000.00", "0.00")
        self.assertEqual([p["payment_ref"] for p in obj["payments"]],
                         ["SP-1", "SP-2", "SP-3", "SP-4"])

    def test_paid_exact(self):
        res = self.new_invoice("CS-3")
        self.pay("009", res["list_va"]["009"]["va_number"], "SP-X", "20000")
        obj = self.state("CS-3")
        self.check_invoice(obj, "CS-3", res, "paid", "20000.00", "20000.00", "0.00")
        self.assertEqual([(p["payment_ref"], p["bank_code"], p["amount"]) for p in obj["payments"]],
                         [("SP-X", "009", "20000.00")])

    def test_expired(self):
        res = self.new_invoice("CS-4")
        expire(self.db, "CS-4")
        obj = self.state("CS-4")
        self.check_invoice(obj, "CS-4", res, "expired", "20000.00", "0.00", "20000.00")
        self.assertEqual(sorted(obj["list_va"]), ["008", "009"])
        self.assertEqual(obj["payments"], [])

    def test_status_changes_nothing(self):
        res = self.new_invoice("CS-5")
        for _ in range(3):
            self.state("CS-5")
        self.pay("008", res["list_va"]["008"]["va_number"], "SP-5", "20000")


class CloseTests(StatusCase):

    def test_close_open_invoice(self):
        res = self.new_invoice("CL-1")
        f = partner_fields(CLOSE, COMM, "CL-1", KEY)
        obj = self.assertOk(post5(self.server, CLOSE, f))
        self.assertEqual(obj["rq_uuid"], f["rq_uuid"])
        st = self.state("CL-1")
        self.assertEqual((st["status"], st["outstanding_amount"], st["paid_total"]),
                         ("closed", "20000.00", "0.00"), st)
        for bank in ("008", "009"):
            va = res["list_va"][bank]["va_number"]
            self.assertFail(self.inquire(bank, va), "0016", "Invoice closed")
            ans = post5(self.server, PAY, payment_fields(bank, va, "CL-R" + bank, "20000"))
            self.assertFail(ans, "0016", "Invoice closed")
        r = cli("invoice", "show", COMM, "CL-1", db=self.db)
        self.assertEqual(json.loads(r.stdout)["status"], "closed")

    def test_close_again_is_0000(self):
        self.new_invoice("CL-2")
        self.assertOk(self.close("CL-2"))
        for form in (True, False):
            self.assertOk(self.close("CL-2", form=form))
        st = self.state("CL-2")
        self.assertEqual((st["status"], st["outstanding_amount"]), ("closed", "20000.00"))

    def test_close_json_body(self):
        self.new_invoice("CL-J")
        self.assertOk(self.close("CL-J", form=False))
        self.assertEqual(self.state("CL-J")["status"], "closed")

    def test_close_paid_0015(self):
        res = self.new_invoice("CL-3")
        self.pay("008", res["list_va"]["008"]["va_number"], "CL-R3", "20000")
        self.assertFail(self.close("CL-3"), "0015", "Invoice already paid")
        st = self.state("CL-3")
        self.assertEqual((st["status"], st["outstanding_amount"]), ("paid", "0.00"))
        # paid and past expiry: still paid
        expire(self.db, "CL-3")
        self.assertFail(self.close("CL-3"), "0015", "Invoice already paid")
        self.assertEqual(self.state("CL-3")["status"], "paid")

    def test_close_expired(self):
        res = self.new_invoice("CL-4")
        expire(self.db, "CL-4")
        self.assertEqual(self.state("CL-4")["status"], "expired")
        self.assertOk(self.close("CL-4"))
        self.assertEqual(self.state("CL-4")["status"], "closed")
        va = res["list_va"]["009"]["va_number"]
        self.assertFail(self.inquire("009", va), "0016", "Invoice closed")

    def test_close_partially_paid(self):
        res = self.new_invoice("CL-5", comm=PCOMM, key=PKEY)
        va = res["list_va"]["008"]["va_number"]
        self.pay("008", va, "CL-R5", "5000")
        self.assertOk(self.close("CL-5", PCOMM, PKEY))
        st = self.state("CL-5", PCOMM, PKEY)
        self.assertEqual((st["status"], st["paid_total"], st["outstanding_amount"]),
                         ("closed", "5000.00", "15000.00"), st)
        self.assertEqual([p["payment_ref"] for p in st["payments"]], ["CL-R5"])
        ans = post5(self.server, PAY, payment_fields("008", va, "CL-R5b", "15000"))
        self.assertFail(ans, "0016", "Invoice closed")

    def test_close_unknown_0013(self):
        self.assertFail(self.close("CL-NONE"), "0013", "Data not listed = Document No")

    def test_close_only_own_invoice(self):
        self.new_invoice("CL-6", comm=PCOMM, key=PKEY)
        self.assertFail(self.close("CL-6"), "0013", "Data not listed = Document No")
        self.assertEqual(self.state("CL-6", PCOMM, PKEY)["status"], "open")


class CliTests(StatusCase):

    def run_cli(self, cmd, doc, comm=COMM, key=KEY, url=None):
        return cli(cmd, "--url", url or self.url, "--comm-code", comm, "--key", key, doc)

    @staticmethod
    def answer(r):
        try:
            return json.loads(r.stdout)
        except ValueError:
            raise AssertionError("stdout is not one JSON answer: %r (stderr %r)"
                                 % (r.stdout, r.stderr))

    def test_status_cli(self):
        res = self.new_invoice("CLI-S1")
        r = self.run_cli("status", "CLI-S1")
        self.assertEqual(r.returncode, 0, r.stderr)
        obj = self.answer(r)
        self.assertEqual((obj["error_code"], obj["doc_no"], obj["status"], obj["doc_ref_no"]),
                         ("0000", "CLI-S1", "open", res["doc_ref_no"]), obj)
        self.assertEqual(obj["list_va"], res["list_va"])
        r = self.run_cli("status", "CLI-NONE")
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(self.answer(r)["error_code"], "0013")
        r = self.run_cli("status", "CLI-S1", key="wrong")
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(self.answer(r)["error_code"], "0004")
        r = self.run_cli("status", "CLI-S1", comm="NOSUCH")
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(self.answer(r)["error_code"], "0005")

    def test_close_cli(self):
        res = self.new_invoice("CLI-C1")
        r = self.run_cli("close", "CLI-C1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.answer(r)["error_code"], "0000")
        self.assertEqual(self.state("CLI-C1")["status"], "closed")
        r = self.run_cli("close", "CLI-C1")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.run_cli("status", "CLI-C1")
        self.assertEqual(self.answer(r)["status"], "closed")
        # paid: refused, exit non-zero
        res = self.new_invoice("CLI-C2")
        self.pay("008", res["list_va"]["008"]["va_number"], "CLI-RC2", "20000")
        r = self.run_cli("close", "CLI-C2")
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(self.answer(r)["error_code"], "0015")
        r = self.run_cli("close", "CLI-NONE")
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(self.answer(r)["error_code"], "0013")

    def test_cli_usage_and_unreachable(self):
        r = cli("status", "--url", self.url, "--comm-code", COMM, "CLI-X")  # no --key
        self.assertEqual(r.returncode, 2, r.stderr)
        r = cli("close", "--url", self.url, "--comm-code", COMM, "--key", KEY)  # no DOC_NO
        self.assertEqual(r.returncode, 2, r.stderr)
        r = self.run_cli("status", "CLI-X", url="http://127.0.0.1:1")
        self.assertNotEqual(r.returncode, 0)
        self.assertTrue(r.stderr.startswith("vabill: "), r.stderr)


if __name__ == "__main__":
    unittest.main()
