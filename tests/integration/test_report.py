"""Operators and reconciliation reports (issue 9; docs/REPORTS.md,
docs/ADMIN.md): `vabill operator add | list | remove`, `vabill report
payments` and `vabill report invoices`.

Invoices are sent to the real vabilld and paid with `vabill pay`; every
row and total of the report must equal what the test paid.  Runs on SQLite
and, with VABILL_TEST_PG=1, on PostgreSQL.
"""
import csv
import datetime
import io
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

from harness import (COMM, KEY, VABILL, Server, add_community, cli, db_exec, db_url, invoice,
                     now_local, send, sqlite_only)

BANK_KEYS = {"008": "bk008MandiriKey01", "009": "bk009BniKey0002"}
PCOMM, PKEY, PBANKS = "PARTIAL", "partialKey7777", ["008:71234", "009:55501"]
TOKEN_RE = re.compile(r"^vbo_[0-9a-f]{64}$")
DT_RE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
PAY_HEADER = ["paid_at", "comm_code", "doc_no", "doc_ref_no", "bank_code", "va_number",
              "payment_ref", "amount", "outstanding_after", "status"]
INV_HEADER = ["accepted_at", "comm_code", "doc_no", "doc_ref_no", "member_code", "member_name",
              "amount", "outstanding", "expires_at", "age_days", "expired"]


def cli_bytes(*args, db):
    """Runs vabill like harness.cli, but keeps standard output's bytes as
    they are (CRLF included), decoded as UTF-8."""
    e = dict(os.environ)
    e.pop("VABILL_DB", None)
    r = subprocess.run([VABILL, "--db", db_url(db)] + list(args), capture_output=True,
                       timeout=60, env=e)
    return subprocess.CompletedProcess(r.args, r.returncode, r.stdout.decode("utf-8"),
                                       r.stderr.decode("utf-8"))


def cents(text):
    """Money text ("150000.5", "20000") as integer hundredths, exactly."""
    whole, _, frac = text.partition(".")
    return int(whole) * 100 + int((frac + "00")[:2])


def money(h):
    return "%d.%02d" % (h // 100, h % 100)


def offset_text(minutes):
    sign = "-" if minutes < 0 else "+"
    return "%s%02d:%02d" % (sign, abs(minutes) // 60, abs(minutes) % 60)


def local_day(minutes, delta_days=0):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(
        minutes=minutes, days=delta_days)
    return t.strftime("%Y-%m-%d")


def parse_csv_report(text):
    """(rows as dicts, totals as (kind, code, count, amount) tuples); checks
    the layout: header, rows, one empty line, totals header, totals."""
    assert "\r\n" in text, "CSV lines end with CRLF"
    body, sep, tail = text.partition("\r\n\r\ntotal,")
    assert sep, "no empty line before the totals: %r" % text
    records = list(csv.reader(io.StringIO(body + "\r\n", newline="")))
    header, rows = records[0], records[1:]
    totals = list(csv.reader(io.StringIO("total," + tail, newline="")))
    return header, [dict(zip(header, r)) for r in rows], totals


def unguard(v):
    """The CSV field as stored: without the leading ' of the formula guard."""
    return v[1:] if v[:2] in ("'=", "'+", "'-", "'@") else v


class OperatorTests(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vabill-op-")
        self.db = os.path.join(self.tmp, "vabill.db")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def add(self, name):
        r = cli("operator", "add", name, db=self.db)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 2, r.stdout)
        self.assertIn(name, lines[0])
        self.assertIn("once", lines[0])
        self.assertRegex(lines[1], TOKEN_RE)
        return lines[1]

    def names(self):
        r = cli("--utc-offset", "+07:00", "operator", "list", db=self.db)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = []
        for line in r.stdout.splitlines():
            name, when = line.split(" ", 1)
            self.assertRegex(when, DT_RE)
            out.append(name)
        return out, r.stdout

    def test_add_list_remove(self):
        before = now_local(420, -2)
        t1 = self.add("alice")
        t2 = self.add("bob.ops_2-x")
        self.assertNotEqual(t1, t2)
        names, text = self.names()
        self.assertEqual(names, ["alice", "bob.ops_2-x"])
        for t in (t1, t2):
            self.assertNotIn(t, text)
            self.assertNotIn(t[4:], text)
        # created now, shown at the offset
        when = text.splitlines()[0].split(" ", 1)[1]
        self.assertTrue(before <= when <= now_local(420, 2), (before, when))

        r = cli("operator", "remove", "alice", db=self.db)
        self.assertEqual((r.returncode, r.stdout), (0, "operator alice removed\n"), r.stderr)
        self.assertEqual(self.names()[0], ["bob.ops_2-x"])
        r = cli("operator", "remove", "alice", db=self.db)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, "vabill: no operator alice\n")
        self.assertEqual(r.stdout, "")
        # the name is free again, with a new token
        self.assertNotEqual(self.add("alice"), t1)

    def test_duplicate_name(self):
        self.add("carol")
        r = cli("operator", "add", "carol", db=self.db)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertEqual(r.stdout, "")
        self.assertTrue(r.stderr.startswith("vabill: "), r.stderr)
        self.assertEqual(len(r.stderr.splitlines()), 1)
        self.assertEqual(self.names()[0], ["carol"])

    def test_bad_names_are_usage_errors(self):
        for name in ["", "a/b", "na me", "x" * 65, "caf\u00e9", "a:b", "<script>"]:
            for sub in ("add", "remove"):
                with self.subTest(name=name, sub=sub):
                    r = cli("operator", sub, name, db=self.db)
                    self.assertEqual(r.returncode, 2, r.stderr)
                    self.assertEqual(r.stdout, "")
                    self.assertTrue(r.stderr.startswith("vabill: "), r.stderr)
        self.add("y" * 64)
        for argv in (["operator"], ["operator", "add"], ["operator", "add", "a", "b"],
                     ["operator", "list", "x"], ["operator", "rename", "a"]):
            r = cli(*argv, db=self.db)
            self.assertEqual(r.returncode, 2, (argv, r.stderr))
            self.assertEqual(r.stdout, "")

    @sqlite_only
    def test_only_a_hash_is_stored(self):
        token = self.add("dave")
        for f in os.listdir(self.tmp):
            with open(os.path.join(self.tmp, f), "rb") as fh:
                data = fh.read()
            self.assertNotIn(token.encode(), data, f)
            self.assertNotIn(token[4:].encode(), data, f)


class ReportCase(unittest.TestCase):
    """Communities SGWTES (exact payments) and PARTIAL (partial payments),
    banks 008 and 009, a server at OFFSET; the CLI uses the same offset."""

    OFFSET = 420

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vabill-report-")
        self.db = os.path.join(self.tmp, "vabill.db")
        add_community(self.db)
        add_community(self.db, PCOMM, PKEY, PBANKS, extra=["--partial-payments"])
        for b, k in sorted(BANK_KEYS.items()):
            r = cli("bank", "add", b, "--key", k, db=self.db)
            self.assertEqual(r.returncode, 0, r.stderr)
        self.off = offset_text(self.OFFSET)
        self.server = Server(self.db, ["--utc-offset", self.off])
        self.url = "http://%s:%d" % (self.server.host, self.server.port)
        self.paid = []  # what the test paid, in order

    def tearDown(self):
        self.server.__exit__(None, None, None)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def new_invoice(self, doc, amount, comm=COMM, key=KEY, **over):
        inv = invoice(amount=amount, total_amount=amount, installment_amount=amount, **over)
        st, h, obj, raw = send(self.server, {doc: inv}, comm_code=comm, key=key,
                               rq_datetime=now_local(self.OFFSET))
        self.assertEqual(obj["error_code"], "0000", obj)
        res = obj["invoices"][doc]
        self.assertEqual(res["error_code"], "0000", res)
        return {"doc": doc, "comm": comm, "key": key, "ref": res["doc_ref_no"],
                "outstanding": cents(amount),
                "va": {b: v["va_number"] for b, v in res["list_va"].items()}}

    def pay(self, inv, bank, amount, ref):
        r = cli("--utc-offset", self.off, "pay", "--url", self.url, "--bank", bank,
                "--key", BANK_KEYS[bank], inv["va"][bank], amount, "--payment-ref", ref)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        inv["outstanding"] -= cents(amount)
        self.paid.append({"comm_code": inv["comm"], "doc_no": inv["doc"],
                          "doc_ref_no": inv["ref"], "bank_code": bank,
                          "va_number": inv["va"][bank], "payment_ref": ref,
                          "amount": money(cents(amount)),
                          "outstanding_after": money(inv["outstanding"]),
                          "status": "paid" if inv["outstanding"] == 0 else "partial"})

    def report(self, *args, ok=True):
        r = cli_bytes("--utc-offset", self.off, "report", *args, db=self.db)
        if ok:
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stderr, "")
        return r

    def expected_totals(self, rows):
        banks, comms = {}, {}
        for p in rows:
            for table, code in ((banks, p["bank_code"]), (comms, p["comm_code"])):
                n, s = table.get(code, (0, 0))
                table[code] = (n + 1, s + cents(p["amount"]))
        return banks, comms, (len(rows), sum(cents(p["amount"]) for p in rows))

    def check_csv(self, text, want):
        header, rows, totals = parse_csv_report(text)
        self.assertEqual(header, PAY_HEADER)
        self.assertEqual(len(rows), len(want), text)
        today = local_day(self.OFFSET)
        for got, exp in zip(rows, want):
            self.assertRegex(got["paid_at"], DT_RE)
            self.assertEqual(got["paid_at"][:10], today)
            got = {k: unguard(v) for k, v in got.items() if k != "paid_at"}
            self.assertEqual(got, exp)
        banks, comms, alltot = self.expected_totals(want)
        want_totals = [["total", "code", "payments", "amount"]]
        want_totals += [["bank", c, str(n), money(s)] for c, (n, s) in sorted(banks.items())]
        want_totals += [["community", c, str(n), money(s)]
                        for c, (n, s) in sorted(comms.items())]
        want_totals.append(["all", "", str(alltot[0]), money(alltot[1])])
        self.assertEqual(totals, want_totals)
        # paid_at ascends
        self.assertEqual([r["paid_at"] for r in rows], sorted(r["paid_at"] for r in rows))
        return rows

    def check_json(self, text, want, day_from, day_to):
        self.assertTrue(text.endswith("}\n"), text[-20:])
        obj = json.loads(text)
        self.assertEqual(list(obj), ["from", "to", "utc_offset", "payments", "totals"])
        self.assertEqual((obj["from"], obj["to"], obj["utc_offset"]), (day_from, day_to, self.off))
        self.assertEqual(len(obj["payments"]), len(want))
        for got, exp in zip(obj["payments"], want):
            self.assertEqual(list(got), PAY_HEADER)
            self.assertRegex(got["paid_at"], DT_RE)
            self.assertEqual({k: v for k, v in got.items() if k != "paid_at"}, exp)
        banks, comms, alltot = self.expected_totals(want)
        self.assertEqual(obj["totals"], {
            "banks": [{"bank_code": c, "payments": n, "amount": money(s)}
                      for c, (n, s) in sorted(banks.items())],
            "communities": [{"comm_code": c, "payments": n, "amount": money(s)}
                            for c, (n, s) in sorted(comms.items())],
            "all": {"payments": alltot[0], "amount": money(alltot[1])}})
        return obj


class PaymentsReportTests(ReportCase):

    def setUp(self):
        super().setUp()
        a = self.new_invoice("INV-A", "20000")
        b = self.new_invoice("=SUM(1,2)", "35000.5")
        c = self.new_invoice("INV-C", "20000")  # never paid
        p1 = self.new_invoice("P-1", "100000", PCOMM, PKEY)
        p2 = self.new_invoice("P-2", "50000", PCOMM, PKEY)
        self.pay(a, "008", "20000", "REF-A")
        self.pay(b, "009", "35000.50", '-REF,"B"')
        self.pay(p1, "008", "30000.25", "REF-P1a")
        self.pay(p2, "009", "10000", "@REF-P2")
        self.pay(p1, "009", "69999.75", "REF-P1b")
        self.assertEqual(c["outstanding"], 2000000)
        self.today = local_day(self.OFFSET)

    def test_csv_rows_and_totals_equal_the_payments(self):
        r = self.report("payments", "--from", self.today, "--to", self.today)
        rows = self.check_csv(r.stdout, self.paid)
        # partner text is quoted and guarded in the file itself
        raw = r.stdout.split("\r\n")
        self.assertIn("\"'=SUM(1,2)\"", raw[2])
        self.assertIn("\"'-REF,\"\"B\"\"\"", raw[2])
        self.assertIn(",'@REF-P2,", raw[4])
        self.assertEqual([x["status"] for x in rows],
                         ["paid", "paid", "partial", "partial", "paid"])
        self.assertEqual(raw[-6:], ["bank,008,2,50000.25", "bank,009,3,115000.25",
                                    "community,PARTIAL,3,110000.00",
                                    "community,SGWTES,2,55000.50", "all,,5,165000.50", ""])
        # --format csv is the default
        self.assertEqual(self.report("payments", "--from", self.today, "--to", self.today,
                                     "--format", "csv").stdout, r.stdout)

    def test_json_rows_and_totals_equal_the_payments(self):
        r = self.report("payments", "--from", self.today, "--to", self.today, "--format", "json")
        obj = self.check_json(r.stdout, self.paid, self.today, self.today)
        self.assertEqual(obj["totals"]["all"], {"payments": 5, "amount": "165000.50"})
        # the same rows as the CSV, the same times
        c = self.report("payments", "--from", self.today, "--to", self.today)
        header, rows, totals = parse_csv_report(c.stdout)
        self.assertEqual([{k: unguard(v) for k, v in x.items()} for x in rows], obj["payments"])

    def test_filters(self):
        day = self.today
        cases = [
            (["--community", PCOMM], lambda p: p["comm_code"] == PCOMM),
            (["--community", COMM], lambda p: p["comm_code"] == COMM),
            (["--bank", "009"], lambda p: p["bank_code"] == "009"),
            (["--bank", "008", "--community", PCOMM],
             lambda p: p["bank_code"] == "008" and p["comm_code"] == PCOMM),
        ]
        for args, keep in cases:
            with self.subTest(args=args):
                want = [p for p in self.paid if keep(p)]
                self.assertTrue(want)
                r = self.report("payments", "--from", day, "--to", day, *args)
                self.check_csv(r.stdout, want)
                r = self.report("payments", "--from", day, "--to", day, "--format", "json", *args)
                self.check_json(r.stdout, want, day, day)

    def test_unknown_filter_values(self):
        day = self.today
        for args, msg in ((["--community", "NOPE"], "vabill: no community NOPE\n"),
                          (["--bank", "014"], "vabill: no bank 014\n")):
            r = self.report("payments", "--from", day, "--to", day, *args, ok=False)
            self.assertEqual((r.returncode, r.stdout, r.stderr), (1, "", msg))

    def test_days_around_today(self):
        yesterday, tomorrow = local_day(self.OFFSET, -1), local_day(self.OFFSET, 1)
        r = self.report("payments", "--from", yesterday, "--to", tomorrow)
        self.check_csv(r.stdout, self.paid)
        for d in (yesterday, tomorrow):
            with self.subTest(day=d):
                r = self.report("payments", "--from", d, "--to", d)
                self.check_csv(r.stdout, [])
                self.assertEqual(r.stdout.splitlines()[-1], "all,,0,0.00")
                r = self.report("payments", "--from", d, "--to", d, "--format", "json")
                self.check_json(r.stdout, [], d, d)

    def test_usage_errors_write_nothing(self):
        day = self.today
        cases = [
            ["payments"],
            ["payments", "--from", day],
            ["payments", "--to", day],
            ["payments", "--from", "2026-02-30", "--to", day],
            ["payments", "--from", day, "--to", "tomorrow"],
            ["payments", "--from", "2026-1-01", "--to", day],
            ["payments", "--from", local_day(self.OFFSET, 1), "--to", day],
            ["payments", "--from", day, "--to", day, "--format", "xml"],
            ["payments", "--from", day, "--to", day, "--format"],
            ["payments", "--from", day, "--to", day, "--bank", "8"],
            ["payments", "--from", day, "--to", day, "--community", "a,b"],
            ["payments", "--from", day, "--to", day, "--frobnicate", "1"],
            ["payments", "--from", day, "--to", day, "extra"],
            ["invoices", "--from", day],
            ["invoices", "--bank", "008"],
            ["invoices", "--format", "pdf"],
            ["ledger"],
            [],
        ]
        for args in cases:
            with self.subTest(args=args):
                r = self.report(*args, ok=False)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertEqual(r.stdout, "")
                self.assertTrue(r.stderr.startswith("vabill: "), r.stderr)
                self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)


class DayCutTests(ReportCase):
    """An offset at which today's local date is not the UTC date: the day is
    cut at the server's offset, not at UTC midnight."""

    OFFSET = 14 * 60 if time.gmtime().tm_hour >= 10 else -12 * 60

    def test_payment_counts_on_the_local_day(self):
        inv = self.new_invoice("CUT-1", "12345.67")
        before = local_day(self.OFFSET)
        self.pay(inv, "008", "12345.67", "REF-CUT")
        today = local_day(self.OFFSET)
        if before != today:
            self.skipTest("local midnight passed during the test")
        utc_day = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
        self.assertNotEqual(utc_day, today)
        r = self.report("payments", "--from", today, "--to", today)
        rows = self.check_csv(r.stdout, self.paid)
        self.assertEqual(rows[0]["paid_at"][:10], today)
        r = self.report("payments", "--from", utc_day, "--to", utc_day, "--format", "json")
        self.check_json(r.stdout, [], utc_day, utc_day)
        other = local_day(self.OFFSET, -1 if self.OFFSET > 0 else 1)
        self.assertEqual(other, utc_day)
        # the same instant seen from UTC falls on the UTC day
        r = cli_bytes("--utc-offset", "+00:00", "report", "payments", "--from", utc_day, "--to",
                      utc_day, db=self.db)
        self.assertEqual(r.returncode, 0, r.stderr)
        header, rows0, totals = parse_csv_report(r.stdout)
        self.assertEqual(len(rows0), 1)
        self.assertEqual(rows0[0]["paid_at"][:10], utc_day)
        self.assertEqual(totals[-1], ["all", "", "1", "12345.67"])


class InvoicesReportTests(ReportCase):

    def setUp(self):
        super().setUp()
        self.old = self.new_invoice("OLD-1", "7000")                 # open, 3 days old
        self.paid_inv = self.new_invoice("PAID-1", "20000")          # paid: not listed
        self.part = self.new_invoice("PART-1", "50000", PCOMM, PKEY)  # partly paid
        self.gone = self.new_invoice("EXP-1", "9000.10")             # expired
        self.shut = self.new_invoice("CLOSED-1", "1000")             # closed: not listed
        self.fresh = self.new_invoice("NEW-1", "30000.05", member_name="Sri, \"Wati\"")
        self.pay(self.paid_inv, "008", "20000", "R-PAID")
        self.pay(self.part, "009", "12500.50", "R-PART")
        # moved into the past as a whole: expires_at stays accepted_at plus
        # the community's TTL (43200 minutes), as the store keeps it
        now, ttl = int(time.time()), 43200 * 60
        for doc, accepted in (("OLD-1", now - 3 * 86400), ("EXP-1", now - 31 * 86400)):
            self.assertEqual(db_exec(
                self.db, "UPDATE invoice SET accepted_at = ?, expires_at = ? WHERE doc_no = ?",
                (accepted, accepted + ttl, doc)), 1)
        r = cli("--utc-offset", self.off, "close", "--url", self.url, "--comm-code", COMM,
                "--key", KEY, "CLOSED-1")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def expected(self, comm=None):
        # open ones newest first, then the expired ones
        rows = [(self.fresh, 0, "no"), (self.part, 0, "no"), (self.old, 3, "no"),
                (self.gone, 31, "yes")]
        return [(i, age, exp) for i, age, exp in rows if comm is None or i["comm"] == comm]

    def test_csv(self):
        r = self.report("invoices")
        header, rows, totals = parse_csv_report(r.stdout)
        self.assertEqual(header, INV_HEADER)
        want = self.expected()
        self.assertEqual([x["doc_no"] for x in rows], [i["doc"] for i, a, e in want])
        for got, (inv, age, exp) in zip(rows, want):
            self.assertEqual(got["comm_code"], inv["comm"])
            self.assertEqual(got["doc_ref_no"], inv["ref"])
            self.assertEqual(got["outstanding"], money(inv["outstanding"]))
            self.assertEqual((got["age_days"], got["expired"]), (str(age), exp), got)
            self.assertRegex(got["accepted_at"], DT_RE)
            self.assertRegex(got["expires_at"], DT_RE)
        self.assertEqual(rows[0]["member_name"], "Sri, \"Wati\"")
        self.assertEqual(rows[0]["amount"], "30000.05")
        self.assertEqual(rows[1]["amount"], "50000.00")
        self.assertEqual(rows[1]["outstanding"], "37499.50")
        self.assertEqual(rows[2]["accepted_at"][:10], local_day(self.OFFSET, -3))
        self.assertEqual(totals, [["total", "code", "invoices", "outstanding"],
                                  ["community", PCOMM, "1", "37499.50"],
                                  ["community", COMM, "3", "46000.15"],
                                  ["all", "", "4", "83499.65"]])

    def test_json_and_community(self):
        r = self.report("invoices", "--format", "json", "--community", COMM)
        obj = json.loads(r.stdout)
        self.assertEqual(list(obj), ["as_of", "utc_offset", "invoices", "totals"])
        self.assertRegex(obj["as_of"], DT_RE)
        self.assertEqual(obj["utc_offset"], self.off)
        want = self.expected(COMM)
        self.assertEqual(len(obj["invoices"]), len(want))
        for got, (inv, age, exp) in zip(obj["invoices"], want):
            self.assertEqual(list(got), INV_HEADER)
            self.assertEqual((got["doc_no"], got["comm_code"], got["doc_ref_no"]),
                             (inv["doc"], COMM, inv["ref"]))
            self.assertEqual(got["outstanding"], money(inv["outstanding"]))
            self.assertEqual((got["age_days"], got["expired"]), (age, exp == "yes"))
        self.assertEqual(obj["totals"], {
            "communities": [{"comm_code": COMM, "invoices": 3, "outstanding": "46000.15"}],
            "all": {"invoices": 3, "outstanding": "46000.15"}})
        r = self.report("invoices", "--community", "NOPE", ok=False)
        self.assertEqual((r.returncode, r.stdout, r.stderr), (1, "", "vabill: no community NOPE\n"))


if __name__ == "__main__":
    unittest.main()
