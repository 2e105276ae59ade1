"""A database left by an older vabill opens with this one.

On SQLite, migration 5 rewrites the status CHECKs of `invoice` and
`notification` from IN lists to comparisons, in place, and migration 6 drops
the `va` table (VA numbers are derived from channel and serial).  Batch
answers are remembered as records, where older versions stored the answer
itself.  A database at schema version 4, with its VA rows and an answer
stored whole:

- opens at version 6 with the CHECKs as comparisons, no `va` table, and
  integrity_check ok;
- the old answer still replays byte for byte, its invoices show the VA
  numbers it gave, a bank finds them by VA number, and new batches are
  accepted;
- the CHECKs still refuse a status other than open / paid / closed.

On PostgreSQL migrations 5 and 6 change nothing; the stored-whole answer
replays the same way.
"""
import json
import sqlite3
import unittest

from harness import (COMM, PG, Server, ServerTest, cli, db_exec, db_query, invoice, request_fields,
                     sqlite_only)
from test_payment import BANK_KEYS, INQ, inquiry_fields, post5

CHECKS = (
    ("invoice", "CHECK (status IN ('open', 'paid', 'closed'))",
     "CHECK (status = 'open' OR status = 'paid' OR status = 'closed')"),
    ("notification", "CHECK (status IN ('pending', 'delivered', 'failed'))",
     "CHECK (status = 'pending' OR status = 'delivered' OR status = 'failed')"),
)


def table_sql(db, table):
    return db_query(db, "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?",
                    (table,))[0][0]


class Migration(ServerTest):
    def accept(self, docs):
        fields = request_fields({d: invoice() for d in docs})
        st, h, body = self.server.post_form(fields)
        self.assertEqual(st, 200, body)
        obj = json.loads(body)
        self.assertEqual([v["error_code"] for v in obj["invoices"].values()], ["0000"] * len(docs))
        return fields, body

    def store_whole(self, rq_uuid, body):
        """What versions before the answer record kept for rq_uuid."""
        sql = ("UPDATE request SET response = convert_to(?, 'UTF8') WHERE rq_uuid = ?" if PG
               else "UPDATE request SET response = CAST(? AS BLOB) WHERE rq_uuid = ?")
        self.assertEqual(db_exec(self.db, sql, (body.decode(), rq_uuid)), 1)

    def downgrade_to_4(self, answer):
        """The schema as versions 4 and older wrote it, with the VA rows of the
        invoices in answer."""
        con = sqlite3.connect(self.db, isolation_level=None, timeout=10)
        try:
            con.execute("BEGIN IMMEDIATE")
            cookie = con.execute("PRAGMA schema_version").fetchone()[0]
            con.execute("PRAGMA writable_schema = ON")
            for table, old, new in CHECKS:
                n = con.execute("UPDATE sqlite_schema SET sql = replace(sql, ?, ?)"
                                " WHERE type = 'table' AND name = ? AND instr(sql, ?) > 0",
                                (new, old, table, new)).rowcount
                self.assertEqual(n, 1, table)
            con.execute("PRAGMA schema_version = %d" % (cookie + 1))
            con.execute("PRAGMA writable_schema = OFF")
            con.execute("CREATE TABLE va (bank_code TEXT NOT NULL, va_number TEXT NOT NULL,"
                        " invoice_id INTEGER NOT NULL REFERENCES invoice(id),"
                        " PRIMARY KEY (bank_code, va_number)) WITHOUT ROWID")
            con.execute("CREATE INDEX va_invoice ON va(invoice_id)")
            for doc, a in json.loads(answer)["invoices"].items():
                for bank, v in a["list_va"].items():
                    con.execute("INSERT INTO va SELECT ?, ?, id FROM invoice WHERE doc_no = ?",
                                (bank, v["va_number"], doc))
            con.execute("DELETE FROM schema_version WHERE version >= 5")
            con.execute("COMMIT")
        finally:
            con.close()
        for table, old, new in CHECKS:
            self.assertIn(old, table_sql(self.db, table))

    def test_answer_stored_whole_still_replays(self):
        fields, body = self.accept(["MIG-OLD-1", "MIG-OLD-2"])
        self.server.stop()
        self.store_whole(fields["rq_uuid"], body)
        self.server = Server(self.db, self.server_args)
        st, h, again = self.server.post_form(fields)
        self.assertEqual((st, h.get("idempotent-replayed")), (200, "true"))
        self.assertEqual(again, body)
        self.accept(["MIG-NEW-1"])

    @sqlite_only
    def test_version_4_database_migrates_in_place(self):
        fields, body = self.accept(["MIG-1", "MIG-2", "MIG-3"])
        self.server.stop()
        self.downgrade_to_4(body)
        self.store_whole(fields["rq_uuid"], body)
        self.assertEqual(db_query(self.db, "SELECT max(version) FROM schema_version"), [(4,)])
        self.assertEqual(db_query(self.db, "SELECT count(*) FROM va"), [(6,)])

        self.server = Server(self.db, self.server_args)
        self.assertEqual(db_query(self.db, "SELECT max(version) FROM schema_version"), [(6,)])
        for table, old, new in CHECKS:
            text = table_sql(self.db, table)
            self.assertIn(new, text)
            self.assertNotIn(old, text)
        self.assertEqual(db_query(self.db, "SELECT name FROM sqlite_schema WHERE name LIKE 'va%'"),
                         [])
        self.assertEqual(db_query(self.db, "PRAGMA integrity_check"), [("ok",)])

        # the VA numbers the old answer gave are the invoices' VA numbers
        for doc, a in json.loads(body)["invoices"].items():
            shown = cli("invoice", "show", COMM, doc, db=self.db)
            self.assertEqual(shown.returncode, 0, shown.stderr)
            self.assertEqual({v["bank_code"]: v["va_number"]
                              for v in json.loads(shown.stdout)["list_va"]},
                             {b: v["va_number"] for b, v in a["list_va"].items()})
        # and a bank's inquiry finds each invoice by its VA number
        for b in ("008", "009"):
            r = cli("bank", "add", b, "--key", BANK_KEYS[b], db=self.db)
            self.assertEqual(r.returncode, 0, r.stderr)
        for doc, a in json.loads(body)["invoices"].items():
            for b, v in a["list_va"].items():
                st, h, obj, raw = post5(self.server, INQ, inquiry_fields(b, v["va_number"]))
                self.assertEqual((st, obj["error_code"], obj.get("doc_no")), (200, "0000", doc),
                                 raw)

        # what was there is there, the old answer replays, new batches go in
        st, h, again = self.server.post_form(fields)
        self.assertEqual((st, h.get("idempotent-replayed")), (200, "true"))
        self.assertEqual(again, body)
        self.accept(["MIG-4", "MIG-5"])
        shown = cli("invoice", "show", COMM, "MIG-2", db=self.db)
        self.assertEqual(shown.returncode, 0, shown.stderr)
        self.assertEqual(json.loads(shown.stdout)["status"], "open")

        # the rewritten CHECKs hold as before
        with self.assertRaisesRegex(sqlite3.IntegrityError, "CHECK constraint failed"):
            db_exec(self.db, "UPDATE invoice SET status = 'gone' WHERE doc_no = 'MIG-1'")
        self.assertEqual(db_exec(self.db, "UPDATE invoice SET status = 'closed'"
                                          " WHERE doc_no = 'MIG-1'"), 1)

    @unittest.skipUnless(PG, "PostgreSQL only")
    def test_postgresql_is_at_version_6(self):
        self.assertEqual(db_query(self.db, "SELECT max(version) FROM schema_version"), [("6",)])


if __name__ == "__main__":
    unittest.main()
