"""Invoice-level rules of sendinvoice: SPEC 1.3, 1.4 step 11, 1.6 and 2
(VA numbers), plus the DECISIONS.md choices for invoices.  Black-box: only
HTTP and the vabill command line.

One server per test class (started in setUpClass); every test uses fresh
doc_nos, and tests that count serials use a community of their own.
"""
import datetime
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import unittest
import uuid

import harness
from harness import COMM, KEY, Server, add_community, cli, invoice, now_local, request_fields

DT_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
REF_RE = re.compile(r"^VB\d{13}$")
DT_FMT = "%Y-%m-%d %H:%M:%S"

# code: (key, [(bank, prefix)], va_length, va_ttl_minutes, extra args)
COMMS = {
    COMM: (KEY, [("008", "62806"), ("009", "88712")], 16, 43200, ()),
    "SGWTWO": ("twokey2", [("008", "41111"), ("009", "41112")], 16, 43200, ()),
    "SEQ": ("seqkey3", [("008", "3331"), ("009", "22")], 16, 43200, ()),
    "EXH": ("exhkey4", [("008", "123456789012")], 14, 43200, ("--va-length", "14")),
    "TTL": ("ttlkey5", [("008", "7001"), ("014", "7002")], 16, 60, ("--va-ttl", "60")),
    "LEN20": ("lenkey6", [("002", "9001")], 20, 43200, ("--va-length", "20")),
    "BIG": ("bigkey7", [("014", "5551"), ("002", "5552")], 16, 43200, ()),
}

OK = "ok"


def mandatory(name):
    return ("0001", "Mandatory field left empty = %s" % name)


def bad(name):
    return ("0003", "Invalid format = %s" % name)


ALREADY = ("0002", "Data already listed = Document No")
EXHAUSTED = ("0012", "VA numbers exhausted")


class Raw:
    """JSON text inserted as written (e.g. the number 150000.50)."""

    def __init__(self, text):
        self.text = text

    def __repr__(self):
        return "Raw(%s)" % self.text


class Pairs(list):
    """An invoice written member by member (members may repeat)."""


def jtext(v, ensure_ascii=True):
    if isinstance(v, Raw):
        return v.text
    if isinstance(v, Pairs):
        return "{" + ", ".join("%s: %s" % (json.dumps(k, ensure_ascii=ensure_ascii),
                                            jtext(x, ensure_ascii)) for k, x in v) + "}"
    if isinstance(v, dict):
        return jtext(Pairs(v.items()), ensure_ascii)
    return json.dumps(v, ensure_ascii=ensure_ascii)


def invoices_text(items, ensure_ascii=True):
    """items: list of (doc_no, invoice) -> JSON text of the invoices object."""
    return "{" + ", ".join("%s: %s" % (json.dumps(d, ensure_ascii=ensure_ascii),
                                        jtext(v, ensure_ascii)) for d, v in items) + "}"


def uniq(prefix="D"):
    return prefix + uuid.uuid4().hex[:20]


def luhn_digit(payload):
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def pairs(**over):
    return Pairs(invoice(**over).items())


class BoundedServer(Server):
    """harness.Server, but the wait for "listening on" is bounded."""

    def __init__(self, db, args=(), env=None, start_timeout=30):
        self.db = db
        e = dict(os.environ)
        if env:
            e.update(env)
        self.proc = subprocess.Popen(
            [harness.VABILLD, "--db", harness.db_url(db), "--listen", "127.0.0.1:0"] + list(args),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e)
        self.stderr_lines = []
        self._err = threading.Thread(target=self._drain, daemon=True)
        self._err.start()
        watchdog = threading.Timer(start_timeout, self._kill_quietly)
        watchdog.start()
        try:
            line = self.proc.stdout.readline()
        finally:
            watchdog.cancel()
        if not line.startswith("listening on "):
            self._kill_quietly()
            self.proc.wait(timeout=10)
            time.sleep(0.1)
            raise AssertionError("vabilld did not start: %r %r" % (line, self.stderr_lines))
        hostport = line[len("listening on "):].strip()
        self.host, port = hostport.rsplit(":", 1)
        self.port = int(port)

    def _kill_quietly(self):
        try:
            self.proc.kill()
        except OSError:
            pass


class InvoiceTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="vabill-tinv-")
        cls.db = os.path.join(cls.tmp, "vabill.db")
        cls.server = None
        try:
            for code, (key, banks, _len, _ttl, extra) in COMMS.items():
                add_community(cls.db, code=code, key=key,
                              banks=["%s:%s" % b for b in banks], extra=extra)
            cls.server = BoundedServer(cls.db)
        except BaseException:
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.server is not None:
            cls.server.__exit__(None, None, None)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    # -- helpers ---------------------------------------------------------

    def send(self, items, comm=COMM, form=True, total=None, ensure_ascii=True, **kw):
        """items: list of (doc_no, invoice).  Returns the parsed answer after
        checking that it is a top-level 0000 with every invoice reported."""
        st, h, obj, raw = self.send_raw(items, comm, form, total, ensure_ascii, **kw)
        ctx = raw[:500]
        self.assertEqual((obj.get("error_code"), obj.get("error_message")), ("0000", "Success"), ctx)
        self.assertEqual(st, 200, ctx)
        self.assertIsInstance(obj["total_invoice"], str)
        self.assertEqual(obj["total_invoice"], str(len(items)), ctx)
        self.assertEqual(list(obj["invoices"]), [d for d, _ in items], ctx)
        succ = [d for d, e in obj["invoices"].items() if e["error_code"] == "0000"]
        err = [d for d, e in obj["invoices"].items() if e["error_code"] != "0000"]
        self.assertEqual(list(obj["invoices_success"]), succ, ctx)
        self.assertEqual(list(obj["invoices_error"]), err, ctx)
        for d in succ:
            self.assertEqual(obj["invoices_success"][d], obj["invoices"][d])
        for d in err:
            self.assertEqual(obj["invoices_error"][d], obj["invoices"][d])
        return obj

    def send_raw(self, items, comm=COMM, form=True, total=None, ensure_ascii=True, **kw):
        key = COMMS[comm][0]
        text = invoices_text(items, ensure_ascii)
        if total is None:
            total = len(items)
        f = request_fields(text, comm_code=comm, key=key, total=total, **kw)
        if form:
            st, h, body = self.server.post_form(f)
        else:
            del f["invoices"]
            f["total_invoices"] = int(f["total_invoices"])
            body = json.dumps(f)[:-1] + ', "invoices": ' + text + "}"
            st, h, body = self.server.post_json(body)
        try:
            obj = json.loads(body)
        except ValueError:
            self.fail("response is not JSON (HTTP %d): %r" % (st, body[:300]))
        return st, h, obj, body

    def assert_outcome(self, obj, doc, expect, comm=COMM):
        entry = obj["invoices"][doc]
        if expect == OK:
            return self.assert_accepted(obj, doc, comm)
        code, msg = expect
        self.assertEqual((entry.get("error_code"), entry.get("error_msg")), (code, msg), entry)
        self.assertEqual(entry.get("doc_ref_no"), "", entry)
        self.assertIn(doc, obj["invoices_error"])
        self.assertNotIn(doc, obj["invoices_success"])
        return None

    def assert_accepted(self, obj, doc, comm=COMM, description=None):
        """Checks an accepted invoice and its VA numbers (SPEC 2); returns
        the serial."""
        key, banks, va_len, ttl, _ = COMMS[comm]
        entry = obj["invoices"][doc]
        self.assertEqual((entry.get("error_code"), entry.get("error_msg")), ("0000", "success"), entry)
        ref = entry.get("doc_ref_no")
        self.assertIsInstance(ref, str)
        self.assertTrue(0 < len(ref) <= 50, ref)
        self.assertRegex(ref, REF_RE)
        self.assertIn(doc, obj["invoices_success"])
        self.assertNotIn(doc, obj["invoices_error"])
        lva = entry.get("list_va")
        self.assertIsInstance(lva, dict, entry)
        self.assertEqual(list(lva), sorted(b for b, _ in banks), entry)
        rs = datetime.datetime.strptime(obj["rs_datetime"], DT_FMT)
        serials = set()
        for bank, prefix in banks:
            va = lva[bank]
            self.assertEqual(va.get("bank_code"), bank, va)
            num = va.get("va_number")
            self.assertIsInstance(num, str, va)
            self.assertRegex(num, r"^\d+$")
            self.assertEqual(len(num), va_len, va)
            self.assertTrue(num.startswith(prefix), va)
            self.assertEqual(num[-1], luhn_digit(num[:-1]), "Luhn check digit of %s" % num)
            serials.add(int(num[len(prefix):-1]))
            self.assertRegex(va.get("expired", ""), DT_RE)
            exp = datetime.datetime.strptime(va["expired"], DT_FMT)
            diff = (exp - rs).total_seconds() - ttl * 60
            self.assertLess(abs(diff), 5, "expired %s vs rs_datetime %s, ttl %d min"
                            % (va["expired"], obj["rs_datetime"], ttl))
            if description is not None:
                self.assertEqual(va.get("description"), description, va)
            else:
                self.assertIsInstance(va.get("description"), str, va)
        self.assertEqual(len(serials), 1, "banks of one invoice share the serial: %s" % lva)
        serial = serials.pop()
        self.assertGreaterEqual(serial, 1)
        return serial

    def run_cases(self, cases, comm=COMM, form=True, ensure_ascii=True):
        """cases: list of (label, invoice or (doc_no, invoice), expect), all
        sent in one request."""
        items, expects = [], []
        for label, inv, expect in cases:
            if isinstance(inv, tuple):
                doc, inv = inv
            else:
                doc = uniq("C")
            items.append((doc, inv))
            expects.append((label, doc, expect))
        obj = self.send(items, comm=comm, form=form, ensure_ascii=ensure_ascii)
        for label, doc, expect in expects:
            with self.subTest(case=label):
                self.assert_outcome(obj, doc, expect, comm)
        return obj

    def show(self, doc, comm=COMM):
        r = cli("invoice", "show", comm, doc, db=self.db)
        if r.returncode != 0:
            return None
        return json.loads(r.stdout)

    # -- mandatory fields --------------------------------------------------------

    def test_mandatory_invoice_fields(self):
        names = [("member_code", "Member Code"), ("amount", "Amount"),
                 ("total_amount", "Total Amount"),
                 ("number_of_installment", "Number Of Installment"),
                 ("installment_amount", "Installment Amount"), ("billing_date", "Billing Date")]
        cases = []
        for member, name in names:
            cases.append((member + " absent", pairs(**{member: None}), mandatory(name)))
            for v in (None, "", "   ", "\t\r\n"):
                p = Pairs((k, (v if k == member else x)) for k, x in invoice().items())
                cases.append((member + " = %r" % v, p, mandatory(name)))
        self.run_cases(cases)
        self.run_cases(cases, form=False)

    def test_doc_no_empty(self):
        self.run_cases([
            ("empty key", ("", invoice()), mandatory("Document No")),
            ("blank key", ("   ", invoice()), mandatory("Document No")),
            ("tab key", ("\t", invoice()), mandatory("Document No")),
        ])

    def test_optional_fields_may_be_empty(self):
        cases = []
        for member in ("member_name", "balance_payment_amount", "description"):
            cases.append((member + " absent", pairs(**{member: None}), OK))
            for v in (None, "", "  "):
                p = Pairs((k, x) for k, x in invoice().items() if k != member)
                p.append((member, v))
                cases.append((member + " = %r" % v, p, OK))
        self.run_cases(cases)

    # -- formats ---------------------------------------------------------------

    def test_doc_no_format(self):
        self.run_cases([
            ("leading blank", (" " + uniq(), invoice()), bad("Document No")),
            ("trailing blank", (uniq() + " ", invoice()), bad("Document No")),
            ("33 chars", ("X" * 12 + uniq(), invoice()), bad("Document No")),
            ("control char", (uniq() + "\x01", invoice()), bad("Document No")),
            ("tab inside", ("A\tB" + uniq(), invoice()), bad("Document No")),
            ("non-ASCII", (uniq() + "\u00e9", invoice()), bad("Document No")),
            ("DEL", (uniq() + "\x7f", invoice()), bad("Document No")),
            ("32 chars", ("Y" * 11 + uniq("Z"), invoice()), OK),
            ("inner blank and punctuation", ("A B/7#-" + uniq(), invoice()), OK),
        ])

    def test_nul_escape_is_valid_json(self):
        # "\u0000" is valid JSON (RFC 8259): the invoices parse, and the
        # character is then not printable / not a letter or digit.
        self.run_cases([
            ("NUL in doc_no", (uniq() + "\x00x", invoice()), bad("Document No")),
            ("NUL in member_code", pairs(member_code="M\x001"), bad("Member Code")),
        ])

    def test_huge_json_numbers(self):
        # Numbers beyond 64 bits are still JSON: the invoice, not the
        # request, is refused (or accepted when the rule allows it).
        big = "1" + "0" * 24
        self.run_cases([
            ("amount", pairs(amount=Raw(big)), bad("Amount")),
            ("total_amount", pairs(total_amount=Raw(big + ".00")), bad("Total Amount")),
            ("number_of_installment", pairs(number_of_installment=Raw(big)), bad("Number Of Installment")),
            ("billing_date", pairs(billing_date=Raw(big)), bad("Billing Date")),
            ("member_code 33 digits", pairs(member_code=Raw("9" * 33)), bad("Member Code")),
            ("member_code 25 digits", pairs(member_code=Raw(big)), OK),
        ])

    def test_member_code_format(self):
        self.run_cases([
            ("dash", pairs(member_code="M-001"), bad("Member Code")),
            ("blank inside", pairs(member_code="M 001"), bad("Member Code")),
            ("leading blank", pairs(member_code=" M001"), bad("Member Code")),
            ("33 chars", pairs(member_code="M" * 33), bad("Member Code")),
            ("non-ASCII letter", pairs(member_code="M\u00e9"), bad("Member Code")),
            ("array", pairs(member_code=["M1"]), bad("Member Code")),
            ("object", pairs(member_code={"a": 1}), bad("Member Code")),
            ("32 chars", pairs(member_code="Mm0" * 10 + "Zz"), OK),
            ("integer", pairs(member_code=12345), OK),
        ])

    def test_member_name_and_description_length(self):
        e, emoji = "\u00e9", "\U0001F600"
        cases = []
        for member, name in (("member_name", "Member Name"), ("description", "Description")):
            cases += [
                (member + " 100 ASCII", pairs(**{member: "x" * 100}), OK),
                (member + " 100 non-ASCII", pairs(**{member: e * 100}), OK),
                (member + " 100 emoji", pairs(**{member: emoji * 100}), OK),
                (member + " 101 ASCII", pairs(**{member: "x" * 101}), bad(name)),
                (member + " 101 non-ASCII", pairs(**{member: e * 101}), bad(name)),
                (member + " 101 emoji", pairs(**{member: emoji * 101}), bad(name)),
                (member + " number", pairs(**{member: 123}), bad(name)),
            ]
        # \u escapes (surrogate pairs for the emoji) and raw UTF-8 alike.
        self.run_cases(cases, ensure_ascii=True)
        self.run_cases(cases, ensure_ascii=False)
        self.run_cases(cases, form=False, ensure_ascii=False)

    def test_money_amount(self):
        top = "999999999999999.99"
        ok = lambda v: pairs(amount=v, total_amount=top)  # noqa: E731
        self.run_cases([
            ("0", pairs(amount="0"), bad("Amount")),
            ("0.00", pairs(amount="0.00"), bad("Amount")),
            ("number 0", pairs(amount=0), bad("Amount")),
            ("-5", pairs(amount="-5"), bad("Amount")),
            ("number -5", pairs(amount=Raw("-5")), bad("Amount")),
            ("1e5", pairs(amount="1e5"), bad("Amount")),
            ("number 1e5", pairs(amount=Raw("1e5")), bad("Amount")),
            ("number 1E2", pairs(amount=Raw("1E2")), bad("Amount")),
            ("1.230", pairs(amount="1.230"), bad("Amount")),
            ("number 1.230", pairs(amount=Raw("1.230")), bad("Amount")),
            ("0.001", pairs(amount="0.001"), bad("Amount")),
            ("1.", pairs(amount="1."), bad("Amount")),
            (".5", pairs(amount=".5"), bad("Amount")),
            ("+5", pairs(amount="+5"), bad("Amount")),
            ("1,000", pairs(amount="1,000"), bad("Amount")),
            ("abc", pairs(amount="abc"), bad("Amount")),
            ("1 000", pairs(amount="1 000"), bad("Amount")),
            ("true", pairs(amount=True), bad("Amount")),
            ("array", pairs(amount=["1"]), bad("Amount")),
            ("1000000000000000", ok("1000000000000000"), bad("Amount")),
            ("number 1000000000000000", ok(Raw("1000000000000000")), bad("Amount")),
            ("1000000000000000.00", ok("1000000000000000.00"), bad("Amount")),
            ("150000.5", ok("150000.5"), OK),
            ("number 150000.50", ok(Raw("150000.50")), OK),
            ("number 20000", ok(20000), OK),
            ("0.01", ok("0.01"), OK),
            ("leading zeros", ok("020000"), OK),
            ("max", ok(top), OK),
            ("number max", ok(Raw(top)), OK),
        ])

    def test_money_kept_exact(self):
        top = "999999999999999.99"
        cases = [
            ("150000.5", pairs(amount="150000.5", total_amount=Raw("150000.50")),
             {"amount": "150000.50", "total_amount": "150000.50"}),
            ("number max", pairs(amount=Raw(top), total_amount=top, installment_amount=Raw("0.07")),
             {"amount": top, "total_amount": top, "installment_amount": "0.07"}),
            ("balance", pairs(balance_payment_amount=Raw("12345678901234.56")),
             {"balance_payment_amount": "12345678901234.56"}),
            ("balance absent", pairs(balance_payment_amount=None, amount="020000"),
             {"balance_payment_amount": None, "amount": "20000.00"}),
            ("balance 0", pairs(balance_payment_amount=0), {"balance_payment_amount": "0.00"}),
        ]
        items = [(uniq("X"), inv) for _, inv, _ in cases]
        obj = self.send(items)
        for (label, _, want), (doc, _) in zip(cases, items):
            with self.subTest(case=label):
                self.assert_accepted(obj, doc)
                got = self.show(doc)
                self.assertIsNotNone(got, "invoice show %s" % doc)
                for k, v in want.items():
                    self.assertEqual(got.get(k), v, k)
                self.assertEqual(got.get("doc_ref_no"), obj["invoices"][doc]["doc_ref_no"])

    def test_money_other_fields(self):
        self.run_cases([
            ("total 0", pairs(total_amount="0"), bad("Total Amount")),
            ("total -1", pairs(total_amount="-1"), bad("Total Amount")),
            ("total abc", pairs(total_amount="abc"), bad("Total Amount")),
            ("total 1.234", pairs(total_amount="1.234"), bad("Total Amount")),
            ("total 1e5", pairs(total_amount=Raw("1e5")), bad("Total Amount")),
            ("total too big", pairs(total_amount="1000000000000000"), bad("Total Amount")),
            ("amount > total", pairs(amount="30000", total_amount="20000"), bad("Amount")),
            ("amount > total by a cent", pairs(amount="20000.01", total_amount="20000"), bad("Amount")),
            ("amount = total", pairs(amount="20000.00", total_amount="20000"), OK),
            ("amount = total number", pairs(amount="150000.5", total_amount=Raw("150000.50")), OK),
            ("amount < total", pairs(amount="5000", total_amount="20000"), OK),
            ("installment 0", pairs(installment_amount="0"), bad("Installment Amount")),
            ("installment -1", pairs(installment_amount="-1"), bad("Installment Amount")),
            ("installment abc", pairs(installment_amount="abc"), bad("Installment Amount")),
            ("installment 1.234", pairs(installment_amount="1.234"), bad("Installment Amount")),
            ("installment 5000.5", pairs(installment_amount="5000.5"), OK),
            ("balance -1", pairs(balance_payment_amount="-1"), bad("Balance Payment Amount")),
            ("balance abc", pairs(balance_payment_amount="abc"), bad("Balance Payment Amount")),
            ("balance 1.234", pairs(balance_payment_amount="1.234"), bad("Balance Payment Amount")),
            ("balance 1e2", pairs(balance_payment_amount=Raw("1e2")), bad("Balance Payment Amount")),
            ("balance too big", pairs(balance_payment_amount="1000000000000000"),
             bad("Balance Payment Amount")),
            ("balance 0", pairs(balance_payment_amount="0"), OK),
            ("balance number 0", pairs(balance_payment_amount=0), OK),
            ("balance 0.00", pairs(balance_payment_amount="0.00"), OK),
            ("balance 150000.50", pairs(balance_payment_amount=Raw("150000.50")), OK),
        ])

    def test_money_in_json_body(self):
        self.run_cases([
            ("number 150000.50", pairs(amount=Raw("150000.50"), total_amount=Raw("150000.50")), OK),
            ("number 1.230", pairs(amount=Raw("1.230")), bad("Amount")),
            ("number 1e5", pairs(amount=Raw("1e5")), bad("Amount")),
            ("number -5", pairs(amount=Raw("-5")), bad("Amount")),
            ("number max", pairs(amount=Raw("999999999999999.99"),
                                 total_amount=Raw("999999999999999.99")), OK),
            ("number too big", pairs(total_amount=Raw("1000000000000000")), bad("Total Amount")),
        ], form=False)

    def test_number_of_installment(self):
        n = "Number Of Installment"
        self.run_cases([
            ("0", pairs(number_of_installment=0), bad(n)),
            ('"0"', pairs(number_of_installment="0"), bad(n)),
            ("1000", pairs(number_of_installment=1000), bad(n)),
            ('"1000"', pairs(number_of_installment="1000"), bad(n)),
            ("-1", pairs(number_of_installment=-1), bad(n)),
            ('"-1"', pairs(number_of_installment="-1"), bad(n)),
            ("abc", pairs(number_of_installment="abc"), bad(n)),
            ("1.5", pairs(number_of_installment=Raw("1.5")), bad(n)),
            ('"1.5"', pairs(number_of_installment="1.5"), bad(n)),
            ("true", pairs(number_of_installment=True), bad(n)),
            ("1", pairs(number_of_installment=1), OK),
            ('"1"', pairs(number_of_installment="1"), OK),
            ("999", pairs(number_of_installment=999), OK),
            ('"999"', pairs(number_of_installment="999"), OK),
            ('"12"', pairs(number_of_installment="12"), OK),
        ])

    def test_billing_date(self):
        n = "Billing Date"
        self.run_cases([
            ("0", pairs(billing_date=0), bad(n)),
            ('"0"', pairs(billing_date="0"), bad(n)),
            ("32", pairs(billing_date=32), bad(n)),
            ('"32"', pairs(billing_date="32"), bad(n)),
            ("-1", pairs(billing_date=-1), bad(n)),
            ("abc", pairs(billing_date="abc"), bad(n)),
            ('"005"', pairs(billing_date="005"), bad(n)),
            ("5.5", pairs(billing_date="5.5"), bad(n)),
            ("number 5.0", pairs(billing_date=Raw("5.0")), bad(n)),
            ("true", pairs(billing_date=True), bad(n)),
            ("1", pairs(billing_date=1), OK),
            ("31", pairs(billing_date=31), OK),
            ('"5"', pairs(billing_date="5"), OK),
            ('"05"', pairs(billing_date="05"), OK),
            ('"31"', pairs(billing_date="31"), OK),
        ])

    def test_invoice_not_an_object(self):
        # DECISIONS: checked as an invoice without members.
        self.run_cases([
            ("string", "x", mandatory("Member Code")),
            ("number", 5, mandatory("Member Code")),
            ("null", None, mandatory("Member Code")),
            ("array", [invoice()], mandatory("Member Code")),
            ("empty object", {}, mandatory("Member Code")),
            ("bad doc_no first", (" " + uniq(), "x"), bad("Document No")),
        ])

    # -- order of the checks inside an invoice --------------------------------------

    def test_invoice_checks_in_table_order(self):
        self.run_cases([
            ("doc_no bad + member_code missing", (uniq() + " ", pairs(member_code=None)), bad("Document No")),
            ("member_code bad + amount missing", pairs(member_code="M-1", amount=None), bad("Member Code")),
            ("member_code missing + amount bad", pairs(member_code=None, amount="-1"), mandatory("Member Code")),
            ("member_name long + amount missing", pairs(member_name="x" * 101, amount=None), bad("Member Name")),
            ("amount bad + total missing", pairs(amount="abc", total_amount=None), bad("Amount")),
            ("amount missing + total bad", pairs(amount=None, total_amount="abc"), mandatory("Amount")),
            ("total bad + amount > total", pairs(amount="30000", total_amount="abc"), bad("Total Amount")),
            ("amount > total + installments missing",
             pairs(amount="30000", total_amount="20000", number_of_installment=None), bad("Amount")),
            ("installments bad + installment amount missing",
             pairs(number_of_installment=0, installment_amount=None), bad("Number Of Installment")),
            ("installment amount bad + balance bad",
             pairs(installment_amount="0", balance_payment_amount="-1"), bad("Installment Amount")),
            ("balance bad + description long",
             pairs(balance_payment_amount="-1", description="x" * 101), bad("Balance Payment Amount")),
            ("description long + billing_date missing",
             pairs(description="x" * 101, billing_date=None), bad("Description")),
            ("all missing", Pairs(), mandatory("Member Code")),
            ("only billing_date bad", pairs(billing_date=40), bad("Billing Date")),
        ])

    def test_progressive_faults(self):
        # Every field faulty; fix them one at a time in table order.
        faults = [("member_code", "M-1", "Member Code"), ("member_name", "n" * 101, "Member Name"),
                  ("amount", "0", "Amount"), ("total_amount", "-1", "Total Amount"),
                  ("number_of_installment", "1000", "Number Of Installment"),
                  ("installment_amount", "1.234", "Installment Amount"),
                  ("balance_payment_amount", "x", "Balance Payment Amount"),
                  ("description", "d" * 101, "Description"), ("billing_date", "32", "Billing Date")]
        cases = []
        inv = dict(invoice(), **{m: v for m, v, _ in faults})
        cases.append(("doc_no", (" P" + uniq(), dict(inv)), bad("Document No")))
        for member, _, name in faults:
            cases.append((name, dict(inv), bad(name)))
            inv[member] = invoice(balance_payment_amount="0")[member]
        cases.append(("none", dict(inv), OK))
        self.run_cases(cases)

    # -- aliases, repeated and unknown members -------------------------------------

    def test_indonesian_aliases_alone(self):
        aliases = [("number_of_installment", "jumlah_cicilan", 3, "number_of_installment", "3"),
                   ("installment_amount", "amount_cicilan", "5000", "installment_amount", "5000.00"),
                   ("balance_payment_amount", "pelunasan_amount", "7000.5",
                    "balance_payment_amount", "7000.50"),
                   ("billing_date", "tanggal_penagihan", "17", "billing_date", "17")]
        items = []
        for eng, ind, val, shown, want in aliases:
            p = Pairs((k, v) for k, v in invoice().items() if k != eng)
            p.append((ind, val))
            items.append((uniq("AL"), p))
        obj = self.send(items)
        for (eng, ind, val, shown, want), (doc, _) in zip(aliases, items):
            with self.subTest(alias=ind):
                self.assert_accepted(obj, doc)
                got = self.show(doc)
                self.assertIsNotNone(got)
                self.assertEqual(str(got.get(shown)), want, got)

    def test_indonesian_aliases_conflicts(self):
        cases = []
        for eng, ind, v1, v2, name in (
                ("number_of_installment", "jumlah_cicilan", 1, 2, "Number Of Installment"),
                ("installment_amount", "amount_cicilan", "20000", "10000", "Installment Amount"),
                ("balance_payment_amount", "pelunasan_amount", "0", "5", "Balance Payment Amount"),
                ("billing_date", "tanggal_penagihan", 5, 6, "Billing Date")):
            base = Pairs((k, v) for k, v in invoice().items() if k != eng)
            cases.append((ind + " different", Pairs(base + [(eng, v1), (ind, v2)]), bad(name)))
            cases.append((ind + " different, alias first", Pairs(base + [(ind, v2), (eng, v1)]), bad(name)))
            cases.append((ind + " same", Pairs(base + [(eng, v1), (ind, v1)]), OK))
        cases += [
            ("jumlah_cicilan invalid", Pairs([(k, v) for k, v in invoice().items()
                                              if k != "number_of_installment"] + [("jumlah_cicilan", 0)]),
             bad("Number Of Installment")),
            ("tanggal_penagihan invalid", Pairs([(k, v) for k, v in invoice().items()
                                                 if k != "billing_date"] + [("tanggal_penagihan", 40)]),
             bad("Billing Date")),
            ("amount_cicilan invalid", Pairs([(k, v) for k, v in invoice().items()
                                              if k != "installment_amount"] + [("amount_cicilan", "-1")]),
             bad("Installment Amount")),
            ("pelunasan_amount invalid", Pairs(pairs() + [("pelunasan_amount", "x")]),
             bad("Balance Payment Amount")),
        ]
        self.run_cases(cases)

    def test_member_given_twice(self):
        def twice(member, v1, v2, **over):
            p = pairs(**over)
            p.append((member, v1))
            p.append((member, v2))
            return Pairs((k, v) for i, (k, v) in enumerate(p)
                         if k != member or i >= len(p) - 2)
        self.run_cases([
            ("member_code same value", twice("member_code", "M1", "M1"), bad("Member Code")),
            ("amount different", twice("amount", "20000", "10000"), bad("Amount")),
            ("member_name", twice("member_name", "A", "B"), bad("Member Name")),
            ("description", twice("description", "A", "A"), bad("Description")),
            ("billing_date", twice("billing_date", 5, 5), bad("Billing Date")),
            ("balance", twice("balance_payment_amount", "0", "0"), bad("Balance Payment Amount")),
            ("jumlah_cicilan twice", twice("jumlah_cicilan", 1, 1, number_of_installment=None),
             bad("Number Of Installment")),
            ("description twice + amount missing", twice("description", "A", "B", amount=None),
             mandatory("Amount")),
            ("amount twice + member_code bad", twice("amount", "1", "1", member_code="M-1"),
             bad("Member Code")),
        ])
        self.run_cases([("member_code twice, JSON body", twice("member_code", "M1", "M2"),
                         bad("Member Code"))], form=False)

    def test_unknown_members_ignored(self):
        self.run_cases([
            ("unknown members", Pairs(pairs() + [("foo", "bar"), ("nested", {"a": [1, 2]}),
                                                 ("amount_x", "-1"), ("Amount", "abc"),
                                                 ("AMOUNT", None), ("status", "paid")]), OK),
        ])

    # -- 0002 -----------------------------------------------------------------------

    def test_document_already_listed(self):
        d, refused = uniq("K"), uniq("K")
        obj = self.send([(d, invoice()), (refused, invoice(amount="0"))])
        self.assert_accepted(obj, d)
        self.assert_outcome(obj, refused, bad("Amount"))
        self.assertIsNone(self.show(refused))
        other = uniq("K")
        obj = self.send([(d, invoice()), (refused, invoice()), (other, invoice())])
        self.assert_outcome(obj, d, ALREADY)
        self.assert_accepted(obj, refused)
        self.assert_accepted(obj, other)
        # Fields are checked before the doc_no lookup.
        obj = self.send([(d, invoice(amount="0")), (other, invoice(member_code=None))])
        self.assert_outcome(obj, d, bad("Amount"))
        self.assert_outcome(obj, other, mandatory("Member Code"))
        # Whole batch failing is still 0000 at the top (checked by send).
        obj = self.send([(d, invoice()), (other, invoice())])
        self.assert_outcome(obj, d, ALREADY)
        self.assert_outcome(obj, other, ALREADY)
        self.assertEqual(obj["invoices_success"], {})
        # Doc_nos are per community.
        obj = self.send([(d, invoice())], comm="SGWTWO")
        self.assert_accepted(obj, d, "SGWTWO")
        self.assertNotEqual(self.show(d)["doc_ref_no"], self.show(d, "SGWTWO")["doc_ref_no"])

    def test_every_invoice_failing_is_still_0000(self):
        items = [(uniq("F"), invoice(amount="-1")), (uniq("F"), invoice(member_code=None)),
                 (" " + uniq("F"), invoice())]
        obj = self.send(items)
        self.assertEqual(obj["invoices_success"], {})
        self.assertEqual(list(obj["invoices_error"]), [d for d, _ in items])
        self.assertEqual(obj["total_invoice"], "3")

    # -- VA numbers (SPEC 2) ------------------------------------------------------------

    def test_luhn_helper_matches_spec_example(self):
        for num in ("6280600000012349", "8871200000012349"):
            self.assertEqual(luhn_digit(num[:-1]), num[-1])

    def test_va_numbers(self):
        d1, d2 = uniq("V"), uniq("V")
        obj = self.send([(d1, invoice()), (d2, invoice(description=None))])
        s1 = self.assert_accepted(obj, d1, description="VA Payment Test")
        s2 = self.assert_accepted(obj, d2, description="")
        self.assertGreater(s2, s1)
        for doc in (d1, d2):
            lva = obj["invoices"][doc]["list_va"]
            self.assertEqual(set(lva["008"]), {"bank_code", "va_number", "expired", "description"})
            self.assertEqual(lva["008"]["va_number"][5:-1], lva["009"]["va_number"][5:-1])
            shown = self.show(doc)
            self.assertIsNotNone(shown)
            self.assertEqual(sorted((v["bank_code"], v["va_number"]) for v in shown["list_va"]),
                             sorted((b, v["va_number"]) for b, v in lva.items()))
            self.assertEqual(shown["expired"], lva["008"]["expired"])
        # rs_datetime is the server's time at +07:00.
        rs = datetime.datetime.strptime(obj["rs_datetime"], DT_FMT)
        ref = datetime.datetime.strptime(now_local(), DT_FMT)
        self.assertLess(abs((rs - ref).total_seconds()), 10)
        obj = self.send([(uniq("V"), invoice(description=None, member_name=None)),
                         (uniq("V"), Pairs(list(pairs(description=None)) + [("description", None)]))])
        for doc in obj["invoices"]:
            self.assert_accepted(obj, doc, description="")
        desc = "\u00e9\U0001F600 \"quoted\" \\ <tag> &amp;"
        d3 = uniq("V")
        obj = self.send([(d3, invoice(description=desc))])
        self.assert_accepted(obj, d3, description=desc)

    def test_serials_sequence(self):
        # Community SEQ is used by this test only: serials start at 1.
        # Its prefixes differ in length (4 and 2 digits): each VA is 16 digits.
        a, b, c = uniq("S"), uniq("S"), uniq("S")
        obj = self.send([(a, invoice()), (b, invoice(amount="0")), (c, invoice())], comm="SEQ")
        self.assertEqual(self.assert_accepted(obj, a, "SEQ"), 1)
        self.assert_outcome(obj, b, bad("Amount"), "SEQ")
        self.assertEqual(self.assert_accepted(obj, c, "SEQ"), 2)
        lva = obj["invoices"][a]["list_va"]
        self.assertEqual(lva["008"]["va_number"][4:-1], "0" * 10 + "1")
        self.assertEqual(lva["009"]["va_number"][2:-1], "0" * 12 + "1")
        d = uniq("S")
        obj = self.send([(a, invoice()), (d, invoice())], comm="SEQ")
        self.assert_outcome(obj, a, ALREADY, "SEQ")
        self.assertEqual(self.assert_accepted(obj, d, "SEQ"), 3)
        # A rejected request consumes nothing.
        e = uniq("S")
        st, h, rej, raw = self.send_raw([(e, invoice())], comm="SEQ", ccy="USD")
        self.assertEqual(rej["error_code"], "0006", raw)
        st, h, rej, raw = self.send_raw([(e, invoice())], comm="SEQ", total=2)
        self.assertEqual(rej["error_code"], "0007", raw)
        obj = self.send([(e, invoice())], comm="SEQ", form=False)
        self.assertEqual(self.assert_accepted(obj, e, "SEQ"), 4)

    def test_va_length_and_ttl(self):
        d = uniq("L")
        obj = self.send([(d, invoice())], comm="LEN20")
        self.assertEqual(self.assert_accepted(obj, d, "LEN20"), 1)
        self.assertEqual(len(obj["invoices"][d]["list_va"]["002"]["va_number"]), 20)
        d = uniq("T")
        obj = self.send([(d, invoice())], comm="TTL")
        self.assert_accepted(obj, d, "TTL")  # expired = accepted + 60 minutes
        self.assertEqual(list(obj["invoices"][d]["list_va"]), ["008", "014"])

    def test_va_numbers_exhausted(self):
        # EXH: prefix of 12 digits, VA length 14: serial width 1, serials 1-9.
        docs = [uniq("E%d" % i) for i in range(11)]
        items = [(docs[0], invoice()), (docs[1], invoice()), (docs[2], invoice(amount="x"))]
        items += [(d, invoice()) for d in docs[3:]]
        obj = self.send(items, comm="EXH")
        serials = [self.assert_accepted(obj, d, "EXH") for d in docs[:2] + docs[3:10]]
        self.assertEqual(serials, list(range(1, 10)))
        self.assert_outcome(obj, docs[2], bad("Amount"), "EXH")
        self.assert_outcome(obj, docs[10], EXHAUSTED, "EXH")
        va = obj["invoices"][docs[3]]["list_va"]["008"]["va_number"]
        self.assertEqual(va[:13], "1234567890123")
        self.assertIsNone(self.show(docs[10], "EXH"))
        # Later requests: field errors and 0002 still come first.
        new = uniq("E")
        obj = self.send([(new, invoice(member_code=None)), (docs[0], invoice()),
                         (docs[10], invoice())], comm="EXH")
        self.assert_outcome(obj, new, mandatory("Member Code"), "EXH")
        self.assert_outcome(obj, docs[0], ALREADY, "EXH")
        self.assert_outcome(obj, docs[10], EXHAUSTED, "EXH")

    # -- response shape ---------------------------------------------------------------

    def test_response_order_and_split(self):
        u = uuid.uuid4().hex[:8]
        items = [("Z9" + u, invoice()), ("a1" + u, invoice(amount="-1")), ("M5" + u, invoice()),
                 ("10" + u, invoice(member_code=None)), ("2" + u, invoice()), ("B" + u, invoice()),
                 ("0" + u, invoice(billing_date=99))]
        obj = self.send(items)  # order and split checked in send()
        self.assertEqual(list(obj["invoices_success"]), ["Z9" + u, "M5" + u, "2" + u, "B" + u])
        self.assertEqual(list(obj["invoices_error"]), ["a1" + u, "10" + u, "0" + u])
        self.assertEqual(obj["total_invoice"], "7")
        serials = [self.assert_accepted(obj, d) for d in obj["invoices_success"]]
        self.assertEqual(serials, sorted(serials))
        self.assertEqual(len(set(serials)), len(serials))
        refs = [e["doc_ref_no"] for e in obj["invoices_success"].values()]
        self.assertEqual(len(set(refs)), len(refs))
        st, h, _, raw = self.send_raw([(uniq(), invoice())])
        self.assertTrue(h.get("content-type", "").startswith("application/json"), h)

    def test_batch_of_500(self):
        items = [(uniq("N%03d" % (499 - i)), invoice(member_code="M%d" % i)) for i in range(500)]
        obj = self.send(items, comm="BIG", total="500")
        serials = [self.assert_accepted(obj, d, "BIG") for d, _ in items]
        self.assertEqual(serials, sorted(serials))
        self.assertEqual(len(set(serials)), 500)
        refs = {e["doc_ref_no"] for e in obj["invoices"].values()}
        self.assertEqual(len(refs), 500)
        self.assertEqual(obj["total_invoice"], "500")

    def test_batch_of_501_refused(self):
        items = [(uniq("O"), invoice()) for _ in range(501)]
        for total in (500, 501):
            with self.subTest(total=total):
                st, h, obj, raw = self.send_raw(items, total=total)
                self.assertEqual((obj.get("error_code"), obj.get("error_message")),
                                 ("0008", "Maximum 500 invoices per request"), raw[:300])
                self.assertEqual(obj["invoices"], {})
                self.assertEqual(obj["total_invoice"], "0")
        self.assertIsNone(self.show(items[0][0]))
        self.assertIsNone(self.show(items[-1][0]))

    def test_doc_ref_no_unique_across_communities(self):
        refs = []
        for comm in (COMM, "SGWTWO", "TTL"):
            docs = [uniq("U"), uniq("U")]
            obj = self.send([(d, invoice()) for d in docs], comm=comm)
            for d in docs:
                self.assert_accepted(obj, d, comm)
                refs.append(obj["invoices"][d]["doc_ref_no"])
        self.assertEqual(len(set(refs)), len(refs))


if __name__ == "__main__":
    unittest.main()
