"""Bank services: inquiry and payment (SPEC 5, 5.1, 5.2, 5.6; SPEC 3 codes;
docs/DECISIONS.md "The rest of a VA's life").

Black-box: the server is driven over HTTP, the database is touched only to
move an invoice's expiry into the past.
"""
import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
import time
import unittest
import uuid

from harness import COMM, KEY, Server, add_community, cli, db_exec, invoice, now_local, send

INQ = "/rest/virtualaccount/inquiry"
PAY = "/rest/virtualaccount/payment"
CLOSE = "/rest/virtualaccount/closeinvoice"
REPLAY = "idempotent-replayed"

BANK_KEYS = {"008": "bk008MandiriKey01", "009": "bk009BniKey0002", "014": "bk014BcaKey0003"}
PCOMM, PKEY, PBANKS = "PARTIAL", "partialKey7777", ["008:71234", "009:55501"]
DT_RE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
FAIL_KEYS = {"rq_uuid", "rs_datetime", "error_code", "error_message"}


def sig5(mode, parts, key):
    s = "##" + "##".join(list(parts) + [key, mode]) + "##"
    return hashlib.sha256(s.upper().encode()).hexdigest()


def luhn_digit(payload):
    t = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        t += d
    return str((10 - t % 10) % 10)


def new_uuid():
    return "T5-" + uuid.uuid4().hex


def inquiry_fields(bank, va, key=None, rq_uuid=None, rq_datetime=None):
    key = BANK_KEYS.get(bank, "unknownbankkey") if key is None else key
    u = rq_uuid or new_uuid()
    d = rq_datetime or now_local()
    return {"rq_uuid": u, "rq_datetime": d, "bank_code": bank, "va_number": va,
            "signature": sig5("INQUIRY", [u, d, bank, va], key)}


def payment_fields(bank, va, ref, amount, key=None, rq_uuid=None, rq_datetime=None):
    key = BANK_KEYS.get(bank, "unknownbankkey") if key is None else key
    u = rq_uuid or new_uuid()
    d = rq_datetime or now_local()
    return {"rq_uuid": u, "rq_datetime": d, "bank_code": bank, "va_number": va,
            "signature": sig5("PAYMENT", [u, d, bank, va, ref, amount], key),
            "payment_ref": ref, "amount": amount}


def resign(fields, mode, key):
    """Signature recomputed over the (mutated) fields, so that a format or
    presence failure is the only thing wrong with the request."""
    f = dict(fields)
    g = lambda k: f.get(k) if isinstance(f.get(k), str) else ""
    if mode == "INQUIRY":
        parts = [g("rq_uuid"), g("rq_datetime"), g("bank_code"), g("va_number")]
    else:
        parts = [g("rq_uuid"), g("rq_datetime"), g("bank_code"), g("va_number"),
                 g("payment_ref"), g("amount")]
    if "signature" in f:
        f["signature"] = sig5(mode, parts, key)
    return f


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


class PayCase(unittest.TestCase):
    """Communities SGWTES (exact payments) and PARTIAL (--partial-payments),
    banks 008, 009 (both used by the communities) and 014 (registered, no
    channel), then a running server."""

    server_args = ()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vabill-t5pay-")
        self.db = os.path.join(self.tmp, "vabill.db")
        add_community(self.db)
        add_community(self.db, PCOMM, PKEY, PBANKS, extra=["--partial-payments"])
        for b, k in sorted(BANK_KEYS.items()):
            r = cli("bank", "add", b, "--key", k, "--name", "Bank " + b, db=self.db)
            self.assertEqual(r.returncode, 0, r.stderr)
        self.server = Server(self.db, self.server_args)
        self.url = "http://%s:%d" % (self.server.host, self.server.port)

    def tearDown(self):
        self.server.__exit__(None, None, None)
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- helpers --------------------------------------------------------------

    def new_invoice(self, doc, comm=COMM, key=KEY, **over):
        st, h, obj, raw = send(self.server, {doc: invoice(**over)}, comm_code=comm, key=key)
        self.assertEqual(obj["error_code"], "0000", obj)
        res = obj["invoices"][doc]
        self.assertEqual(res["error_code"], "0000", res)
        return res

    @staticmethod
    def va(res, bank="008"):
        return res["list_va"][bank]["va_number"]

    def inquire(self, bank, va, form=True, **kw):
        return post5(self.server, INQ, inquiry_fields(bank, va, **kw), form)

    def pay(self, bank, va, ref, amount, form=True, **kw):
        return post5(self.server, PAY, payment_fields(bank, va, ref, amount, **kw), form)

    def close(self, doc, comm=COMM, key=KEY):
        u, d = new_uuid(), now_local()
        f = {"rq_uuid": u, "rq_datetime": d, "comm_code": comm, "doc_no": doc,
             "signature": sig5("CLOSEINVOICE", [u, d, comm, doc], key)}
        st, h, obj, raw = post5(self.server, CLOSE, f)
        self.assertEqual(obj["error_code"], "0000", obj)

    def show(self, doc, comm=COMM):
        r = cli("invoice", "show", comm, doc, db=self.db)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def assertFail(self, answer, code, msg, rq_uuid=None):
        st, h, obj, raw = answer
        self.assertEqual((obj.get("error_code"), obj.get("error_message")), (code, msg), obj)
        self.assertEqual(st, 200, obj)
        self.assertEqual(set(obj), FAIL_KEYS, obj)
        self.assertRegex(obj["rs_datetime"], DT_RE)
        self.assertNotIn(REPLAY, h)
        if rq_uuid is not None:
            self.assertEqual(obj["rq_uuid"], rq_uuid, obj)
        return obj

    def assertOk(self, answer):
        st, h, obj, raw = answer
        self.assertEqual(obj.get("error_code"), "0000", obj)
        self.assertEqual(obj.get("error_message"), "Success", obj)
        self.assertEqual(st, 200, obj)
        self.assertTrue(h.get("content-type", "").startswith("application/json"), h)
        self.assertRegex(obj["rs_datetime"], DT_RE)
        return obj


# ---------------------------------------------------------------------------
# fields: presence (0001) and format (0003), in table order
# ---------------------------------------------------------------------------

INQ_FIELDS = ["rq_uuid", "rq_datetime", "bank_code", "va_number", "signature"]
PAY_FIELDS = INQ_FIELDS + ["payment_ref", "amount"]


class FieldTests(PayCase):

    def setUp(self):
        super().setUp()
        self.res = self.new_invoice("FLD-1")
        self.va8 = self.va(self.res)

    def base(self, mode):
        if mode == "INQUIRY":
            return INQ, inquiry_fields("008", self.va8), INQ_FIELDS
        return PAY, payment_fields("008", self.va8, "REF-FLD", "20000"), PAY_FIELDS

    def mutate(self, mode, changes):
        path, f, order = self.base(mode)
        for k, v in changes.items():
            if v is None:
                f.pop(k, None)
            else:
                f[k] = v
        if "signature" not in changes:
            f = resign(f, mode, BANK_KEYS["008"])
        return path, f

    def expect(self, mode, changes, code, msg, echo=True, form=True):
        path, f = self.mutate(mode, changes)
        ans = post5(self.server, path, f, form)
        want = f["rq_uuid"] if echo else ""
        self.assertFail(ans, code, msg, rq_uuid=want)

    def test_each_field_missing(self):
        for mode, order in (("INQUIRY", INQ_FIELDS), ("PAYMENT", PAY_FIELDS)):
            for name in order:
                for empty in (None, "", "  \t "):
                    with self.subTest(mode=mode, field=name, value=empty):
                        self.expect(mode, {name: empty}, "0001",
                                    "Mandatory field left empty = " + name,
                                    echo=(name != "rq_uuid"))

    def test_missing_in_table_order(self):
        for mode, order in (("INQUIRY", INQ_FIELDS), ("PAYMENT", PAY_FIELDS)):
            for i, name in enumerate(order):
                # this field and every later one missing: this one is reported
                with self.subTest(mode=mode, first=name):
                    self.expect(mode, {n: None for n in order[i:]}, "0001",
                                "Mandatory field left empty = " + name,
                                echo=(name != "rq_uuid"))

    def test_missing_before_malformed(self):
        # step 2 (presence) for every field before step 3 (format) for any
        self.expect("INQUIRY", {"rq_uuid": "x" * 256, "signature": None}, "0001",
                    "Mandatory field left empty = signature", echo=False)
        self.expect("PAYMENT", {"bank_code": "08", "amount": None}, "0001",
                    "Mandatory field left empty = amount")
        self.expect("PAYMENT", {"va_number": "12ab", "payment_ref": ""}, "0001",
                    "Mandatory field left empty = payment_ref")

    BAD = {
        "rq_uuid": ["x" * 256, "abc\x01def", "caf\u00e9"],
        "rq_datetime": ["2024-02-30 10:00:00", "2024-01-01T10:00:00", "2024-01-01 10:00",
                        "2024-01-01 24:00:00", "yesterday"],
        "bank_code": ["08", "0080", "A08", "0 8"],
        "va_number": ["6280600000X12349", "1" * 33, "-6280600000012349", "62806 0000012349",
                      "6280600000012349.0"],
        "signature": ["abc", "g" * 64, "a" * 63, "a" * 65],
        "payment_ref": ["R" * 65, "ref\x01", "r\u00e9f"],
        "amount": ["0", "0.00", "-1", "1.234", "1e3", "abc", "20,000", "1000000000000000.00",
                   ".5"],
    }

    def test_each_field_malformed(self):
        for mode, order in (("INQUIRY", INQ_FIELDS), ("PAYMENT", PAY_FIELDS)):
            for name in order:
                for bad in self.BAD[name]:
                    with self.subTest(mode=mode, field=name, value=bad):
                        self.expect(mode, {name: bad}, "0003", "Invalid format = " + name,
                                    echo=(name != "rq_uuid"))

    def test_malformed_in_table_order(self):
        for mode, order in (("INQUIRY", INQ_FIELDS), ("PAYMENT", PAY_FIELDS)):
            for i, name in enumerate(order):
                with self.subTest(mode=mode, first=name):
                    changes = {n: self.BAD[n][0] for n in order[i:]}
                    self.expect(mode, changes, "0003", "Invalid format = " + name,
                                echo=(name != "rq_uuid"))

    def test_field_limits_accepted(self):
        # 255-character rq_uuid, 64-character payment_ref: well formed
        self.assertOk(self.inquire("008", self.va8, rq_uuid="U" * 255))
        ok = self.assertOk(self.pay("008", self.va8, "P" * 64, "20000", rq_uuid="V" * 255))
        self.assertEqual(ok["payment_ref"], "P" * 64)
        # 32 digits is a well-formed VA number that nobody has
        self.assertFail(self.inquire("008", "1" * 32), "0014", "Data not listed = VA Number")

    def test_json_body(self):
        ans = self.inquire("008", self.va8, form=False)
        self.assertEqual(self.assertOk(ans)["amount"], "20000.00")
        ans = self.pay("008", self.va8, "REF-JSON", "20000", form=False)
        self.assertEqual(self.assertOk(ans)["status"], "paid")

    def test_json_body_amount_as_number(self):
        f = payment_fields("008", self.va8, "REF-JNUM", "20000")
        f["amount"] = 20000
        st, h, raw = self.server.post_json(json.dumps(f), path=PAY)
        obj = json.loads(raw)
        self.assertEqual(obj["error_code"], "0000", obj)
        self.assertEqual(obj["paid_amount"], "20000.00", obj)

    def test_http_level(self):
        st, h, raw = self.server.request("GET", INQ)
        self.assertEqual(st, 405)
        self.assertEqual(json.loads(raw)["error_code"], "0405")
        st, h, raw = self.server.request("POST", PAY, b"x=1", {"Content-Type": "text/plain"})
        self.assertEqual(st, 415)
        self.assertEqual(json.loads(raw)["error_code"], "0415")


# ---------------------------------------------------------------------------
# caller, signature, clock, in that order
# ---------------------------------------------------------------------------

class CallerTests(PayCase):

    def setUp(self):
        super().setUp()
        self.res = self.new_invoice("CAL-1")
        self.va8 = self.va(self.res)

    def test_unknown_bank_0020(self):
        for bank in ("002", "999"):
            with self.subTest(bank=bank):
                f = inquiry_fields(bank, self.va8, key="whatever")
                self.assertFail(post5(self.server, INQ, f), "0020", "Data not listed = Bank Code",
                                rq_uuid=f["rq_uuid"])
                f = payment_fields(bank, self.va8, "R-0020", "20000", key="whatever")
                self.assertFail(post5(self.server, PAY, f), "0020", "Data not listed = Bank Code")

    def test_unknown_bank_before_signature_and_clock(self):
        f = inquiry_fields("002", self.va8, rq_datetime=now_local(delta_seconds=-5000))
        f["signature"] = "0" * 64
        self.assertFail(post5(self.server, INQ, f), "0020", "Data not listed = Bank Code")

    def test_bad_signature_0004(self):
        cases = [
            inquiry_fields("008", self.va8, key="wrong-key"),
            inquiry_fields("008", self.va8, key=BANK_KEYS["009"]),  # another bank's key
            dict(inquiry_fields("008", self.va8), signature="0" * 64),
        ]
        # a payment signature over other fields or with the inquiry mode
        p = payment_fields("008", self.va8, "R-SIG", "20000")
        p["amount"] = "20000.00"
        cases_pay = [payment_fields("008", self.va8, "R-SIG", "20000", key="wrong"), p,
                     dict(payment_fields("008", self.va8, "R-SIG", "20000"),
                          signature=inquiry_fields("008", self.va8)["signature"])]
        for f in cases:
            self.assertFail(post5(self.server, INQ, f), "0004", "Invalid signature",
                            rq_uuid=f["rq_uuid"])
        for f in cases_pay:
            self.assertFail(post5(self.server, PAY, f), "0004", "Invalid signature")
        # nothing was paid
        self.assertEqual(self.show("CAL-1")["outstanding_amount"], "20000.00")

    def test_signature_either_case(self):
        f = inquiry_fields("008", self.va8)
        f["signature"] = f["signature"].upper()
        self.assertOk(post5(self.server, INQ, f))
        f = payment_fields("008", self.va8, "R-UPPER", "20000")
        f["signature"] = f["signature"].upper()
        self.assertOk(post5(self.server, PAY, f))

    def test_bad_signature_before_clock(self):
        f = inquiry_fields("008", self.va8, key="wrong", rq_datetime=now_local(delta_seconds=-5000))
        self.assertFail(post5(self.server, INQ, f), "0004", "Invalid signature")

    def test_clock_skew_0009(self):
        for delta in (-1000, 1000, -86400):
            with self.subTest(delta=delta):
                d = now_local(delta_seconds=delta)
                self.assertFail(self.inquire("008", self.va8, rq_datetime=d), "0009",
                                "Request expired = rq_datetime")
                self.assertFail(self.pay("008", self.va8, "R-OLD%d" % delta, "20000",
                                         rq_datetime=d), "0009", "Request expired = rq_datetime")
        # within the default 900 s
        self.assertOk(self.inquire("008", self.va8, rq_datetime=now_local(delta_seconds=-600)))
        self.assertEqual(self.show("CAL-1")["outstanding_amount"], "20000.00")

    def test_clock_before_va_checks(self):
        d = now_local(delta_seconds=-2000)
        self.assertFail(self.inquire("008", "6280699999999999", rq_datetime=d), "0009",
                        "Request expired = rq_datetime")
        self.assertFail(self.pay("008", self.va8, "R-X", "1", rq_datetime=d), "0009",
                        "Request expired = rq_datetime")


# ---------------------------------------------------------------------------
# VA number, status, amount
# ---------------------------------------------------------------------------

class VaTests(PayCase):

    def test_luhn_failing_number_0014(self):
        res = self.new_invoice("VA-1")
        va = self.va(res)
        bad = va[:-1] + str((int(va[-1]) + 1) % 10)
        self.assertFail(self.inquire("008", bad), "0014", "Data not listed = VA Number")
        self.assertFail(self.pay("008", bad, "R-LUHN", "20000"), "0014",
                        "Data not listed = VA Number")
        self.assertEqual(self.show("VA-1")["outstanding_amount"], "20000.00")

    def test_valid_luhn_unknown_number_0014(self):
        self.new_invoice("VA-2")
        payload = "62806" + "0000099999"  # serial never allocated
        va = payload + luhn_digit(payload)
        self.assertEqual(len(va), 16)
        self.assertFail(self.inquire("008", va), "0014", "Data not listed = VA Number")
        self.assertFail(self.pay("008", va, "R-UNK", "20000"), "0014",
                        "Data not listed = VA Number")
        short = "1234567" + luhn_digit("1234567")
        self.assertFail(self.inquire("008", short), "0014", "Data not listed = VA Number")

    def test_number_of_another_bank_0014(self):
        res = self.new_invoice("VA-3")
        va9 = self.va(res, "009")
        self.assertFail(self.inquire("008", va9), "0014", "Data not listed = VA Number")
        self.assertFail(self.pay("008", va9, "R-OTHER", "20000"), "0014",
                        "Data not listed = VA Number")
        # bank 014 is registered but no community uses it
        self.assertFail(self.inquire("014", self.va(res, "008")), "0014",
                        "Data not listed = VA Number")
        self.assertFail(self.pay("014", va9, "R-OTHER14", "20000"), "0014",
                        "Data not listed = VA Number")
        self.assertEqual(self.show("VA-3")["outstanding_amount"], "20000.00")

    def test_inquiry_success_fields(self):
        res = self.new_invoice("INQ-1", amount="150000.5", total_amount="300000",
                               installment_amount="150000.5")
        for bank in ("008", "009"):
            with self.subTest(bank=bank):
                va = self.va(res, bank)
                f = inquiry_fields(bank, va)
                obj = self.assertOk(post5(self.server, INQ, f))
                want = {"rq_uuid": f["rq_uuid"], "bank_code": bank, "va_number": va,
                        "comm_code": COMM, "doc_no": "INQ-1", "doc_ref_no": res["doc_ref_no"],
                        "member_name": "Budi Santoso", "ccy": "IDR", "amount": "150000.50",
                        "expired": res["list_va"][bank]["expired"],
                        "description": "VA Payment Test"}
                for k, v in want.items():
                    self.assertEqual(obj.get(k), v, "%s: %r" % (k, obj))
        # inquiry changes nothing
        self.assertEqual(self.show("INQ-1")["outstanding_amount"], "150000.50")

    def test_inquiry_without_name_and_description(self):
        res = self.new_invoice("INQ-2", member_name=None, description=None)
        obj = self.assertOk(self.inquire("009", self.va(res, "009")))
        self.assertEqual(obj["member_name"], "", obj)
        self.assertEqual(obj["description"], "", obj)
        self.assertEqual(obj["amount"], "20000.00", obj)

    def test_inquiry_shows_outstanding_amount(self):
        res = self.new_invoice("INQ-3", comm=PCOMM, key=PKEY)
        self.assertOk(self.pay("008", self.va(res), "R-PART1", "5000.5"))
        obj = self.assertOk(self.inquire("008", self.va(res)))
        self.assertEqual(obj["amount"], "14999.50", obj)
        obj = self.assertOk(self.inquire("009", self.va(res, "009")))
        self.assertEqual(obj["amount"], "14999.50", obj)
        self.assertEqual(obj["comm_code"], PCOMM, obj)

    def test_exact_payment_success_fields(self):
        res = self.new_invoice("PAY-1")
        f = payment_fields("008", self.va(res), "REF-0001", "20000")
        obj = self.assertOk(post5(self.server, PAY, f))
        want = {"rq_uuid": f["rq_uuid"], "doc_no": "PAY-1", "doc_ref_no": res["doc_ref_no"],
                "payment_ref": "REF-0001", "paid_amount": "20000.00",
                "outstanding_amount": "0.00", "status": "paid"}
        for k, v in want.items():
            self.assertEqual(obj.get(k), v, "%s: %r" % (k, obj))
        s = self.show("PAY-1")
        self.assertEqual((s["status"], s["outstanding_amount"]), ("paid", "0.00"), s)
        # paid: inquiry and further payments refused
        self.assertFail(self.inquire("008", self.va(res)), "0015", "Invoice already paid")
        self.assertFail(self.inquire("009", self.va(res, "009")), "0015", "Invoice already paid")
        self.assertFail(self.pay("009", self.va(res, "009"), "REF-0002", "20000"), "0015",
                        "Invoice already paid")

    def test_exact_amount_required(self):
        res = self.new_invoice("PAY-2")
        va = self.va(res, "009")
        for amt in ("19999.99", "20000.01", "10000", "0.01", "40000"):
            with self.subTest(amount=amt):
                self.assertFail(self.pay("009", va, "R-AMT-" + amt, amt), "0018", "Invalid amount")
        self.assertEqual(self.show("PAY-2")["outstanding_amount"], "20000.00")
        obj = self.assertOk(self.pay("009", va, "R-AMT-OK", "20000.0"))
        self.assertEqual((obj["paid_amount"], obj["status"]), ("20000.00", "paid"), obj)

    def test_both_bank_numbers_take_payments(self):
        a = self.new_invoice("BOTH-A")
        b = self.new_invoice("BOTH-B")
        self.assertEqual(self.assertOk(self.pay("008", self.va(a, "008"), "R-BA", "20000"))["doc_no"],
                         "BOTH-A")
        self.assertEqual(self.assertOk(self.pay("009", self.va(b, "009"), "R-BB", "20000"))["doc_no"],
                         "BOTH-B")
        p = self.new_invoice("BOTH-P", comm=PCOMM, key=PKEY)
        o1 = self.assertOk(self.pay("008", self.va(p, "008"), "R-BP1", "5000"))
        o2 = self.assertOk(self.pay("009", self.va(p, "009"), "R-BP2", "5000"))
        self.assertEqual((o1["outstanding_amount"], o2["outstanding_amount"]),
                         ("15000.00", "10000.00"))
        self.assertEqual(self.show("BOTH-P", PCOMM)["outstanding_amount"], "10000.00")

    def test_partial_payments_down_to_zero(self):
        res = self.new_invoice("PART-1", comm=PCOMM, key=PKEY)
        va = self.va(res)
        steps = [("0.01", "19999.99", "open"), ("0.5", "19999.49", "open"),
                 ("9999.49", "10000.00", "open"), ("10000", "0.00", "paid")]
        for i, (amt, outstanding, status) in enumerate(steps):
            obj = self.assertOk(self.pay("008", va, "R-P%d" % i, amt))
            self.assertEqual(obj["outstanding_amount"], outstanding, obj)
            self.assertEqual(obj["status"], status, obj)
            self.assertEqual(obj["paid_amount"], "%.2f" % float(amt), obj)
        s = self.show("PART-1", PCOMM)
        self.assertEqual((s["status"], s["outstanding_amount"]), ("paid", "0.00"), s)
        self.assertFail(self.pay("008", va, "R-P9", "0.01"), "0015", "Invoice already paid")
        self.assertFail(self.inquire("009", self.va(res, "009")), "0015", "Invoice already paid")

    def test_partial_amount_bounds(self):
        res = self.new_invoice("PART-2", comm=PCOMM, key=PKEY)
        va = self.va(res, "009")
        self.assertFail(self.pay("009", va, "R-HIGH", "20000.01"), "0018", "Invalid amount")
        self.assertFail(self.pay("009", va, "R-HIGH2", "999999999"), "0018", "Invalid amount")
        for zero in ("0", "0.00"):
            self.assertFail(self.pay("009", va, "R-ZERO", zero), "0003", "Invalid format = amount")
        self.assertOk(self.pay("009", va, "R-LOW", "15000"))
        self.assertFail(self.pay("009", va, "R-HIGH3", "5000.01"), "0018", "Invalid amount")
        self.assertEqual(self.show("PART-2", PCOMM)["outstanding_amount"], "5000.00")
        obj = self.assertOk(self.pay("009", va, "R-REST", "5000"))
        self.assertEqual((obj["outstanding_amount"], obj["status"]), ("0.00", "paid"))

    def test_closed_invoice_0016(self):
        res = self.new_invoice("CLS-1")
        self.close("CLS-1")
        for bank in ("008", "009"):
            self.assertFail(self.inquire(bank, self.va(res, bank)), "0016", "Invoice closed")
            self.assertFail(self.pay(bank, self.va(res, bank), "R-C" + bank, "20000"), "0016",
                            "Invoice closed")
        self.assertEqual(self.show("CLS-1")["status"], "closed")

    def test_closed_partially_paid_invoice_0016(self):
        res = self.new_invoice("CLS-2", comm=PCOMM, key=PKEY)
        self.assertOk(self.pay("008", self.va(res), "R-C2a", "100"))
        self.close("CLS-2", PCOMM, PKEY)
        self.assertFail(self.pay("008", self.va(res), "R-C2b", "100"), "0016", "Invoice closed")

    def test_expired_invoice_0017(self):
        res = self.new_invoice("EXP-1")
        self.assertOk(self.inquire("008", self.va(res)))
        expire(self.db, "EXP-1")
        for bank in ("008", "009"):
            self.assertFail(self.inquire(bank, self.va(res, bank)), "0017", "VA expired")
            self.assertFail(self.pay(bank, self.va(res, bank), "R-E" + bank, "20000"), "0017",
                            "VA expired")
        self.assertEqual(self.show("EXP-1")["outstanding_amount"], "20000.00")

    def test_status_order(self):
        # paid and past expiry: paid wins; closed and past expiry: closed wins
        a = self.new_invoice("ORD-PAID")
        self.assertOk(self.pay("008", self.va(a), "R-ORD1", "20000"))
        expire(self.db, "ORD-PAID")
        self.assertFail(self.inquire("008", self.va(a)), "0015", "Invoice already paid")
        b = self.new_invoice("ORD-CLOSED")
        self.close("ORD-CLOSED")
        expire(self.db, "ORD-CLOSED")
        self.assertFail(self.pay("008", self.va(b), "R-ORD2", "20000"), "0016", "Invoice closed")

    def test_va_and_status_before_amount(self):
        a = self.new_invoice("ORD-A")
        bad = self.va(a)[:-1] + str((int(self.va(a)[-1]) + 5) % 10)
        self.assertFail(self.pay("008", bad, "R-O1", "1"), "0014", "Data not listed = VA Number")
        expire(self.db, "ORD-A")
        self.assertFail(self.pay("008", self.va(a), "R-O2", "1"), "0017", "VA expired")
        b = self.new_invoice("ORD-B")
        self.assertOk(self.pay("008", self.va(b), "R-O3", "20000"))
        self.assertFail(self.pay("008", self.va(b), "R-O4", "1"), "0015", "Invoice already paid")


# ---------------------------------------------------------------------------
# idempotency by (bank_code, payment_ref)
# ---------------------------------------------------------------------------

class IdempotencyTests(PayCase):

    def test_replay_byte_identical_applied_once(self):
        res = self.new_invoice("IDP-1", comm=PCOMM, key=PKEY)
        va = self.va(res)
        f = payment_fields("008", va, "REF-IDP-1", "5000")
        st, h, obj, raw = post5(self.server, PAY, f)
        self.assertEqual(obj["error_code"], "0000", obj)
        self.assertNotIn(REPLAY, h)
        time.sleep(1.1)  # a fresh answer would carry another rs_datetime
        # the same request again, then re-signed later, then under a new rq_uuid
        again = [f,
                 payment_fields("008", va, "REF-IDP-1", "5000", rq_uuid=f["rq_uuid"]),
                 payment_fields("008", va, "REF-IDP-1", "5000")]
        for g in again:
            for form in (True, False):
                st2, h2, obj2, raw2 = post5(self.server, PAY, g, form)
                self.assertEqual(st2, 200)
                self.assertEqual(h2.get(REPLAY), "true", (h2, obj2))
                self.assertEqual(raw2, raw, "replay is not byte-identical")
        self.assertEqual(self.show("IDP-1", PCOMM)["outstanding_amount"], "15000.00")
        self.assertEqual(self.assertOk(self.inquire("009", self.va(res, "009")))["amount"],
                         "15000.00")

    def test_replay_after_paid_and_late(self):
        # a replay is answered before the status and clock checks
        res = self.new_invoice("IDP-2")
        va = self.va(res, "009")
        f = payment_fields("009", va, "REF-IDP-2", "20000")
        st, h, obj, raw = post5(self.server, PAY, f)
        self.assertEqual(obj["status"], "paid", obj)
        g = payment_fields("009", va, "REF-IDP-2", "20000", rq_uuid=f["rq_uuid"],
                           rq_datetime=now_local(delta_seconds=-5000))
        st2, h2, obj2, raw2 = post5(self.server, PAY, g)
        self.assertEqual(h2.get(REPLAY), "true", obj2)
        self.assertEqual(raw2, raw)
        self.assertEqual(self.show("IDP-2")["outstanding_amount"], "0.00")

    def test_replay_needs_valid_signature(self):
        res = self.new_invoice("IDP-3")
        va = self.va(res)
        f = payment_fields("008", va, "REF-IDP-3", "20000")
        self.assertOk(post5(self.server, PAY, f))
        g = dict(f, signature="1" * 64)
        self.assertFail(post5(self.server, PAY, g), "0004", "Invalid signature")

    def test_conflicting_payment_ref_0019(self):
        a = self.new_invoice("IDP-4A", comm=PCOMM, key=PKEY)
        b = self.new_invoice("IDP-4B", comm=PCOMM, key=PKEY)
        va_a, va_b = self.va(a), self.va(b)
        self.assertOk(self.pay("008", va_a, "REF-DUP", "1000"))
        msg = "Duplicate payment = payment_ref"
        self.assertFail(self.pay("008", va_a, "REF-DUP", "1000.01"), "0019", msg)
        self.assertFail(self.pay("008", va_a, "REF-DUP", "2000"), "0019", msg)
        self.assertFail(self.pay("008", va_b, "REF-DUP", "1000"), "0019", msg)
        # before the clock check (DECISIONS), after the signature
        self.assertFail(self.pay("008", va_b, "REF-DUP", "1000",
                                 rq_datetime=now_local(delta_seconds=-5000)), "0019", msg)
        self.assertEqual(self.show("IDP-4A", PCOMM)["outstanding_amount"], "19000.00")
        self.assertEqual(self.show("IDP-4B", PCOMM)["outstanding_amount"], "20000.00")

    def test_payment_ref_is_per_bank(self):
        a = self.new_invoice("IDP-5A")
        b = self.new_invoice("IDP-5B")
        self.assertOk(self.pay("008", self.va(a, "008"), "REF-SAME", "20000"))
        obj = self.assertOk(self.pay("009", self.va(b, "009"), "REF-SAME", "20000"))
        self.assertEqual(obj["doc_no"], "IDP-5B")

    def test_refused_payment_not_remembered(self):
        res = self.new_invoice("IDP-6")
        va = self.va(res)
        self.assertFail(self.pay("008", va, "REF-IDP-6", "1"), "0018", "Invalid amount")
        self.assertOk(self.pay("008", va, "REF-IDP-6", "20000"))
        # a 0015 answer is not remembered either: the ref stays free
        other = self.new_invoice("IDP-6B")
        self.assertFail(self.pay("008", self.va(res), "REF-IDP-6X", "20000"), "0015",
                        "Invoice already paid")
        self.assertOk(self.pay("008", self.va(other), "REF-IDP-6X", "20000"))


# ---------------------------------------------------------------------------
# races
# ---------------------------------------------------------------------------

class RaceTests(PayCase):

    def race(self, bank, va, amounts):
        n = len(amounts)
        barrier = threading.Barrier(n)
        out = [None] * n

        def worker(i):
            f = payment_fields(bank, va, "RACE-%02d-%s" % (i, uuid.uuid4().hex[:8]), amounts[i])
            try:
                barrier.wait(timeout=15)
                st, h, raw = self.server.post_form(f, path=PAY)
                out[i] = (st, json.loads(raw))
            except Exception as e:  # reported below
                out[i] = (None, repr(e))

        ts = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(timeout=45)
        for o in out:
            self.assertIsNotNone(o)
            self.assertEqual(o[0], 200, o)
        return [o[1] for o in out]

    def test_partial_race_never_over_takes(self):
        res = self.new_invoice("RACE-P", comm=PCOMM, key=PKEY)
        answers = self.race("008", self.va(res), ["3000"] * 16)
        codes = sorted(a["error_code"] for a in answers)
        ok = [a for a in answers if a["error_code"] == "0000"]
        self.assertTrue(set(codes) <= {"0000", "0018"}, codes)
        self.assertEqual(len(ok), 6, codes)
        paid = sum(round(float(a["paid_amount"]) * 100) for a in ok)
        final = self.show("RACE-P", PCOMM)["outstanding_amount"]
        self.assertEqual(final, "2000.00")
        self.assertEqual(paid, 2000000 - 200000)
        self.assertEqual(sorted(round(float(a["outstanding_amount"])) for a in ok),
                         [2000, 5000, 8000, 11000, 14000, 17000])
        for a in answers:
            if a["error_code"] == "0018":
                self.assertEqual(a["error_message"], "Invalid amount")

    def test_partial_race_mixed_amounts(self):
        res = self.new_invoice("RACE-M", comm=PCOMM, key=PKEY)
        amounts = ["%d.%02d" % (1000 + 700 * i, i) for i in range(16)]
        answers = self.race("009", self.va(res, "009"), amounts)
        ok = [a for a in answers if a["error_code"] == "0000"]
        self.assertTrue(ok)
        paid = sum(round(float(a["paid_amount"]) * 100) for a in ok)
        final = round(float(self.show("RACE-M", PCOMM)["outstanding_amount"]) * 100)
        self.assertLessEqual(paid, 2000000)
        self.assertEqual(paid, 2000000 - final)

    def test_exact_race_one_wins(self):
        res = self.new_invoice("RACE-E")
        answers = self.race("008", self.va(res), ["20000"] * 16)
        codes = [a["error_code"] for a in answers]
        self.assertEqual(codes.count("0000"), 1, codes)
        self.assertEqual(codes.count("0015"), 15, codes)
        s = self.show("RACE-E")
        self.assertEqual((s["status"], s["outstanding_amount"]), ("paid", "0.00"))


# ---------------------------------------------------------------------------
# command line: bank add, vabill pay
# ---------------------------------------------------------------------------

class CliTests(PayCase):

    def paycli(self, va, amount, bank="008", key=None, ref=None, url=None):
        argv = ["pay", "--url", url or self.url, "--bank", bank,
                "--key", BANK_KEYS[bank] if key is None else key, va, amount]
        if ref is not None:
            argv += ["--payment-ref", ref]
        return cli(*argv)

    @staticmethod
    def lines(r):
        return [json.loads(l) for l in r.stdout.splitlines() if l.strip()]

    def test_pay_end_to_end(self):
        res = self.new_invoice("CLI-1")
        va = self.va(res)
        r = self.paycli(va, "20000", ref="CLI-REF-1")
        self.assertEqual(r.returncode, 0, r.stderr)
        ls = r.stdout.strip("\n").split("\n")
        self.assertEqual(len(ls), 2, r.stdout)
        inq, pay = json.loads(ls[0]), json.loads(ls[1])
        self.assertEqual(inq["error_code"], "0000", inq)
        self.assertEqual((inq["va_number"], inq["doc_no"], inq["amount"]),
                         (va, "CLI-1", "20000.00"), inq)
        self.assertEqual(pay["error_code"], "0000", pay)
        self.assertEqual((pay["payment_ref"], pay["paid_amount"], pay["status"]),
                         ("CLI-REF-1", "20000.00", "paid"), pay)
        self.assertEqual(self.show("CLI-1")["status"], "paid")
        # again: refused, non-zero exit
        r = self.paycli(va, "20000", ref="CLI-REF-2")
        self.assertNotEqual(r.returncode, 0, r.stdout)
        ls = self.lines(r)
        self.assertTrue(ls, r.stdout)
        self.assertEqual(ls[0]["error_code"], "0015", ls)
        self.assertTrue(all(o["error_code"] != "0000" for o in ls), ls)

    def test_pay_default_payment_ref(self):
        res = self.new_invoice("CLI-2", comm=PCOMM, key=PKEY)
        refs = []
        for _ in range(2):
            r = self.paycli(self.va(res, "009"), "1000", bank="009")
            self.assertEqual(r.returncode, 0, r.stderr)
            pay = self.lines(r)[1]
            self.assertTrue(pay["payment_ref"].startswith("PAY"), pay)
            refs.append(pay["payment_ref"])
        self.assertNotEqual(refs[0], refs[1])
        self.assertEqual(self.show("CLI-2", PCOMM)["outstanding_amount"], "18000.00")

    def test_pay_refused(self):
        res = self.new_invoice("CLI-3")
        va = self.va(res)
        r = self.paycli(va, "20000", key="wrong-key", ref="CLI-R3")
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(self.lines(r)[0]["error_code"], "0004", r.stdout)
        r = self.paycli(va, "19999", ref="CLI-R3b")
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(self.lines(r)[-1]["error_code"], "0018", r.stdout)
        self.assertEqual(self.show("CLI-3")["outstanding_amount"], "20000.00")
        # no server there
        r = self.paycli(va, "20000", ref="CLI-R3c", url="http://127.0.0.1:1")
        self.assertNotEqual(r.returncode, 0)
        self.assertTrue(r.stderr.startswith("vabill: "), r.stderr)

    def test_bank_add_refuses_duplicate(self):
        r = cli("bank", "add", "008", "--key", "another", db=self.db)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertTrue(r.stderr.startswith("vabill: "), r.stderr)
        # the first key still signs
        res = self.new_invoice("CLI-4")
        self.assertOk(self.inquire("008", self.va(res)))


if __name__ == "__main__":
    unittest.main()
