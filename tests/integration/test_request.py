"""Request-level rules of sendinvoice: SPEC 1.1, 1.2, 1.4 steps 2-10, 1.6
(failure shape) and 3 (codes and texts), plus the DECISIONS.md choices for
request fields.  Black-box: only HTTP and the vabill command line.

One server per test class (started in setUpClass); every test uses fresh
rq_uuids and doc_nos so the tests do not depend on each other.
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
import urllib.parse
import uuid

import harness
from harness import (BANKS, COMM, KEY, Server, add_community, cli, invoice,
                     now_local, request_fields, sign)

FIELDS = ["rq_uuid", "rq_datetime", "signature", "comm_code", "ccy",
          "invoices", "total_invoices"]
# Fields whose format is checked at step 3 (invoices is parsed at step 9).
FORMAT_FIELDS = ["rq_uuid", "rq_datetime", "signature", "comm_code", "ccy",
                 "total_invoices"]
TOP_KEYS = {"rq_uuid", "rs_datetime", "error_code", "error_message",
            "invoices", "invoices_success", "invoices_error", "total_invoice"}
DT_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")

MSG_MANDATORY = "Mandatory field left empty = %s"
MSG_FORMAT = "Invalid format = %s"
MSG_SIG = "Invalid signature"
MSG_COMM = "Data not listed = Community Code"
MSG_CCY = "Invalid currency = ccy"
MSG_MISMATCH = "Total invoices mismatch"
MSG_MAX = "Maximum 500 invoices per request"
MSG_EXPIRED = "Request expired = rq_datetime"
MSG_DUPREQ = "Duplicate request = rq_uuid"
MSG_DUPDOC = "Duplicate Document No in request = %s"

OFF_COMM, OFF_KEY = "SGWOFF", "offkey123"
USD_COMM, USD_KEY = "SGWUSD", "usdkey456"

# A malformed (step 3) value for each field.
BAD = {
    "rq_uuid": "U" * 256,
    "rq_datetime": "2026-02-30 10:00:00",
    "signature": "zz" * 32,
    "comm_code": "SGW-TES",
    "ccy": "idr",
    "total_invoices": "abc",
}


def uniq(prefix="D"):
    return prefix + uuid.uuid4().hex[:24]


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


class Fixture(unittest.TestCase):
    """A database with communities and one running server for the class."""

    communities = ((COMM, KEY, BANKS, ()),)
    disabled = ()
    server_args = ()
    offset_minutes = 420

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="vabill-treq-")
        cls.db = os.path.join(cls.tmp, "vabill.db")
        cls.server = None
        try:
            for code, key, banks, extra in cls.communities:
                add_community(cls.db, code=code, key=key, banks=banks, extra=extra)
            for code in cls.disabled:
                r = cli("community", "disable", code, db=cls.db)
                if r.returncode != 0:
                    raise AssertionError("community disable failed: " + r.stderr)
            cls.server = BoundedServer(cls.db, cls.server_args)
        except BaseException:
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.server is not None:
            cls.server.__exit__(None, None, None)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    # -- helpers ---------------------------------------------------------

    def now(self, delta=0):
        return now_local(self.offset_minutes, delta)

    def fields(self, invoices=None, **kw):
        """Valid, correctly signed form fields (invoices as JSON text)."""
        if invoices is None:
            invoices = {uniq(): invoice()}
        kw.setdefault("rq_datetime", self.now())
        return request_fields(invoices, **kw)

    def json_fields(self, invoices=None, **kw):
        """Valid JSON-body fields: invoices as an object, total as a number."""
        if invoices is None:
            invoices = {uniq(): invoice()}
        f = self.fields(invoices, **kw)
        f["invoices"] = invoices
        f["total_invoices"] = int(f["total_invoices"])
        return f

    def post(self, fields, form=True, content_type=None):
        kw = {}
        if content_type is not None:
            kw["content_type"] = content_type
        if form:
            st, h, body = self.server.post_form(fields, **kw)
        else:
            st, h, body = self.server.post_json(fields, **kw)
        try:
            obj = json.loads(body)
        except ValueError:
            self.fail("response is not JSON (HTTP %d): %r" % (st, body[:300]))
        return st, h, obj, body

    def check_rs_datetime(self, value):
        self.assertRegex(value, DT_RE)
        t = datetime.datetime.strptime(value, "%Y-%m-%d %H:%M:%S")
        ref = datetime.datetime.strptime(self.now(), "%Y-%m-%d %H:%M:%S")
        self.assertLess(abs((t - ref).total_seconds()), 10,
                        "rs_datetime %s is not the server's time (%s)" % (value, ref))

    def assert_fail(self, res, code, msg, echo):
        """A request-level failure (SPEC 1.6).  echo: the expected rq_uuid,
        or None not to check it."""
        st, h, obj, raw = res
        ctx = raw[:400]
        self.assertEqual((obj.get("error_code"), obj.get("error_message")), (code, msg), ctx)
        self.assertEqual(st, 200, ctx)
        self.assertTrue(h.get("content-type", "").startswith("application/json"), h)
        self.assertEqual(set(obj), TOP_KEYS, ctx)
        self.assertEqual(obj["invoices"], {}, ctx)
        self.assertEqual(obj["invoices_success"], {}, ctx)
        self.assertEqual(obj["invoices_error"], {}, ctx)
        self.assertEqual(obj["total_invoice"], "0", ctx)
        if echo is not None:
            self.assertEqual(obj["rq_uuid"], echo, ctx)
        self.check_rs_datetime(obj["rs_datetime"])

    def assert_ok(self, res, n, echo=None):
        st, h, obj, raw = res
        ctx = raw[:400]
        self.assertEqual((obj.get("error_code"), obj.get("error_message")), ("0000", "Success"), ctx)
        self.assertEqual(st, 200, ctx)
        self.assertEqual(obj["total_invoice"], str(n), ctx)
        self.assertEqual(len(obj["invoices"]), n, ctx)
        for doc, entry in obj["invoices"].items():
            self.assertEqual(entry["error_code"], "0000", ctx)
        if echo is not None:
            self.assertEqual(obj["rq_uuid"], echo, ctx)
        self.check_rs_datetime(obj["rs_datetime"])
        return obj

    def show(self, doc, comm=COMM):
        return cli("invoice", "show", comm, doc, db=self.db)


class RequestTest(Fixture):
    communities = (
        (COMM, KEY, BANKS, ()),
        (OFF_COMM, OFF_KEY, ["008:51111"], ()),
        (USD_COMM, USD_KEY, ["008:52222", "009:52222"], ("--ccy", "USD")),
    )
    disabled = (OFF_COMM,)

    # -- baseline ------------------------------------------------------------

    def test_valid_form_request_accepted(self):
        doc = uniq()
        f = self.fields({doc: invoice()})
        obj = self.assert_ok(self.post(f), 1, echo=f["rq_uuid"])
        self.assertIn(doc, obj["invoices_success"])
        self.assertEqual(obj["invoices_error"], {})

    def test_json_body_variants_accepted(self):
        for inv_as_obj in (True, False):
            for total_as_num in (True, False):
                with self.subTest(invoices_object=inv_as_obj, total_number=total_as_num):
                    invs = {uniq(): invoice(), uniq(): invoice(member_code="M2")}
                    f = self.fields(invs)
                    if inv_as_obj:
                        f["invoices"] = invs
                    if total_as_num:
                        f["total_invoices"] = 2
                    obj = self.assert_ok(self.post(f, form=False), 2, echo=f["rq_uuid"])
                    self.assertEqual(list(obj["invoices"]), list(invs))

    def test_media_type_parameters_ignored(self):
        f = self.fields()
        self.assert_ok(self.post(f, content_type="application/x-www-form-urlencoded; charset=UTF-8"), 1)
        f = self.json_fields()
        self.assert_ok(self.post(f, form=False, content_type="application/json; charset=UTF-8"), 1)

    def test_unknown_form_fields_ignored(self):
        f = self.fields()
        pairs = list(f.items()) + [("foo", "bar"), ("member_code", "x")]
        self.assert_ok(self.post(pairs), 1, echo=f["rq_uuid"])

    # -- step 2: presence ----------------------------------------------------

    def test_mandatory_absent_form(self):
        for field in FIELDS:
            with self.subTest(field=field):
                f = self.fields()
                del f[field]
                echo = "" if field == "rq_uuid" else f["rq_uuid"]
                self.assert_fail(self.post(f), "0001", MSG_MANDATORY % field, echo)

    def test_empty_form_body(self):
        st, h, raw = self.server.request("POST", harness.PATH, b"",
                                         {"Content-Type": "application/x-www-form-urlencoded"})
        self.assert_fail((st, h, json.loads(raw), raw), "0001", MSG_MANDATORY % "rq_uuid", "")

    def test_mandatory_empty_or_blank_form(self):
        for field in FIELDS:
            for value in ("", " ", "\t", "  \t\r\n "):
                with self.subTest(field=field, value=value):
                    f = self.fields()
                    f[field] = value
                    echo = "" if field == "rq_uuid" else f["rq_uuid"]
                    self.assert_fail(self.post(f), "0001", MSG_MANDATORY % field, echo)

    def test_mandatory_json_body(self):
        for field in FIELDS:
            for value in ("<absent>", None, "", "   ", "\t\n"):
                with self.subTest(field=field, value=value):
                    f = self.json_fields()
                    if value == "<absent>":
                        del f[field]
                    else:
                        f[field] = value
                    echo = "" if field == "rq_uuid" else f["rq_uuid"]
                    self.assert_fail(self.post(f, form=False), "0001", MSG_MANDATORY % field, echo)

    def test_presence_checked_in_table_order(self):
        # Keep the first i fields, drop the rest: the i-th is reported.
        for i, field in enumerate(FIELDS):
            with self.subTest(first_missing=field):
                f = self.fields()
                for g in FIELDS[i:]:
                    del f[g]
                self.assert_fail(self.post(f), "0001", MSG_MANDATORY % field, None)
        # Missing in the middle, later ones present.
        f = self.fields()
        del f["ccy"]
        del f["total_invoices"]
        self.assert_fail(self.post(f), "0001", MSG_MANDATORY % "ccy", f["rq_uuid"])

    def test_presence_checked_before_format(self):
        # Every other field malformed, one missing: the missing one wins.
        for field in FIELDS:
            with self.subTest(missing=field):
                f = self.fields()
                for g in FORMAT_FIELDS:
                    f[g] = BAD[g]
                f["invoices"] = "not json at all"
                del f[field]
                self.assert_fail(self.post(f), "0001", MSG_MANDATORY % field, "")
        # The example of the brief: ccy malformed, total_invoices missing.
        f = self.fields()
        f["ccy"] = "idr"
        del f["total_invoices"]
        self.assert_fail(self.post(f), "0001", MSG_MANDATORY % "total_invoices", f["rq_uuid"])
        # rq_uuid too long, signature blank.
        f = self.fields()
        f["rq_uuid"] = "U" * 300
        f["signature"] = "  "
        self.assert_fail(self.post(f), "0001", MSG_MANDATORY % "signature", "")

    # -- step 3: format ------------------------------------------------------

    def test_format_checked_in_table_order(self):
        # All malformed; fix them one at a time in table order.
        for i, field in enumerate(FORMAT_FIELDS):
            with self.subTest(first_bad=field):
                f = self.fields()
                for g in FORMAT_FIELDS[i:]:
                    f[g] = BAD[g]
                echo = "" if field == "rq_uuid" else f["rq_uuid"]
                self.assert_fail(self.post(f), "0003", MSG_FORMAT % field, echo)
        self.assert_ok(self.post(self.fields()), 1)

    def test_rq_uuid_format(self):
        for value in ("U" * 256, "U" * 1000, "abc\x01", "abc\x7f", "abc\u00e9", "abc\ndef"):
            with self.subTest(value=value[:20]):
                f = self.fields(rq_uuid=value)
                self.assert_fail(self.post(f), "0003", MSG_FORMAT % "rq_uuid", "")
        # JSON body: a number is the wrong type.
        f = self.json_fields()
        f["rq_uuid"] = 12345
        self.assert_fail(self.post(f, form=False), "0003", MSG_FORMAT % "rq_uuid", "")

    def test_rq_uuid_limits_accepted(self):
        for value in ("V" + uuid.uuid4().hex + "x" * (255 - 33),  # 255 chars
                      uuid.uuid4().hex[:1],                        # 1 char
                      "UUID with spaces ~!@#$%^&*()_+{}|:\"<>?" + uuid.uuid4().hex):
            with self.subTest(length=len(value)):
                f = self.fields(rq_uuid=value)
                self.assert_ok(self.post(f), 1, echo=value)

    def test_rq_datetime_format(self):
        bad = ["2026-02-30 10:00:00", "2023-02-29 10:00:00", "1900-02-29 10:00:00",
               "2026-13-01 10:00:00", "2026-00-10 10:00:00", "2026-01-00 10:00:00",
               "2026-04-31 10:00:00", "2026-01-01 24:00:00", "2026-01-01 10:60:00",
               "2026-01-01 10:00:61", "2026-1-01 10:00:00", "2026-01-01T10:00:00",
               "2026-01-01 10:00", "2026-01-01 10:00:00Z", "2026-01-01  10:00:00",
               "26-01-01 10:00:00", "2026/01/01 10:00:00", "2026-01-01 10:00:0a",
               "2026-01-01 10:00:00.5", "20260101 100000", "yesterday"]
        for value in bad:
            with self.subTest(value=value):
                f = self.fields(rq_datetime=value)
                self.assert_fail(self.post(f), "0003", MSG_FORMAT % "rq_datetime", f["rq_uuid"])

    def test_rq_datetime_real_dates_are_well_formed(self):
        # Leap days are real dates: they pass step 3 and fail at step 7.
        for value in ("2024-02-29 10:00:00", "2000-02-29 23:59:59", "2016-07-25 11:05:49"):
            with self.subTest(value=value):
                f = self.fields(rq_datetime=value)
                self.assert_fail(self.post(f), "0009", MSG_EXPIRED, f["rq_uuid"])

    def test_signature_format(self):
        good = sign("x", "y", "z", KEY)
        for value in (good[:63], good + "a", "g" + good[1:], good[:30] + " " + good[31:],
                      "0x" + good[:62], good[:32], "-" * 64):
            with self.subTest(value=value):
                f = self.fields()
                f["signature"] = value
                self.assert_fail(self.post(f), "0003", MSG_FORMAT % "signature", f["rq_uuid"])

    def test_comm_code_format(self):
        for value in ("SGW-TES", "SGW TES", "S" * 33, "SGWT\u00c9S", "SGW_TES", "SGWTES."):
            with self.subTest(value=value):
                f = self.fields(comm_code=value)
                self.assert_fail(self.post(f), "0003", MSG_FORMAT % "comm_code", f["rq_uuid"])

    def test_ccy_format(self):
        for value in ("idr", "Idr", "ID", "IDRR", "ID1", "I R", "\u00cfDR"):
            with self.subTest(value=value):
                f = self.fields(ccy=value)
                self.assert_fail(self.post(f), "0003", MSG_FORMAT % "ccy", f["rq_uuid"])

    def test_total_invoices_format(self):
        for value in ("0", "000", "1000", "abc", "-1", "+1", "1.0", "1 0", "1e1", "0x1"):
            with self.subTest(value=value):
                f = self.fields(total=value)
                self.assert_fail(self.post(f), "0003", MSG_FORMAT % "total_invoices", f["rq_uuid"])

    def test_json_field_types(self):
        cases = [("total_invoices", 0), ("total_invoices", 1000), ("total_invoices", -1),
                 ("total_invoices", 1.5), ("total_invoices", True), ("total_invoices", [1]),
                 ("total_invoices", {"n": 1}), ("rq_datetime", 20260101),
                 ("signature", ["x"]), ("comm_code", {"c": 1}), ("ccy", True),
                 ("comm_code", 12345)]
        for field, value in cases:
            with self.subTest(field=field, value=value):
                f = self.json_fields()
                f[field] = value
                self.assert_fail(self.post(f, form=False), "0003", MSG_FORMAT % field, f["rq_uuid"])

    def test_repeated_field(self):
        # DECISIONS: a request field given twice is 0003 of that field.
        f = self.fields()
        pairs = list(f.items()) + [("ccy", "IDR")]
        self.assert_fail(self.post(pairs), "0003", MSG_FORMAT % "ccy", f["rq_uuid"])
        # JSON member repeated, written by hand.
        f = self.json_fields()
        text = json.dumps(f)[:-1] + ', "ccy": "IDR"}'
        self.assert_fail(self.post(text, form=False), "0003", MSG_FORMAT % "ccy", f["rq_uuid"])
        # Presence still comes first.
        f = self.fields()
        del f["total_invoices"]
        pairs = list(f.items()) + [("ccy", "IDR")]
        self.assert_fail(self.post(pairs), "0001", MSG_MANDATORY % "total_invoices", f["rq_uuid"])

    def test_repeated_invoices_field_is_a_step_3_error(self):
        # DECISIONS: a repeated field is 0003 at its place in the table order
        # of step 3, so before total_invoices and before the community check.
        inv = json.dumps({uniq(): invoice()})

        def body(**over):
            f = self.json_fields()
            del f["invoices"]
            f.update(over)
            return f, json.dumps(f)[:-1] + ', "invoices": %s, "invoices": %s}' % (inv, inv)

        f, text = body()
        self.assert_fail(self.post(text, form=False), "0003", MSG_FORMAT % "invoices", f["rq_uuid"])
        f, text = body(total_invoices="abc")
        self.assert_fail(self.post(text, form=False), "0003", MSG_FORMAT % "invoices", f["rq_uuid"])
        f, text = body(comm_code="NOSUCH")
        self.assert_fail(self.post(text, form=False), "0003", MSG_FORMAT % "invoices", f["rq_uuid"])
        f, text = body(ccy="idr")
        self.assert_fail(self.post(text, form=False), "0003", MSG_FORMAT % "ccy", f["rq_uuid"])
        f = self.fields()
        pairs = list(f.items()) + [("invoices", f["invoices"])]
        self.assert_fail(self.post(pairs), "0003", MSG_FORMAT % "invoices", f["rq_uuid"])

    def test_json_body_not_an_object(self):
        for body in (b"[]", b'"text"', b"5", b"null", b"true", b"garbage", b"{",
                     b'{"rq_uuid": "x",}', b""):
            with self.subTest(body=body):
                self.assert_fail(self.post(body, form=False), "0003", MSG_FORMAT % "body", "")

    def test_form_bad_percent_escape(self):
        f = self.fields()
        body = "rq_uuid=%zz&" + "&".join(
            "%s=%s" % (k, urllib.parse.quote_plus(v))
            for k, v in f.items() if k != "rq_uuid")
        res = self.server.request("POST", harness.PATH, body.encode(),
                                  {"Content-Type": "application/x-www-form-urlencoded"})
        st, h, raw = res
        self.assert_fail((st, h, json.loads(raw), raw), "0003", MSG_FORMAT % "body", "")

    # -- steps 4 and 5: community and signature ---------------------------------

    def test_unknown_or_disabled_community(self):
        for code, key in (("NOSUCH", KEY), ("sgwtes", KEY), ("S" * 32, KEY),
                          ("SGWTES1", KEY), (OFF_COMM, OFF_KEY)):
            with self.subTest(comm_code=code):
                f = self.fields(comm_code=code, key=key)
                self.assert_fail(self.post(f), "0005", MSG_COMM, f["rq_uuid"])

    def test_community_changes_apply_to_running_server(self):
        # SPEC 1.4: a change made with vabill holds for every later request.
        code, key = "SGWLATE", "latekey789"
        f = self.fields(comm_code=code, key=key)
        self.assert_fail(self.post(f), "0005", MSG_COMM, f["rq_uuid"])
        add_community(self.db, code=code, key=key, banks=["008:53333"])
        self.assert_ok(self.post(self.fields(comm_code=code, key=key)), 1)
        r = cli("community", "disable", code, db=self.db)
        self.assertEqual(r.returncode, 0, r.stderr)
        f = self.fields(comm_code=code, key=key)
        self.assert_fail(self.post(f), "0005", MSG_COMM, f["rq_uuid"])
        r = cli("community", "enable", code, db=self.db)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assert_ok(self.post(self.fields(comm_code=code, key=key)), 1)

    def test_wrong_signature(self):
        rq_uuid = uniq("U")
        dt = self.now()
        wrong = [sign(rq_uuid, dt, COMM, "otherkey"),
                 sign(rq_uuid, dt, COMM, KEY, mode="CHECKSTATUS"),
                 sign(rq_uuid + "x", dt, COMM, KEY),
                 sign(rq_uuid, self.now(-60), COMM, KEY),
                 sign(rq_uuid, dt, USD_COMM, KEY),
                 "0" * 64]
        for value in wrong:
            with self.subTest(signature=value):
                f = self.fields(rq_uuid=rq_uuid, rq_datetime=dt)
                f["signature"] = value
                self.assert_fail(self.post(f), "0004", MSG_SIG, rq_uuid)

    def test_signature_case(self):
        f = self.fields()
        f["signature"] = f["signature"].upper()
        self.assert_ok(self.post(f), 1)
        f = self.fields()
        s = f["signature"]
        f["signature"] = "".join(c.upper() if i % 2 else c for i, c in enumerate(s))
        self.assert_ok(self.post(f), 1)
        f = self.json_fields()
        f["signature"] = f["signature"].upper()
        self.assert_ok(self.post(f, form=False), 1)

    def test_signature_example_of_spec(self):
        want = "af2b7782429988449308a401a169870dd6feb71310dd1e5ba8b386f16f79dfaf"
        self.assertEqual(sign("UUID001", "2016-07-25 11:05:49", "SGWTES", KEY), want)
        r = cli("sign", "--key", KEY, "--rq-uuid", "UUID001",
                "--rq-datetime", "2016-07-25 11:05:49", "--comm-code", "SGWTES")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), want)

    # -- step 7: clock skew ----------------------------------------------------

    def test_request_expired(self):
        for delta in (-1000, 1000, -3600, 86400):
            with self.subTest(delta=delta):
                f = self.fields(rq_datetime=self.now(delta))
                self.assert_fail(self.post(f), "0009", MSG_EXPIRED, f["rq_uuid"])
        # The server's offset is +07:00: UTC wall time is 7 hours off.
        f = self.fields(rq_datetime=now_local(0))
        self.assert_fail(self.post(f), "0009", MSG_EXPIRED, f["rq_uuid"])

    def test_within_clock_skew_accepted(self):
        for delta in (-800, 800):
            with self.subTest(delta=delta):
                f = self.fields(rq_datetime=self.now(delta))
                self.assert_ok(self.post(f), 1)

    # -- step 8: currency ------------------------------------------------------

    def test_currency_mismatch(self):
        for comm, key, ccy in ((COMM, KEY, "USD"), (COMM, KEY, "EUR"), (USD_COMM, USD_KEY, "IDR")):
            with self.subTest(comm=comm, ccy=ccy):
                f = self.fields(comm_code=comm, key=key, ccy=ccy)
                self.assert_fail(self.post(f), "0006", MSG_CCY, f["rq_uuid"])
        f = self.fields(comm_code=USD_COMM, key=USD_KEY, ccy="USD")
        self.assert_ok(self.post(f), 1)

    # -- step 9: invoices ------------------------------------------------------

    def test_invoices_not_an_object(self):
        for text in ("[]", "5", '"x"', "garbage", "null", "true", "{", '[{"A": 1}]',
                     '{"A": {}', "{A: 1}", '{"A": 1} x'):
            with self.subTest(invoices=text):
                f = self.fields(text)
                self.assert_fail(self.post(f), "0003", MSG_FORMAT % "invoices", f["rq_uuid"])
        # Invalid UTF-8 inside the JSON text (DECISIONS).
        f = self.fields()
        f["invoices"] = b'{"D\xff1": ' + json.dumps(invoice()).encode() + b"}"
        self.assert_fail(self.post(f), "0003", MSG_FORMAT % "invoices", f["rq_uuid"])

    def test_invoices_wrong_type_in_json_body(self):
        for value in ([], [invoice()], 5, True, "garbage", "[1]", '"{}"'):
            with self.subTest(invoices=value):
                f = self.json_fields()
                f["invoices"] = value
                self.assert_fail(self.post(f, form=False), "0003", MSG_FORMAT % "invoices", f["rq_uuid"])

    def test_duplicate_doc_no(self):
        a = json.dumps(invoice())
        d, e = uniq(), uniq()
        text = "{%s: %s, %s: %s}" % (json.dumps(d), a, json.dumps(d), a)
        f = self.fields(text, total=2)
        self.assert_fail(self.post(f), "0011", MSG_DUPDOC % d, f["rq_uuid"])
        # Not adjacent, and with different invoice values.
        text = "{%s: %s, %s: %s, %s: %s}" % (json.dumps(d), a, json.dumps(e), a,
                                             json.dumps(d), json.dumps(invoice(amount="1")))
        f = self.fields(text, total=3)
        self.assert_fail(self.post(f), "0011", MSG_DUPDOC % d, f["rq_uuid"])
        # The same key written with an escape is the same doc_no.
        text = '{"A%s": %s, "\\u0041%s": %s}' % (d, a, d, a)
        f = self.fields(text, total=2)
        self.assert_fail(self.post(f), "0011", MSG_DUPDOC % ("A" + d), f["rq_uuid"])
        # JSON body, invoices as an object written by hand.
        f = self.json_fields()
        del f["invoices"]
        f["total_invoices"] = 2
        body = json.dumps(f)[:-1] + ', "invoices": {%s: %s, %s: %s}}' % (
            json.dumps(e), a, json.dumps(e), a)
        self.assert_fail(self.post(body, form=False), "0011", MSG_DUPDOC % e, f["rq_uuid"])
        # Nothing stored.
        self.assertNotEqual(self.show(d).returncode, 0)
        self.assertNotEqual(self.show(e).returncode, 0)

    def test_empty_invoices_object(self):
        for text, total in (("{}", 1), ("{ \n }", 1), ("{}", 5)):
            with self.subTest(invoices=text, total=total):
                f = self.fields(text, total=total)
                self.assert_fail(self.post(f), "0001", MSG_MANDATORY % "invoices", f["rq_uuid"])
        f = self.json_fields()
        f["invoices"] = {}
        self.assert_fail(self.post(f, form=False), "0001", MSG_MANDATORY % "invoices", f["rq_uuid"])

    # -- step 10: counts -------------------------------------------------------

    def test_more_than_500_invoices(self):
        invs = {uniq("B%03d" % i): invoice() for i in range(501)}
        for total in (501, 500):
            with self.subTest(total=total):
                f = self.fields(invs, total=total)
                self.assert_fail(self.post(f), "0008", MSG_MAX, f["rq_uuid"])
        for total in ("501", "999"):
            with self.subTest(total=total, invoices=1):
                f = self.fields(total=total)
                self.assert_fail(self.post(f), "0008", MSG_MAX, f["rq_uuid"])
        f = self.json_fields(invs)
        self.assert_fail(self.post(f, form=False), "0008", MSG_MAX, f["rq_uuid"])
        self.assertNotEqual(self.show(next(iter(invs))).returncode, 0)

    def test_total_invoices_mismatch(self):
        two = {uniq(): invoice(), uniq(): invoice()}
        for invs, total in ((two, "1"), (two, "3"), ({uniq(): invoice()}, "2"),
                            ({uniq(): invoice()}, "500")):
            with self.subTest(n=len(invs), total=total):
                f = self.fields(invs, total=total)
                self.assert_fail(self.post(f), "0007", MSG_MISMATCH, f["rq_uuid"])
        f = self.json_fields(two)
        f["total_invoices"] = 3
        self.assert_fail(self.post(f, form=False), "0007", MSG_MISMATCH, f["rq_uuid"])
        for d in two:
            self.assertNotEqual(self.show(d).returncode, 0)

    # -- order: two faults, the earlier step wins ------------------------------

    def test_order_of_steps(self):
        old = self.now(-5000)
        dup = "{%s: %s, %s: %s}" % (json.dumps("DUP1"), json.dumps(invoice()),
                                    json.dumps("DUP1"), json.dumps(invoice()))

        def case(name, code, msg, mutate=None, **kw):
            with self.subTest(case=name):
                invs = kw.pop("invoices", None)
                f = self.fields(invs, **kw)
                if mutate:
                    mutate(f)
                self.assert_fail(self.post(f), code, msg, None)

        def badsig(f):
            f["signature"] = "0" * 64

        def drop(name):
            return lambda f: f.pop(name)

        case("bad signature + ccy USD", "0004", MSG_SIG, badsig, ccy="USD")
        case("bad signature + expired", "0004", MSG_SIG, badsig, rq_datetime=old)
        case("bad signature + invoices garbage", "0004", MSG_SIG, badsig, invoices="garbage")
        case("bad signature + count mismatch", "0004", MSG_SIG, badsig, total="7")
        case("expired + ccy USD", "0009", MSG_EXPIRED, rq_datetime=old, ccy="USD")
        case("expired + invoices garbage", "0009", MSG_EXPIRED, rq_datetime=old, invoices="[]")
        case("unknown community + bad signature", "0005", MSG_COMM, badsig, comm_code="NOSUCH")
        case("disabled community + bad signature", "0005", MSG_COMM, badsig, comm_code=OFF_COMM)
        case("unknown community + expired + USD", "0005", MSG_COMM, comm_code="NOSUCH",
             rq_datetime=old, ccy="USD")
        case("ccy malformed + total_invoices missing", "0001", MSG_MANDATORY % "total_invoices",
             drop("total_invoices"), ccy="idr")
        case("ccy malformed + unknown community", "0003", MSG_FORMAT % "ccy", comm_code="NOSUCH", ccy="idr")
        case("signature malformed + unknown community", "0003", MSG_FORMAT % "signature",
             lambda f: f.update(signature="xyz"), comm_code="NOSUCH")
        case("rq_datetime malformed + unknown community", "0003", MSG_FORMAT % "rq_datetime",
             comm_code="NOSUCH", rq_datetime="2026-02-30 10:00:00")
        case("total_invoices malformed + unknown community", "0003", MSG_FORMAT % "total_invoices",
             comm_code="NOSUCH", total="abc")
        case("total_invoices 0 + invoices {}", "0003", MSG_FORMAT % "total_invoices",
             invoices="{}", total="0")
        case("ccy USD + invoices garbage", "0006", MSG_CCY, ccy="USD", invoices="garbage")
        case("ccy USD + count mismatch", "0006", MSG_CCY, ccy="USD", total="9")
        case("ccy USD + 501 total", "0006", MSG_CCY, ccy="USD", total="501")
        case("invoices garbage + total 501", "0003", MSG_FORMAT % "invoices", invoices="[1, 2]", total="501")
        case("duplicate doc_no + count mismatch", "0011", MSG_DUPDOC % "DUP1", invoices=dup, total="5")
        case("duplicate doc_no + total 501", "0011", MSG_DUPDOC % "DUP1", invoices=dup, total="501")
        case("empty invoices + total 501", "0001", MSG_MANDATORY % "invoices", invoices="{}", total="501")
        case("total 501 + mismatch", "0008", MSG_MAX, total="501")
        bad_inv = {uniq(): invoice(amount="-1"), uniq(): invoice(member_code=None)}
        case("count mismatch + invalid invoices", "0007", MSG_MISMATCH, invoices=bad_inv, total="3")

    # -- idempotency relative to the other steps (1.4 steps 5-8, 1.5) -------------

    def test_processed_rq_uuid_checked_before_clock_and_ccy(self):
        invs = {uniq(): invoice()}
        f = self.fields(invs)
        st1, h1, obj1, raw1 = self.post(f)
        self.assert_ok((st1, h1, obj1, raw1), 1)
        rq = f["rq_uuid"]
        old = self.now(-5000)
        # Same payload, signed long after: replayed (step 6 before step 7).
        f2 = dict(f, rq_datetime=old, signature=sign(rq, old, COMM, KEY))
        st2, h2, obj2, raw2 = self.post(f2)
        self.assertEqual(raw2, raw1)
        self.assertEqual(st2, 200)
        self.assertEqual(h2.get("idempotent-replayed"), "true")
        # Different payload, expired and wrong currency: 0010 (step 6).
        f3 = self.fields({uniq(): invoice()}, rq_uuid=rq, rq_datetime=old, ccy="USD")
        self.assert_fail(self.post(f3), "0010", MSG_DUPREQ, rq)
        # Wrong signature: 0004 (step 5 before step 6).
        f4 = dict(f, signature="0" * 64)
        self.assert_fail(self.post(f4), "0004", MSG_SIG, rq)

    # -- response shape and storage -------------------------------------------

    def test_failure_shape(self):
        f = self.fields(ccy="USD")
        st, h, obj, raw = self.post(f)
        self.assert_fail((st, h, obj, raw), "0006", MSG_CCY, f["rq_uuid"])
        for k in TOP_KEYS:
            if k in ("invoices", "invoices_success", "invoices_error"):
                self.assertIsInstance(obj[k], dict)
            else:
                self.assertIsInstance(obj[k], str, k)
        # A malformed rq_uuid is not echoed; a well-formed one is, even when
        # another field is missing.
        f = self.fields(rq_uuid="bad\x02uuid")
        self.assert_fail(self.post(f), "0003", MSG_FORMAT % "rq_uuid", "")
        f = self.fields()
        del f["comm_code"]
        self.assert_fail(self.post(f), "0001", MSG_MANDATORY % "comm_code", f["rq_uuid"])

    def test_rejected_request_stores_nothing(self):
        d1, d2 = uniq("R"), uniq("R")
        invs = {d1: invoice(), d2: invoice(member_code="M2")}
        for d in (d1, d2):
            r = self.show(d)
            self.assertNotEqual(r.returncode, 0, r.stdout)
            self.assertTrue(r.stderr.strip())
        rq = uniq("U")
        rejections = [
            (dict(ccy="USD"), None, "0006"),
            (dict(total="3"), None, "0007"),
            (dict(rq_datetime=self.now(-5000)), None, "0009"),
            ({}, lambda f: f.update(signature="1" * 64), "0004"),
        ]
        for kw, mutate, code in rejections:
            with self.subTest(code=code):
                f = self.fields(invs, rq_uuid=rq, **kw)
                if mutate:
                    mutate(f)
                st, h, obj, raw = self.post(f)
                self.assertEqual(obj.get("error_code"), code, raw)
                for d in (d1, d2):
                    self.assertNotEqual(self.show(d).returncode, 0)
        # The same rq_uuid (never answered 0000) and the same doc_nos are
        # still free: accepted now.
        f = self.fields(invs, rq_uuid=rq)
        obj = self.assert_ok(self.post(f), 2, echo=rq)
        self.assertEqual(list(obj["invoices_success"]), [d1, d2])
        for d in (d1, d2):
            r = self.show(d)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(json.loads(r.stdout)["doc_no"], d)


class ClockSkewOffTest(Fixture):
    server_args = ("--clock-skew", "0")

    def test_any_datetime_accepted(self):
        for dt in ("2016-07-25 11:05:49", self.now(-86400 * 30), self.now(86400 * 10),
                   "0001-01-01 00:00:00", "9999-12-31 23:59:59"):
            with self.subTest(rq_datetime=dt):
                f = self.fields(rq_datetime=dt)
                self.assert_ok(self.post(f), 1, echo=f["rq_uuid"])

    def test_format_still_checked(self):
        f = self.fields(rq_datetime="2016-02-30 11:05:49")
        self.assert_fail(self.post(f), "0003", MSG_FORMAT % "rq_datetime", f["rq_uuid"])


class ClockSkewUtcTest(Fixture):
    server_args = ("--clock-skew", "60", "--utc-offset", "+00:00")
    offset_minutes = 0

    def test_skew_and_offset(self):
        self.assert_ok(self.post(self.fields(rq_datetime=self.now())), 1)
        self.assert_ok(self.post(self.fields(rq_datetime=self.now(-30))), 1)
        for dt in (self.now(-120), self.now(120), now_local(420)):
            with self.subTest(rq_datetime=dt):
                f = self.fields(rq_datetime=dt)
                self.assert_fail(self.post(f), "0009", MSG_EXPIRED, f["rq_uuid"])


if __name__ == "__main__":
    unittest.main()
