"""Concurrency (SPEC 1.5): racing requests with the same rq_uuid or the same
doc_no never both succeed, on one server or two sharing one database; a mixed
load gets distinct VA numbers and dense serials (SPEC 2)."""
import json
import sqlite3
import threading
import unittest

from harness import (COMM, PG, Server, ServerTest, cli, db_query, invoice, request_fields)

REPLAY = "idempotent-replayed"
PREFIX = {"008": "62806", "009": "88712"}


def luhn_ok(digits):
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def run_parallel(n, target, timeout=60):
    """Runs target(i) in n threads released together; returns results list."""
    barrier = threading.Barrier(n, timeout=15)
    results = [None] * n

    def worker(i):
        try:
            barrier.wait()
            results[i] = target(i)
        except Exception as e:  # recorded, asserted by the caller
            results[i] = e

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    alive = [t for t in threads if t.is_alive()]
    if alive:
        raise AssertionError("%d request threads did not finish" % len(alive))
    return results


def count_rows(db, doc_no):
    """COUNT of stored rows for doc_no, read-only; None if no table has a
    doc_no column (the schema is the server's business)."""
    if PG:
        return int(db_query(db, "SELECT count(*) FROM invoice WHERE doc_no = ?", (doc_no,))[0][0])
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=10)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for t in tables:
            if t.lower() not in ("invoice", "invoices"):
                continue
            cols = [r[1] for r in con.execute('PRAGMA table_info("%s")' % t.replace('"', '""'))]
            if "doc_no" in cols:
                return con.execute('SELECT COUNT(*) FROM "%s" WHERE doc_no = ?'
                                   % t.replace('"', '""'), (doc_no,)).fetchone()[0]
        return None
    finally:
        con.close()


class RaceCase(ServerTest):
    server_args = ("--threads", "8")

    def setUp(self):
        super().setUp()
        self.extra = []

    def tearDown(self):
        for s in self.extra:
            s.__exit__(None, None, None)
        super().tearDown()

    def show(self, doc):
        r = cli("invoice", "show", COMM, doc, db=self.db)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def check_one_stored(self, doc, winner_inv):
        inv = self.show(doc)
        self.assertEqual(inv["doc_ref_no"], winner_inv["doc_ref_no"])
        self.assertEqual({v["bank_code"]: v["va_number"] for v in inv["list_va"]},
                         {b: v["va_number"] for b, v in winner_inv["list_va"].items()})
        n = count_rows(self.db, doc)
        if n is not None:
            self.assertEqual(n, 1, "rows stored for %s" % doc)

    def same_uuid_race(self, servers, tag):
        invs = {"%s-A" % tag: invoice(), "%s-B" % tag: invoice(member_code="M002")}
        fields = request_fields(invs)

        def go(i):
            return servers[i % len(servers)].post_form(fields)

        res = run_parallel(16, go)
        for r in res:
            self.assertNotIsInstance(r, Exception, r)
        for st, h, body in res:
            self.assertEqual(st, 200, body)
            obj = json.loads(body)
            self.assertEqual(obj["error_code"], "0000", obj)
        firsts = [r for r in res if REPLAY not in r[1]]
        self.assertEqual(len(firsts), 1, "answers without the replay header: %d" % len(firsts))
        for st, h, body in res:
            if REPLAY in h:
                self.assertEqual(h[REPLAY], "true")
        bodies = {r[2] for r in res}
        self.assertEqual(len(bodies), 1, "answers differ")
        obj = json.loads(firsts[0][2])
        for doc in invs:
            self.assertEqual(obj["invoices"][doc]["error_code"], "0000", obj)
            self.check_one_stored(doc, obj["invoices"][doc])

    def same_doc_race(self, servers, tag):
        doc = "%s-DOC" % tag

        def go(i):
            return servers[i % len(servers)].post_form(request_fields({doc: invoice()}))

        res = run_parallel(16, go)
        for r in res:
            self.assertNotIsInstance(r, Exception, r)
        winners = []
        for st, h, body in res:
            self.assertEqual(st, 200, body)
            self.assertNotIn(REPLAY, h)
            obj = json.loads(body)
            self.assertEqual(obj["error_code"], "0000", obj)
            self.assertEqual(obj["total_invoice"], "1", obj)
            inv = obj["invoices"][doc]
            if inv["error_code"] == "0000":
                winners.append(inv)
                self.assertEqual(obj["invoices_success"], {doc: inv})
            else:
                self.assertEqual(inv, {"error_code": "0002",
                                       "error_msg": "Data already listed = Document No",
                                       "doc_ref_no": ""})
                self.assertEqual(obj["invoices_error"], {doc: inv})
        self.assertEqual(len(winners), 1, "invoice accepted %d times" % len(winners))
        self.check_one_stored(doc, winners[0])


class TestRaceOneServer(RaceCase):

    def test_same_rq_uuid_same_payload(self):
        for rnd in range(3):
            with self.subTest(round=rnd):
                self.same_uuid_race([self.server], "U%d" % rnd)

    def test_same_doc_no_distinct_rq_uuid(self):
        for rnd in range(3):
            with self.subTest(round=rnd):
                self.same_doc_race([self.server], "D%d" % rnd)

    def test_same_rq_uuid_different_payloads(self):
        u = "RACE-DIFF-UUID"

        def go(i):
            return self.server.post_form(request_fields({"RDP-%02d" % i: invoice()}, rq_uuid=u))

        res = run_parallel(16, go)
        for r in res:
            self.assertNotIsInstance(r, Exception, r)
        ok, dup = [], 0
        for i, (st, h, body) in enumerate(res):
            self.assertEqual(st, 200, body)
            self.assertNotIn(REPLAY, h)
            obj = json.loads(body)
            if obj["error_code"] == "0000":
                ok.append(i)
            else:
                self.assertEqual((obj["error_code"], obj["error_message"]),
                                 ("0010", "Duplicate request = rq_uuid"))
                self.assertEqual(obj["invoices"], {})
                dup += 1
        self.assertEqual(len(ok), 1, "answers 0000: %r" % ok)
        self.assertEqual(dup, 15)
        for i in range(16):
            r = cli("invoice", "show", COMM, "RDP-%02d" % i, db=self.db)
            self.assertEqual(r.returncode == 0, i == ok[0], (i, r.stdout, r.stderr))

    def test_mixed_load_dense_serials(self):
        nthreads, nbatches, per = 8, 10, 50

        def go(t):
            out = []
            for b in range(nbatches):
                docs = ["L%d-%d-%02d" % (t, b, i) for i in range(per)]
                invs = {d: invoice(member_code="M%d" % (t * 1000 + i)) for i, d in enumerate(docs)}
                st, h, body = self.server.post_form(request_fields(invs))
                out.append((docs, st, body))
            return out

        res = run_parallel(nthreads, go, timeout=50)
        for r in res:
            self.assertNotIsInstance(r, Exception, r)
        vas = {"008": [], "009": []}
        serials = []
        refs = []
        for out in res:
            for docs, st, body in out:
                self.assertEqual(st, 200, body[:300])
                obj = json.loads(body)
                self.assertEqual(obj["error_code"], "0000", obj.get("error_message"))
                self.assertEqual(list(obj["invoices"]), docs)
                self.assertEqual(len(obj["invoices_success"]), per)
                self.assertEqual(obj["total_invoice"], str(per))
                for d in docs:
                    inv = obj["invoices"][d]
                    self.assertEqual(inv["error_code"], "0000", inv)
                    refs.append(inv["doc_ref_no"])
                    self.assertEqual(sorted(inv["list_va"]), ["008", "009"])
                    ser = set()
                    for bank, va in inv["list_va"].items():
                        n = va["va_number"]
                        self.assertEqual(len(n), 16, n)
                        self.assertTrue(n.startswith(PREFIX[bank]), n)
                        self.assertTrue(luhn_ok(n), n)
                        vas[bank].append(n)
                        ser.add(int(n[len(PREFIX[bank]):-1]))
                    self.assertEqual(len(ser), 1, inv)
                    serials.append(ser.pop())
        total = nthreads * nbatches * per
        for bank in vas:
            self.assertEqual(len(vas[bank]), total)
            self.assertEqual(len(set(vas[bank])), total, "duplicate VA numbers on " + bank)
        self.assertEqual(len(set(refs)), total, "duplicate doc_ref_no")
        self.assertEqual(sorted(serials), list(range(1, total + 1)), "serials not dense")


class TestRaceTwoServers(RaceCase):

    def setUp(self):
        super().setUp()
        self.extra.append(Server(self.db, self.server_args))

    def test_same_rq_uuid_two_servers(self):
        for rnd in range(2):
            with self.subTest(round=rnd):
                self.same_uuid_race([self.server, self.extra[0]], "TU%d" % rnd)

    def test_same_doc_no_two_servers(self):
        for rnd in range(2):
            with self.subTest(round=rnd):
                self.same_doc_race([self.server, self.extra[0]], "TD%d" % rnd)


if __name__ == "__main__":
    unittest.main()
