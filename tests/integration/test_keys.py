"""Key rotation (issue 7): `vabill community set-key CODE --key NEW
[--grace MINUTES]`.  The new key holds at once, on running servers too;
the previous one is accepted only during the grace period; keys are never
printed."""
import json
import time

from harness import (COMM, KEY, ServerTest, cli, db_exec, invoice, now_local, request_fields,
                     sign)

NEW_KEY = "n3w-k3y-0f-sgwtes"


class KeyRotation(ServerTest):
    def post(self, doc, key):
        st, h, body = self.server.post_form(request_fields({doc: invoice()}, key=key))
        self.assertEqual(st, 200, body)
        return json.loads(body)

    def assert_signature(self, doc, key, ok):
        obj = self.post(doc, key)
        if ok:
            self.assertEqual(obj["error_code"], "0000", obj)
            self.assertEqual(obj["invoices"][doc]["error_code"], "0000", obj)
        else:
            self.assertEqual(obj["error_code"], "0004", obj)
            self.assertEqual(obj["error_message"], "Invalid signature")

    def test_rotation_with_grace(self):
        r = cli("community", "set-key", COMM, "--key", NEW_KEY, "--grace", "10", db=self.db)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn(NEW_KEY, r.stdout + r.stderr)
        self.assert_signature("ROT-1", NEW_KEY, True)
        self.assert_signature("ROT-2", KEY, True)  # the old key, within its grace
        # partner services accept both keys during the grace period too
        for key in (NEW_KEY, KEY):
            fields = {"rq_uuid": "S-" + key[:3], "rq_datetime": now_local(), "comm_code": COMM,
                      "doc_no": "ROT-1"}
            fields["signature"] = sign(fields["rq_uuid"], fields["rq_datetime"] + "##" + COMM,
                                       "ROT-1", key, "CHECKSTATUS")
            st, h, body = self.server.post_form(fields, path="/rest/virtualaccount/checkstatus")
            self.assertEqual(json.loads(body)["error_code"], "0000", body)
        # the grace period ends: the old key is refused, the new one still holds
        db_exec(self.db, "UPDATE community SET old_key_until = ? WHERE code = ?",
                (int(time.time()) - 1, COMM))
        self.assert_signature("ROT-3", KEY, False)
        self.assert_signature("ROT-4", NEW_KEY, True)

    def test_rotation_without_grace(self):
        r = cli("community", "set-key", COMM, "--key", NEW_KEY, db=self.db)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assert_signature("NOG-1", KEY, False)
        self.assert_signature("NOG-2", NEW_KEY, True)
        # rotating again: the key before last is gone for good
        r = cli("community", "set-key", COMM, "--key", "third-key-x", "--grace", "5", db=self.db)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assert_signature("NOG-3", KEY, False)
        self.assert_signature("NOG-4", NEW_KEY, True)
        self.assert_signature("NOG-5", "third-key-x", True)

    def test_keys_are_never_printed(self):
        cli("community", "set-key", COMM, "--key", NEW_KEY, "--grace", "10", db=self.db)
        for args in (("community", "list"), ("community", "show", COMM)):
            r = cli(*args, db=self.db)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertNotIn(NEW_KEY, r.stdout)
            self.assertNotIn(KEY, r.stdout)
        self.assert_signature("LOG-1", NEW_KEY, True)
        self.server.stop()
        log = "".join(self.server.stderr_lines)
        self.assertNotIn(NEW_KEY, log)
        self.assertNotIn(KEY, log)

    def test_refusals(self):
        cases = [
            (("community", "set-key", "NOPE", "--key", NEW_KEY), 1),
            (("community", "set-key", COMM), 2),
            (("community", "set-key", COMM, "--key", "has blank"), 1),
            (("community", "set-key", COMM, "--key", NEW_KEY, "--grace", "-1"), 1),
            (("community", "set-key", COMM, "--key", NEW_KEY, "--bogus", "1"), 2),
        ]
        for args, code in cases:
            r = cli(*args, db=self.db)
            self.assertEqual(r.returncode, code, (args, r.stderr))
            self.assertTrue(r.stderr.startswith("vabill: "), r.stderr)
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        # nothing changed: the original key still holds
        self.assert_signature("REF-1", KEY, True)


if __name__ == "__main__":
    import unittest
    unittest.main()
