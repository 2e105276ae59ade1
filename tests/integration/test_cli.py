"""The command line (SPEC 4, SPEC 2 prefix rule, docs/DECISIONS.md)."""
import datetime
import json
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import unittest

from harness import (COMM, KEY, VABILL, Server, add_community, cli, db_url, invoice,
                     now_local, request_fields, send, sqlite_only)

FMT = "%Y-%m-%d %H:%M:%S"


def parse_time(s):
    return datetime.datetime.strptime(s, FMT)


class CliCase(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vabill-cli-")
        self.db = os.path.join(self.tmp, "vabill.db")
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.__exit__(None, None, None)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self, db=None, args=()):
        s = Server(db or self.db, args)
        self.servers.append(s)
        return s

    def ok(self, *args, db=None, env=None):
        r = cli(*args, db=self.db if db is None else db, env=env)
        self.assertEqual(r.returncode, 0, "%r: %s" % (args, r.stderr))
        return r

    def refused(self, *args, rc=(1,), db=None, one_line=True):
        r = cli(*args, db=self.db if db is None else db)
        self.assertIn(r.returncode, rc, "%r: rc=%d stdout=%r stderr=%r"
                      % (args, r.returncode, r.stdout, r.stderr))
        if one_line:
            err = r.stderr.rstrip("\n")
            self.assertTrue(err, "%r: nothing on stderr" % (args,))
            self.assertNotIn("\n", err, "%r: more than one line on stderr: %r" % (args, r.stderr))
            self.assertTrue(err.startswith("vabill: "), "%r: %r" % (args, err))
        return r

    def show(self, code):
        r = self.ok("community", "show", code)
        return json.loads(r.stdout)

    def list_lines(self):
        r = self.ok("community", "list")
        return [l for l in r.stdout.splitlines() if l.strip()]


class TestCommunityAdd(CliCase):

    def test_defaults(self):
        self.ok("community", "add", "C1", "--key", "SecretKeyAlpha99",
                "--bank", "008:123", "--bank", "014:4567")
        c = self.show("C1")
        self.assertEqual(c["code"], "C1")
        self.assertEqual(c["ccy"], "IDR")
        self.assertIs(c["enabled"], True)
        self.assertEqual(c["va_length"], 16)
        self.assertEqual(c["va_ttl"], 43200)
        self.assertEqual(c["next_serial"], 1)
        self.assertEqual(c["banks"], [{"bank_code": "008", "prefix": "123"},
                                      {"bank_code": "014", "prefix": "4567"}])
        self.assertEqual(self.list_lines(), ["C1 IDR enabled 008:123,014:4567"])

    def test_options(self):
        self.ok("community", "add", "USDCOMM", "--key", "k1k2k3k4", "--bank", "002:777",
                "--ccy", "USD", "--va-length", "20", "--va-ttl", "60")
        c = self.show("USDCOMM")
        self.assertEqual((c["ccy"], c["va_length"], c["va_ttl"]), ("USD", 20, 60))
        self.assertEqual(self.list_lines(), ["USDCOMM USD enabled 002:777"])
        # the options take effect on the server
        s = self.start()
        st, h, obj, raw = send(s, {"U-1": invoice()}, comm_code="USDCOMM", key="k1k2k3k4",
                               ccy="USD")
        self.assertEqual(obj["error_code"], "0000", obj)
        inv = obj["invoices"]["U-1"]
        self.assertEqual(inv["error_code"], "0000", inv)
        va = inv["list_va"]["002"]
        self.assertEqual(len(va["va_number"]), 20, va)
        self.assertEqual(va["va_number"][:19], "777" + "0" * 15 + "1", va)
        delta = parse_time(va["expired"]) - parse_time(obj["rs_datetime"])
        self.assertLessEqual(abs(delta.total_seconds() - 3600), 2, (va, obj["rs_datetime"]))
        st, h, obj, raw = send(s, {"U-2": invoice()}, comm_code="USDCOMM", key="k1k2k3k4",
                               ccy="IDR")
        self.assertEqual((obj["error_code"], obj["error_message"]),
                         ("0006", "Invalid currency = ccy"))

    def test_bad_code(self):
        for code in ("C-1", "C 1", "C_1", "A" * 33):
            with self.subTest(code=code):
                self.refused("community", "add", code, "--key", "k", "--bank", "008:1")
        self.refused("community", "add", "", "--key", "k", "--bank", "008:1", rc=(1, 2))
        self.assertEqual(self.list_lines(), [])
        # 32 characters is fine
        self.ok("community", "add", "A" * 32, "--key", "k", "--bank", "008:1")

    def test_missing_key_or_bank(self):
        self.refused("community", "add", "C1", "--bank", "008:1", rc=(1, 2))
        self.refused("community", "add", "C1", "--key", "k", rc=(1, 2))
        self.refused("community", "add", "C1", "--key", "", "--bank", "008:1", rc=(1, 2))
        self.refused("community", "add", "C1", "--bank", "008:1", "--key", rc=(1, 2))
        self.refused("community", "add", "--key", "k", "--bank", "008:1", rc=(1, 2))
        self.assertEqual(self.list_lines(), [])

    def test_bad_bank(self):
        for bank in ("08:123", "0088:123", "0a8:123", "008", "008:", ":123", "008:12a",
                     "008:1234567890123", "008:-12", "008:12 3"):
            with self.subTest(bank=bank):
                self.refused("community", "add", "C1", "--key", "k", "--bank", bank)
        self.refused("community", "add", "C1", "--key", "k", "--bank", "008:1", "--bank", "008:2")
        self.assertEqual(self.list_lines(), [])
        self.ok("community", "add", "C1", "--key", "k", "--bank", "008:123456789012")

    def test_va_length_bounds(self):
        for n in ("9", "24", "0", "-16", "abc", "16.5"):
            with self.subTest(va_length=n):
                self.refused("community", "add", "CX", "--key", "k", "--bank", "008:1",
                             "--va-length", n, rc=(1, 2))
        # no room for a serial
        self.refused("community", "add", "CX", "--key", "k", "--bank", "008:123456789012",
                     "--va-length", "13")
        self.assertEqual(self.list_lines(), [])
        self.ok("community", "add", "C10", "--key", "k", "--bank", "008:1", "--va-length", "10")
        self.ok("community", "add", "C23", "--key", "k", "--bank", "009:1", "--va-length", "23")
        self.ok("community", "add", "C14", "--key", "k", "--bank", "014:123456789012",
                "--va-length", "14")
        self.assertEqual(self.show("C10")["va_length"], 10)
        self.assertEqual(self.show("C23")["va_length"], 23)

    def test_bad_ccy_and_ttl(self):
        for extra in (["--ccy", "idr"], ["--ccy", "IDRX"], ["--ccy", "I1R"],
                      ["--va-ttl", "abc"], ["--va-ttl", "-5"]):
            with self.subTest(extra=extra):
                self.refused("community", "add", "CX", "--key", "k", "--bank", "008:1", *extra,
                             rc=(1, 2))
        self.assertEqual(self.list_lines(), [])

    def test_prefix_collisions(self):
        self.ok("community", "add", "C1", "--key", "k", "--bank", "008:12345")
        for code, bank in (("C2", "008:12345"), ("C3", "008:1234"), ("C4", "008:123456"),
                           ("C9", "008:1"), ("C10", "008:1234599999")):
            with self.subTest(bank=bank):
                self.refused("community", "add", code, "--key", "k", "--bank", bank)
                self.refused("community", "show", code)
        # one colliding channel refuses the whole community
        self.refused("community", "add", "C7", "--key", "k", "--bank", "014:999",
                     "--bank", "008:12")
        self.refused("community", "show", "C7")
        # the same prefix on another bank, and a sibling prefix, are fine
        self.ok("community", "add", "C5", "--key", "k", "--bank", "009:12345")
        self.ok("community", "add", "C6", "--key", "k", "--bank", "008:12346")
        self.ok("community", "add", "C8", "--key", "k", "--bank", "014:999")
        self.assertEqual(sorted(l.split()[0] for l in self.list_lines()),
                         ["C1", "C5", "C6", "C8"])

    def test_concurrent_colliding_adds(self):
        # all of 5, 55, 555, ... collide with each other on bank 008: at most
        # one may be registered, even when the commands race
        self.ok("init")
        argvs = [[VABILL, "--db", db_url(self.db), "community", "add", "R%d" % i, "--key", "k",
                  "--bank", "008:" + "5" * (i + 1)] for i in range(8)]
        procs = [subprocess.Popen(a, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for a in argvs]
        rcs = []
        for p in procs:
            p.communicate(timeout=60)
            rcs.append(p.returncode)
        self.assertEqual(rcs.count(0), 1, rcs)
        self.assertEqual(len(self.list_lines()), 1)

    def test_duplicate_code(self):
        self.ok("community", "add", "C1", "--key", "k", "--bank", "008:111")
        self.refused("community", "add", "C1", "--key", "k2", "--bank", "009:222")
        self.assertEqual(self.show("C1")["banks"], [{"bank_code": "008", "prefix": "111"}])
        self.assertEqual(self.list_lines(), ["C1 IDR enabled 008:111"])


class TestCommunityListShow(CliCase):

    def test_list_and_show_never_print_key(self):
        self.ok("community", "add", "ALPHA", "--key", "KeyAlpha12345", "--bank", "008:11")
        self.ok("community", "add", "BETA", "--key", "keybeta67890", "--bank", "008:22",
                "--bank", "009:22")
        self.assertEqual(sorted(self.list_lines()),
                         ["ALPHA IDR enabled 008:11", "BETA IDR enabled 008:22,009:22"])
        outs = [self.ok("community", "list").stdout,
                self.ok("community", "show", "ALPHA").stdout,
                self.ok("community", "show", "BETA").stdout]
        for out in outs:
            low = out.lower()
            self.assertNotIn("keyalpha12345", low)
            self.assertNotIn("keybeta67890", low)
        b = self.show("BETA")
        self.assertNotIn("key", b)
        self.assertEqual(b["banks"], [{"bank_code": "008", "prefix": "22"},
                                      {"bank_code": "009", "prefix": "22"}])

    def test_show_unknown(self):
        self.ok("community", "add", "ALPHA", "--key", "k", "--bank", "008:11")
        r = self.refused("community", "show", "NOPE")
        self.assertEqual(r.stdout, "")
        self.refused("community", "show", "alpha")  # case-sensitive

    def test_list_empty(self):
        r = self.ok("community", "list")
        self.assertEqual(r.stdout.strip(), "")

    def test_disable_enable(self):
        self.ok("community", "add", "C1", "--key", "k", "--bank", "008:11")
        self.ok("community", "disable", "C1")
        self.assertIs(self.show("C1")["enabled"], False)
        self.assertEqual(self.list_lines(), ["C1 IDR disabled 008:11"])
        self.ok("community", "enable", "C1")
        self.assertIs(self.show("C1")["enabled"], True)
        self.assertEqual(self.list_lines(), ["C1 IDR enabled 008:11"])
        self.refused("community", "disable", "NOPE")
        self.refused("community", "enable", "NOPE")

    def test_disable_enable_on_running_server(self):
        add_community(self.db)
        s = self.start()
        for rnd in range(2):
            st, h, obj, raw = send(s, {"DE-%d-a" % rnd: invoice()})
            self.assertEqual(obj["error_code"], "0000", obj)
            self.ok("community", "disable", COMM)
            st, h, obj, raw = send(s, {"DE-%d-b" % rnd: invoice()})
            self.assertEqual(st, 200)
            self.assertEqual((obj["error_code"], obj["error_message"]),
                             ("0005", "Data not listed = Community Code"))
            self.assertEqual(obj["invoices"], {})
            self.ok("community", "enable", COMM)
            st, h, obj, raw = send(s, {"DE-%d-c" % rnd: invoice()})
            self.assertEqual(obj["error_code"], "0000", obj)
            self.assertEqual(obj["invoices"]["DE-%d-c" % rnd]["error_code"], "0000", obj)
        r = cli("invoice", "show", COMM, "DE-0-b", db=self.db)
        self.assertNotEqual(r.returncode, 0)


class TestInvoiceShow(CliCase):

    def test_invoice_show(self):
        add_community(self.db)
        s = self.start()
        invs = {
            "SHOW-1": invoice(),
            "SHOW-2": invoice(member_code="M777", member_name="Dewi Lestari", amount="150000.5",
                              total_amount="300000", installment_amount="150000.5",
                              balance_payment_amount="0", number_of_installment="2",
                              billing_date="05", description="Cicilan 1"),
        }
        invs["SHOW-3"] = invoice(amount="999999999999999.99", total_amount="999999999999999.99",
                                 installment_amount="999999999999999.99",
                                 balance_payment_amount=0.1)
        fields = request_fields(invs)
        st, h, body = s.post_form(fields)
        obj = json.loads(body)
        self.assertEqual(obj["error_code"], "0000", obj)
        r1 = obj["invoices"]["SHOW-1"]
        self.assertEqual(r1["error_code"], "0000", obj)

        i1 = json.loads(self.ok("invoice", "show", COMM, "SHOW-1").stdout)
        self.assertEqual(i1["comm_code"], COMM)
        self.assertEqual(i1["doc_no"], "SHOW-1")
        self.assertEqual(i1["doc_ref_no"], r1["doc_ref_no"])
        self.assertRegex(i1["doc_ref_no"], r"^VB\d{13}$")
        self.assertEqual(i1["status"], "open")
        self.assertEqual(i1["member_code"], "M001")
        self.assertEqual(i1["member_name"], "Budi Santoso")
        self.assertEqual(i1["amount"], "20000.00")
        self.assertEqual(i1["total_amount"], "20000.00")
        self.assertIn(i1["number_of_installment"], (1, "1"))
        self.assertEqual(i1["installment_amount"], "20000.00")
        self.assertIn("balance_payment_amount", i1)
        self.assertIsNone(i1["balance_payment_amount"])
        self.assertEqual(i1["description"], "VA Payment Test")
        self.assertIn(i1["billing_date"], (5, "5", "05"))
        self.assertEqual(i1["outstanding_amount"], "20000.00")
        self.assertEqual(i1["rq_uuid"], fields["rq_uuid"])
        self.assertEqual(i1["expired"], r1["list_va"]["008"]["expired"])
        acc = parse_time(i1["accepted_at"])
        now = parse_time(now_local())
        self.assertLessEqual(abs((acc - now).total_seconds()), 120, i1["accepted_at"])
        self.assertLessEqual(abs((parse_time(i1["expired"]) - acc).total_seconds()
                                 - 43200 * 60), 1)
        self.assertEqual([(v["bank_code"], v["va_number"]) for v in i1["list_va"]],
                         [("008", r1["list_va"]["008"]["va_number"]),
                          ("009", r1["list_va"]["009"]["va_number"])])
        self.assertNotIn(KEY.lower(), json.dumps(i1).lower())

        i2 = json.loads(self.ok("invoice", "show", COMM, "SHOW-2").stdout)
        self.assertEqual(i2["member_code"], "M777")
        self.assertEqual(i2["member_name"], "Dewi Lestari")
        self.assertEqual(i2["amount"], "150000.50")
        self.assertEqual(i2["total_amount"], "300000.00")
        self.assertEqual(i2["installment_amount"], "150000.50")
        self.assertEqual(i2["balance_payment_amount"], "0.00")
        self.assertEqual(i2["outstanding_amount"], "150000.50")
        self.assertIn(i2["number_of_installment"], (2, "2"))
        self.assertIn(i2["billing_date"], (5, "5", "05"))
        self.assertEqual(i2["description"], "Cicilan 1")

        i3 = json.loads(self.ok("invoice", "show", COMM, "SHOW-3").stdout)
        self.assertEqual(i3["amount"], "999999999999999.99")
        self.assertEqual(i3["total_amount"], "999999999999999.99")
        self.assertEqual(i3["outstanding_amount"], "999999999999999.99")
        self.assertEqual(i3["balance_payment_amount"], "0.10")

        # unknown invoice, unknown community
        r = self.refused("invoice", "show", COMM, "NOPE")
        self.assertEqual(r.stdout, "")
        self.refused("invoice", "show", "NOCOMM", "SHOW-1")


class TestMisc(CliCase):

    def test_sign_example(self):
        r = cli("sign", "--key", "7bc074f97c3131d2e290a4as", "--rq-uuid", "UUID001",
                "--rq-datetime", "2016-07-25 11:05:49", "--comm-code", "SGWTES")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(),
                         "af2b7782429988449308a401a169870dd6feb71310dd1e5ba8b386f16f79dfaf")
        r = cli("sign", "--key", "7BC074F97C3131D2E290A4AS", "--rq-uuid", "uuid001",
                "--rq-datetime", "2016-07-25 11:05:49", "--comm-code", "sgwtes")
        self.assertEqual(r.stdout.strip(),
                         "af2b7782429988449308a401a169870dd6feb71310dd1e5ba8b386f16f79dfaf")
        r = cli("sign", "--rq-uuid", "UUID001", "--rq-datetime", "2016-07-25 11:05:49",
                "--comm-code", "SGWTES")
        self.assertNotEqual(r.returncode, 0)

    @sqlite_only
    def test_vabill_db_env(self):
        r = cli("community", "add", "ENVC", "--key", "k", "--bank", "008:5",
                env={"VABILL_DB": self.db})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.exists(self.db))
        self.assertEqual(self.show("ENVC")["code"], "ENVC")
        r = cli("community", "list", env={"VABILL_DB": self.db})
        self.assertEqual(r.stdout.split(), ["ENVC", "IDR", "enabled", "008:5"])
        # sqlite:PATH in the environment
        other = os.path.join(self.tmp, "other.db")
        r = cli("community", "add", "ENV2", "--key", "k", "--bank", "008:5",
                env={"VABILL_DB": "sqlite:" + other})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.show_in(other, "ENV2")["code"], "ENV2")

    def show_in(self, db, code):
        r = cli("community", "show", code, db=db)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def test_db_option_wins_over_env(self):
        env_db = os.path.join(self.tmp, "env.db")
        r = cli("--db", self.db, "community", "add", "OPTC", "--key", "k", "--bank", "008:5",
                env={"VABILL_DB": env_db})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.show("OPTC")["code"], "OPTC")
        r = cli("community", "show", "OPTC", db=env_db)
        self.assertNotEqual(r.returncode, 0)

    def test_db_among_options(self):
        r = cli("community", "add", "AMONG", "--key", "k", "--db", self.db, "--bank", "008:5")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = cli("community", "show", "AMONG", "--db", self.db)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["code"], "AMONG")

    @sqlite_only
    def test_sqlite_url(self):
        path = os.path.join(self.tmp, "url.db")
        self.ok("community", "add", COMM, "--key", KEY, "--bank", "008:62806",
                db="sqlite:" + path)
        self.assertTrue(os.path.exists(path))
        self.assertEqual(self.show_in(path, COMM)["code"], COMM)
        s = self.start(db="sqlite:" + path)
        st, h, obj, raw = send(s, {"URL-1": invoice()})
        self.assertEqual(obj["error_code"], "0000", obj)
        r = cli("invoice", "show", COMM, "URL-1", db=path)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_unknown_command_exit_2(self):
        for args in (("frobnicate",), ("community", "frob"), ("community", "list", "--frob"),
                     ("invoice", "frob")):
            with self.subTest(args=args):
                self.refused(*args, rc=(2,))
        r = cli(db=self.db)
        self.assertEqual(r.returncode, 2)

    def _fresh_mode(self, fn):
        old = os.umask(0o022)
        try:
            fn()
        finally:
            os.umask(old)

    @sqlite_only
    def test_db_mode_0600_cli(self):
        def go():
            self.ok("community", "add", "C1", "--key", "k", "--bank", "008:1")
        self._fresh_mode(go)
        self.assertEqual(stat.S_IMODE(os.stat(self.db).st_mode), 0o600)
        p2 = os.path.join(self.tmp, "init.db")
        self._fresh_mode(lambda: self.ok("init", db=p2))
        self.assertEqual(stat.S_IMODE(os.stat(p2).st_mode), 0o600)
        self.assertEqual(self.ok("community", "list", db=p2).stdout.strip(), "")

    @sqlite_only
    def test_db_mode_0600_server_then_cli(self):
        # the schema is created by whichever program comes first
        self._fresh_mode(lambda: self.start())
        s = self.servers[0]
        self.assertEqual(stat.S_IMODE(os.stat(self.db).st_mode), 0o600)
        self.assertEqual(self.ok("community", "list").stdout.strip(), "")
        add_community(self.db)
        st, h, obj, raw = send(s, {"FIRST-1": invoice()})
        self.assertEqual(obj["error_code"], "0000", obj)
        self.assertEqual(obj["invoices"]["FIRST-1"]["error_code"], "0000", obj)
        self.assertEqual(s.stop(signal.SIGTERM), 0)
        self.assertEqual(json.loads(self.ok("invoice", "show", COMM, "FIRST-1").stdout)["doc_no"],
                         "FIRST-1")


if __name__ == "__main__":
    unittest.main()
