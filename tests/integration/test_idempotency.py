"""Idempotency of sendinvoice (SPEC 1.5, with the processing order of 1.4)."""
import json
import signal
import time
import unittest

from harness import (COMM, KEY, Server, ServerTest, add_community, cli, invoice,
                     now_local, request_fields, sign)

REPLAY = "idempotent-replayed"


def two_invoices():
    return {
        "IDEM-A": invoice(member_code="MA01", amount="20000", total_amount="20000"),
        "IDEM-B": invoice(member_code="MB02", member_name="Siti Aminah", amount="150000.5",
                          total_amount="300000", installment_amount="150000.5"),
    }


def resign(fields, rq_datetime=None, key=KEY):
    """Same request, signed (again) at rq_datetime (default: now)."""
    f = dict(fields)
    f["rq_datetime"] = rq_datetime or now_local()
    f["signature"] = sign(f["rq_uuid"], f["rq_datetime"], f["comm_code"], key)
    return f


def serial(va, prefix):
    return int(va[len(prefix):-1])


class IdemCase(ServerTest):

    def post(self, fields, form=True):
        if form:
            st, h, body = self.server.post_form(fields)
        else:
            st, h, body = self.server.post_json(fields)
        return st, h, body

    def first(self, invs=None, **kw):
        invs = invs if invs is not None else two_invoices()
        fields = request_fields(invs, **kw)
        st, h, body = self.post(fields)
        self.assertEqual(st, 200, body)
        obj = json.loads(body)
        self.assertEqual(obj["error_code"], "0000", obj)
        self.assertNotIn(REPLAY, h, "first answer must not carry the replay header")
        return fields, body, obj

    def assertReplay(self, st, h, body, stored):
        self.assertEqual(st, 200, body)
        self.assertEqual(h.get(REPLAY), "true", h)
        self.assertEqual(body, stored, "replay is not byte-identical")
        self.assertTrue(h.get("content-type", "").startswith("application/json"), h)

    def assertTop(self, st, h, body, code, msg, rq_uuid):
        self.assertEqual(st, 200, body)
        self.assertNotIn(REPLAY, h)
        obj = json.loads(body)
        self.assertEqual(obj["error_code"], code, obj)
        self.assertEqual(obj["error_message"], msg, obj)
        self.assertEqual(obj["rq_uuid"], rq_uuid, obj)
        self.assertEqual(obj["invoices"], {}, obj)
        self.assertEqual(obj["invoices_success"], {}, obj)
        self.assertEqual(obj["invoices_error"], {}, obj)
        self.assertEqual(obj["total_invoice"], "0", obj)
        return obj

    def assert0010(self, st, h, body, rq_uuid):
        return self.assertTop(st, h, body, "0010", "Duplicate request = rq_uuid", rq_uuid)

    def show(self, doc, code=COMM):
        r = cli("invoice", "show", code, doc, db=self.db)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def absent(self, doc, code=COMM):
        r = cli("invoice", "show", code, doc, db=self.db)
        self.assertNotEqual(r.returncode, 0, r.stdout)


class TestReplay(IdemCase):

    def test_same_payload_replays_byte_identical(self):
        fields, body, obj = self.first()
        va_a = {b: v["va_number"] for b, v in obj["invoices"]["IDEM-A"]["list_va"].items()}
        va_b = {b: v["va_number"] for b, v in obj["invoices"]["IDEM-B"]["list_va"].items()}
        self.assertEqual(serial(va_a["008"], "62806"), 1)
        self.assertEqual(serial(va_b["008"], "62806"), 2)
        before = json.loads(cli("community", "show", COMM, db=self.db).stdout)
        time.sleep(1.1)  # a regenerated answer would carry a new rs_datetime
        for _ in range(3):
            st, h, rbody = self.post(fields)
            self.assertReplay(st, h, rbody, body)
        after = json.loads(cli("community", "show", COMM, db=self.db).stdout)
        self.assertEqual(before.get("next_serial"), after.get("next_serial"))
        # nothing new stored: the invoices still have the first VA numbers
        for doc, vas in (("IDEM-A", va_a), ("IDEM-B", va_b)):
            inv = self.show(doc)
            self.assertEqual({v["bank_code"]: v["va_number"] for v in inv["list_va"]}, vas)
            self.assertEqual(inv["doc_ref_no"], obj["invoices"][doc]["doc_ref_no"])
            self.assertEqual(inv["rq_uuid"], fields["rq_uuid"])
        # the next request gets the next serial: the replays consumed none
        st, h, nbody = self.post(request_fields({"IDEM-C": invoice()}))
        nobj = json.loads(nbody)
        self.assertEqual(nobj["invoices"]["IDEM-C"]["error_code"], "0000", nobj)
        for bank, prefix in (("008", "62806"), ("009", "88712")):
            va = nobj["invoices"]["IDEM-C"]["list_va"][bank]["va_number"]
            self.assertEqual(serial(va, prefix), 3, va)

    def test_replay_big_batch_and_odd_rq_uuid(self):
        invs = {"BIG-%03d" % i: invoice(member_code="M%d" % i) for i in range(500)}
        u = ('odd "uuid" \\ with %41 + & = # ' + "x" * 255)[:255]
        fields, body, obj = self.first(invs, rq_uuid=u)
        self.assertEqual(obj["rq_uuid"], u)
        self.assertEqual(len(obj["invoices_success"]), 500)
        st, h, rbody = self.post(resign(fields))
        self.assertReplay(st, h, rbody, body)
        j = resign(fields)
        j["invoices"] = invs
        j["total_invoices"] = 500
        st, h, rbody = self.post(j, form=False)
        self.assertReplay(st, h, rbody, body)

    def test_replay_signed_later(self):
        fields, body, obj = self.first(rq_datetime=now_local(delta_seconds=-5))
        time.sleep(1.1)
        later = resign(fields)
        self.assertNotEqual(later["rq_datetime"], fields["rq_datetime"])
        st, h, rbody = self.post(later)
        self.assertReplay(st, h, rbody, body)
        # and upper-case hex signature on the retry
        later2 = resign(fields)
        later2["signature"] = later2["signature"].upper()
        st, h, rbody = self.post(later2)
        self.assertReplay(st, h, rbody, body)

    def test_replay_json_of_form_request(self):
        invs = two_invoices()
        fields, body, obj = self.first(invs)
        # JSON body, invoices as an object, member order reversed, total as number
        j = resign(fields)
        j["invoices"] = {d: dict(reversed(list(inv.items()))) for d, inv in invs.items()}
        j["total_invoices"] = 2
        st, h, rbody = self.post(j, form=False)
        self.assertReplay(st, h, rbody, body)
        # JSON body, invoices as a string with other whitespace, total as "2"
        j = resign(fields)
        j["invoices"] = json.dumps(invs, indent=3, separators=(" ,  ", " :\t"))
        j["total_invoices"] = "2"
        st, h, rbody = self.post(j, form=False)
        self.assertReplay(st, h, rbody, body)
        # form body, whitespace and member order differ
        f = resign(fields)
        f["invoices"] = "\n " + json.dumps(
            {d: dict(sorted(inv.items())) for d, inv in invs.items()}, indent=1) + " \n"
        st, h, rbody = self.post(f)
        self.assertReplay(st, h, rbody, body)
        # DECISIONS: strings compare after unescaping
        f = resign(fields)
        text = json.dumps(invs)
        self.assertIn('"Siti Aminah"', text)
        f["invoices"] = text.replace('"Siti Aminah"', '"Siti \\u0041minah"')
        st, h, rbody = self.post(f)
        self.assertReplay(st, h, rbody, body)

    def test_replay_equivalent_spellings(self):
        invs = {"IDEM-A": invoice(member_name="Jos\u00e9 Ram\u00edrez"), "IDEM-B": invoice()}
        text = json.dumps(invs, ensure_ascii=False)
        self.assertIn("Jos\u00e9", text)
        fields, body, obj = self.first(text, total=2)   # raw UTF-8 first
        variants = {
            "escaped non-ASCII": text.replace("Jos\u00e9", "Jos\\u00e9"),
            "escaped doc_no": text.replace('"IDEM-A"', '"IDEM-\\u0041"'),
            "escaped digits": text.replace('"M001"', '"M\\u0030\\u00301"'),
        }
        for name, t in variants.items():
            with self.subTest(variant=name):
                self.assertNotEqual(t, text)
                f = resign(fields)
                f["invoices"] = t
                st, h, rbody = self.post(f)
                self.assertReplay(st, h, rbody, body)
        for total in ("02", "002"):
            with self.subTest(total=total):
                f = resign(fields)
                f["total_invoices"] = total
                st, h, rbody = self.post(f)
                self.assertReplay(st, h, rbody, body)
        # unknown top-level fields are not part of the payload
        f = resign(fields)
        f["extra_field"] = "whatever"
        st, h, rbody = self.post(f)
        self.assertReplay(st, h, rbody, body)

    def test_json_numbers_compare_by_text(self):
        invs = {"NUM-A": invoice(amount=20000, total_amount=20000, installment_amount=20000)}
        fields = request_fields(invs)
        j = dict(fields)
        j["invoices"] = invs
        j["total_invoices"] = 1
        st, h, body = self.post(j, form=False)
        self.assertEqual(json.loads(body)["error_code"], "0000", body)
        # same text: replay
        j2 = resign(fields)
        j2["invoices"] = json.dumps(invs, indent=2)
        st, h, rbody = self.post(j2, form=False)
        self.assertReplay(st, h, rbody, body)
        # DECISIONS: numbers compare by their text, 20000.00 is not 20000
        j3 = resign(fields)
        j3["invoices"] = json.dumps(invs).replace('"amount": 20000,', '"amount": 20000.00,')
        self.assertIn("20000.00", j3["invoices"])
        st, h, rbody = self.post(j3, form=False)
        self.assert0010(st, h, rbody, fields["rq_uuid"])

    def test_replay_of_json_request_as_form(self):
        invs = two_invoices()
        fields = request_fields(invs)
        j = dict(fields)
        j["invoices"] = invs
        j["total_invoices"] = 2
        st, h, body = self.post(j, form=False)
        self.assertEqual(json.loads(body)["error_code"], "0000", body)
        self.assertNotIn(REPLAY, h)
        st, h, rbody = self.post(resign(fields))
        self.assertReplay(st, h, rbody, body)

    def test_changed_payload_is_0010(self):
        invs = two_invoices()
        fields, body, obj = self.first(invs)
        u = fields["rq_uuid"]

        def with_invs(new, total=None):
            f = resign(fields)
            f["invoices"] = new if isinstance(new, str) else json.dumps(new)
            f["total_invoices"] = str(total if total is not None else len(new))
            return f

        a, b = invs["IDEM-A"], invs["IDEM-B"]
        variants = {
            "amount": with_invs({"IDEM-A": dict(a, amount="15000"), "IDEM-B": b}),
            "doc order": with_invs({"IDEM-B": b, "IDEM-A": a}),
            "number vs string": with_invs({"IDEM-A": dict(a, amount=20000), "IDEM-B": b}),
            "installments 1 vs '1'": with_invs(
                {"IDEM-A": dict(a, number_of_installment="1"), "IDEM-B": b}),
            "extra invoice": with_invs({"IDEM-A": a, "IDEM-B": b, "IDEM-Z": invoice()}),
            "fewer invoices": with_invs({"IDEM-A": a}),
            "extra member": with_invs({"IDEM-A": dict(a, note="x"), "IDEM-B": b}),
            "member removed": with_invs(
                {"IDEM-A": {k: v for k, v in a.items() if k != "description"}, "IDEM-B": b}),
            "other doc_no": with_invs({"IDEM-A2": a, "IDEM-B": b}),
            # step 6 comes before step 10: a total mismatch of a new payload is 0010
            "total 3": with_invs(invs, total=3),
            # step 6 before step 9: invoices that do not parse differ too
            "invoices not json": with_invs("{not json", total=2),
        }
        ccy = resign(fields)
        ccy["ccy"] = "USD"       # well formed, wrong: step 6 comes before step 8
        variants["ccy USD"] = ccy
        old = resign(fields, now_local(delta_seconds=-3600))
        old["invoices"] = json.dumps({"IDEM-A": dict(a, amount="1"), "IDEM-B": b})
        variants["changed and expired"] = old   # step 6 before step 7
        jnum = resign(fields)
        jnum["invoices"] = {"IDEM-A": dict(a, total_amount=20000), "IDEM-B": b}
        jnum["total_invoices"] = 2
        variants["json body number vs string"] = ("json", jnum)

        for name, f in variants.items():
            with self.subTest(variant=name):
                if isinstance(f, tuple):
                    st, h, rbody = self.post(f[1], form=False)
                else:
                    st, h, rbody = self.post(f)
                self.assert0010(st, h, rbody, u)
        # nothing of those was stored, and the original still replays
        self.absent("IDEM-Z")
        self.absent("IDEM-A2")
        self.assertEqual(self.show("IDEM-A")["amount"], "20000.00")
        st, h, rbody = self.post(resign(fields))
        self.assertReplay(st, h, rbody, body)

    def test_ccy_format_checked_before_idempotency(self):
        fields, body, obj = self.first()
        f = resign(fields)
        f["ccy"] = "usd"
        st, h, rbody = self.post(f)
        self.assertTop(st, h, rbody, "0003", "Invalid format = ccy", fields["rq_uuid"])

    def test_bad_signature_replay_is_0004(self):
        fields, body, obj = self.first()
        f = dict(fields)
        f["signature"] = sign(f["rq_uuid"], f["rq_datetime"], COMM, "notthekey")
        st, h, rbody = self.post(f)
        self.assertNotEqual(rbody, body)
        self.assertTop(st, h, rbody, "0004", "Invalid signature", fields["rq_uuid"])
        # changed payload with a bad signature: still 0004 (step 5 before 6)
        f["invoices"] = json.dumps({"X": invoice()})
        f["total_invoices"] = "1"
        st, h, rbody = self.post(f)
        self.assertTop(st, h, rbody, "0004", "Invalid signature", fields["rq_uuid"])

    def test_replay_outside_clock_skew_still_replays(self):
        fields, body, obj = self.first()
        old = resign(fields, now_local(delta_seconds=-3600))
        st, h, rbody = self.post(old)
        self.assertReplay(st, h, rbody, body)
        future = resign(fields, now_local(delta_seconds=+3600))
        st, h, rbody = self.post(future)
        self.assertReplay(st, h, rbody, body)
        # control: a new rq_uuid at that time is refused
        f = request_fields({"SKEW-NEW": invoice()}, rq_datetime=now_local(delta_seconds=-3600))
        st, h, rbody = self.post(f)
        self.assertTop(st, h, rbody, "0009", "Request expired = rq_datetime", f["rq_uuid"])

    def test_disabled_community_refuses_replay(self):
        fields, body, obj = self.first()
        r = cli("community", "disable", COMM, db=self.db)
        self.assertEqual(r.returncode, 0, r.stderr)
        st, h, rbody = self.post(resign(fields))
        self.assertTop(st, h, rbody, "0005", "Data not listed = Community Code", fields["rq_uuid"])
        r = cli("community", "enable", COMM, db=self.db)
        self.assertEqual(r.returncode, 0, r.stderr)
        st, h, rbody = self.post(resign(fields))
        self.assertReplay(st, h, rbody, body)

    def test_format_error_on_replay_is_0003(self):
        fields, body, obj = self.first()
        f = resign(fields)
        f["total_invoices"] = "two"
        st, h, rbody = self.post(f)
        self.assertTop(st, h, rbody, "0003", "Invalid format = total_invoices", fields["rq_uuid"])

    def test_same_rq_uuid_other_community_is_independent(self):
        fields, body, obj = self.first()
        add_community(self.db, code="OTHERCO", key="otherkey123",
                      banks=["008:62807", "009:88713"])
        invs = two_invoices()
        f = request_fields(invs, rq_uuid=fields["rq_uuid"], comm_code="OTHERCO", key="otherkey123")
        st, h, rbody = self.post(f)
        self.assertEqual(st, 200, rbody)
        self.assertNotIn(REPLAY, h)
        o = json.loads(rbody)
        self.assertEqual(o["error_code"], "0000", o)
        self.assertEqual(o["invoices"]["IDEM-A"]["error_code"], "0000", o)
        self.assertTrue(o["invoices"]["IDEM-A"]["list_va"]["008"]["va_number"].startswith("62807"))


class TestNotRemembered(IdemCase):

    def test_request_level_rejections_not_remembered(self):
        invs = {"NR-1": invoice()}
        u = "NR-UUID-1"
        cases = [
            (request_fields(invs, rq_uuid=u, total=2), "0007", "Total invoices mismatch"),
            (request_fields(invs, rq_uuid=u, ccy="USD"), "0006", "Invalid currency = ccy"),
            (request_fields(invs, rq_uuid=u, rq_datetime=now_local(delta_seconds=-7200)),
             "0009", "Request expired = rq_datetime"),
            (request_fields(invs, rq_uuid=u, key="wrong"), "0004", "Invalid signature"),
            (request_fields({}, rq_uuid=u, total=1), "0001", "Mandatory field left empty = invoices"),
        ]
        for f, code, msg in cases:
            with self.subTest(code=code):
                st, h, body = self.post(f)
                self.assertTop(st, h, body, code, msg, u)
        self.absent("NR-1")
        # the same rq_uuid now succeeds
        f = request_fields(invs, rq_uuid=u)
        st, h, body = self.post(f)
        self.assertEqual(st, 200)
        self.assertNotIn(REPLAY, h)
        obj = json.loads(body)
        self.assertEqual(obj["error_code"], "0000", obj)
        self.assertEqual(obj["invoices"]["NR-1"]["error_code"], "0000", obj)
        self.assertEqual(self.show("NR-1")["rq_uuid"], u)
        # and is now remembered
        st, h, rbody = self.post(resign(f))
        self.assertReplay(st, h, rbody, body)

    def test_all_invoices_failed_is_remembered(self):
        self.first({"DUP-1": invoice()})
        # every invoice fails at invoice level: still 0000 at the top
        invs = {"DUP-1": invoice(), "BAD-MC": invoice(member_code=None)}
        fields = request_fields(invs)
        st, h, body = self.post(fields)
        self.assertEqual(st, 200)
        self.assertNotIn(REPLAY, h)
        obj = json.loads(body)
        self.assertEqual(obj["error_code"], "0000", obj)
        self.assertEqual(obj["error_message"], "Success", obj)
        self.assertEqual(obj["invoices"]["DUP-1"],
                         {"error_code": "0002", "error_msg": "Data already listed = Document No",
                          "doc_ref_no": ""})
        self.assertEqual(obj["invoices"]["BAD-MC"],
                         {"error_code": "0001", "error_msg": "Mandatory field left empty = Member Code",
                          "doc_ref_no": ""})
        self.assertEqual(obj["invoices_success"], {})
        self.assertEqual(obj["total_invoice"], "2")
        self.absent("BAD-MC")
        time.sleep(1.1)
        st, h, rbody = self.post(resign(fields))
        self.assertReplay(st, h, rbody, body)
        # a fixed payload under the same rq_uuid is a duplicate request
        f = resign(fields)
        f["invoices"] = json.dumps({"DUP-1": invoice(), "BAD-MC": invoice()})
        st, h, rbody = self.post(f)
        self.assert0010(st, h, rbody, fields["rq_uuid"])
        self.absent("BAD-MC")


class TestRestart(IdemCase):

    def test_replay_after_restart(self):
        fields, body, obj = self.first()
        self.assertEqual(self.server.stop(signal.SIGTERM), 0)
        self.server = Server(self.db)
        st, h, rbody = self.post(fields)
        self.assertReplay(st, h, rbody, body)
        st, h, rbody = self.post(resign(fields))
        self.assertReplay(st, h, rbody, body)
        f = resign(fields)
        f["invoices"] = json.dumps({"IDEM-A": invoice()})
        f["total_invoices"] = "1"
        st, h, rbody = self.post(f)
        self.assert0010(st, h, rbody, fields["rq_uuid"])


if __name__ == "__main__":
    unittest.main()
