"""Several vabilld on one PostgreSQL database (issue 4): the guarantees of
SPEC 1.5 and 5.2 hold across servers because the database enforces them.

- two servers starting at once on an empty database migrate it once;
- threads racing one doc_no, one rq_uuid (same and different payloads), one
  invoice's payments and one payment_ref, spread over both servers: one
  winner, the others 0002 / replay / 0010 / 0015 / replay, never 0099;
- serials never reused across servers;
- every notification is sent once although both servers deliver;
- the database restarts mid-run: what was answered 0000 is all there, the
  rest is retried with the same rq_uuid to success, /healthz says 503 while
  the database is down and the servers keep serving once it is back.

Runs under VABILL_TEST_PG=1 only (the harness owns the throwaway cluster).
"""
import json
import os
import shutil
import tempfile
import threading
import time
import unittest
import uuid

import harness
from harness import COMM, PG, Server, add_community, cli, db_query, invoice, request_fields
from test_notify import Receiver
from test_payment import BANK_KEYS, payment_fields
from test_race import run_parallel

REPLAY = "idempotent-replayed"
PREFIX = {"008": "62806", "009": "88712"}


def serial_of(va, bank):
    return int(va[len(PREFIX[bank]):-1])


@unittest.skipUnless(PG, "needs VABILL_TEST_PG=1 (a PostgreSQL cluster)")
class TwoServers(unittest.TestCase):
    """Community SGWTES, banks 008 and 009, two servers on one database."""

    server_args = ("--threads", "6", "--notify-speedup", "600")

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vabill-pgc-")
        self.db = os.path.join(self.tmp, "vabill.db")
        self.receiver = Receiver()
        add_community(self.db, extra=["--notify-url", self.receiver.url])
        for b in ("008", "009"):
            r = cli("bank", "add", b, "--key", BANK_KEYS[b], db=self.db)
            self.assertEqual(r.returncode, 0, r.stderr)
        self.servers = [Server(self.db, self.server_args) for _ in range(2)]

    def tearDown(self):
        for s in self.servers:
            s.__exit__(None, None, None)
        self.receiver.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def post(self, i, fields, path=harness.PATH):
        st, h, raw = self.servers[i % 2].post_form(fields, path=path)
        return st, h, raw

    def show(self, doc):
        r = cli("invoice", "show", COMM, doc, db=self.db)
        return json.loads(r.stdout) if r.returncode == 0 else None

    def test_servers_starting_together_migrate_once(self):
        db = os.path.join(self.tmp, "fresh.db")
        got = run_parallel(4, lambda i: Server(db, ("--threads", "2")), timeout=60)
        try:
            for s in got:
                self.assertIsInstance(s, Server, s)
            rows = db_query(db, "SELECT version FROM schema_version ORDER BY version")
            self.assertEqual([r[0] for r in rows], ["1", "2", "3", "4", "5", "6"])
        finally:
            for s in got:
                if isinstance(s, Server):
                    s.__exit__(None, None, None)

    def test_same_doc_no_across_servers(self):
        for round_ in range(3):
            doc = "PGD-%d" % round_

            def go(i):
                f = request_fields({doc: invoice(member_code="M%d" % i)})
                return self.post(i, f)

            res = run_parallel(12, go)
            codes = []
            for r in res:
                self.assertNotIsInstance(r, Exception, r)
                st, h, raw = r
                self.assertEqual(st, 200, raw[:300])
                obj = json.loads(raw)
                self.assertEqual(obj["error_code"], "0000", obj)
                codes.append(obj["invoices"][doc]["error_code"])
            self.assertEqual(codes.count("0000"), 1, codes)
            self.assertEqual(codes.count("0002"), 11, codes)
            n = db_query(self.db, "SELECT count(*) FROM invoice WHERE doc_no = ?", (doc,))
            self.assertEqual(n[0][0], "1")

    def test_same_rq_uuid_across_servers(self):
        for round_ in range(3):
            invs = {"PGU-%d-A" % round_: invoice(), "PGU-%d-B" % round_: invoice(member_code="B")}
            fields = request_fields(invs)
            res = run_parallel(12, lambda i: self.post(i, fields))
            bodies, fresh = set(), 0
            for r in res:
                self.assertNotIsInstance(r, Exception, r)
                st, h, raw = r
                self.assertEqual(st, 200, raw[:300])  # never a 0099
                bodies.add(raw)
                if h.get(REPLAY) != "true":
                    fresh += 1
            self.assertEqual(len(bodies), 1, "the replays differ from the answer")
            self.assertEqual(fresh, 1)
            obj = json.loads(bodies.pop())
            self.assertEqual([v["error_code"] for v in obj["invoices"].values()], ["0000"] * 2)
            for doc in invs:
                n = db_query(self.db, "SELECT count(*) FROM invoice WHERE doc_no = ?", (doc,))
                self.assertEqual(n[0][0], "1")

    def test_same_rq_uuid_other_payloads_across_servers(self):
        u = "PGX-" + uuid.uuid4().hex

        def go(i):
            return self.post(i, request_fields({"PGX-%d" % i: invoice()}, rq_uuid=u))

        res = run_parallel(10, go)
        codes = []
        for r in res:
            self.assertNotIsInstance(r, Exception, r)
            codes.append(json.loads(r[2])["error_code"])
        self.assertEqual(codes.count("0000"), 1, codes)
        self.assertEqual(codes.count("0010"), 9, codes)
        n = db_query(self.db, "SELECT count(*) FROM invoice WHERE doc_no LIKE 'PGX-%'")
        self.assertEqual(n[0][0], "1")

    def test_opposite_orders_do_not_fail(self):
        # two batches holding the same doc_nos in opposite orders may
        # deadlock in the database; the loser is retried, never a 0099
        for round_ in range(3):
            docs = ["PGO-%d-%02d" % (round_, k) for k in range(20)]

            def go(i):
                order = docs if i % 2 == 0 else list(reversed(docs))
                return self.post(i, request_fields({d: invoice() for d in order}))

            res = run_parallel(4, go)
            won = {}
            for r in res:
                self.assertNotIsInstance(r, Exception, r)
                st, h, raw = r
                errs = [l for s in self.servers for l in s.stderr_lines if "0099" in l]
                self.assertEqual(st, 200, errs[:3])
                for d, v in json.loads(raw)["invoices"].items():
                    self.assertIn(v["error_code"], ("0000", "0002"))
                    if v["error_code"] == "0000":
                        won[d] = won.get(d, 0) + 1
            self.assertEqual(won, {d: 1 for d in docs})

    def test_serials_never_reused_across_servers(self):
        def go(t):
            out = []
            for b in range(6):
                docs = ["PGS-%d-%d-%02d" % (t, b, k) for k in range(25)]
                st, h, raw = self.post(t, request_fields({d: invoice() for d in docs}))
                out.append((st, raw))
            return out

        res = run_parallel(6, go)
        serials, vas = [], set()
        for out in res:
            self.assertNotIsInstance(out, Exception, out)
            for st, raw in out:
                self.assertEqual(st, 200, raw[:300])
                for v in json.loads(raw)["invoices"].values():
                    self.assertEqual(v["error_code"], "0000", v)
                    s = {serial_of(x["va_number"], b) for b, x in v["list_va"].items()}
                    self.assertEqual(len(s), 1, v)
                    serials.append(s.pop())
                    vas.update(x["va_number"] for x in v["list_va"].values())
        self.assertEqual(len(serials), 6 * 6 * 25)
        self.assertEqual(len(set(serials)), len(serials), "a serial was used twice")
        self.assertEqual(len(vas), 2 * len(serials))
        self.assertGreaterEqual(min(serials), 1)

    def test_payments_race_across_servers(self):
        st, h, raw = self.post(0, request_fields({"PGP-1": invoice()}))
        va = json.loads(raw)["invoices"]["PGP-1"]["list_va"]["008"]["va_number"]
        pay = "/rest/virtualaccount/payment"

        # different payment_refs for the whole amount: one is applied
        res = run_parallel(10, lambda i: self.post(
            i, payment_fields("008", va, "PGREF-%d" % i, "20000.00"), path=pay))
        codes = sorted(json.loads(r[2])["error_code"] for r in res)
        self.assertEqual(codes, ["0000"] + ["0015"] * 9, codes)
        n = db_query(self.db, "SELECT count(*) FROM payment")
        self.assertEqual(n[0][0], "1")
        self.assertEqual(self.show("PGP-1")["status"], "paid")

        # one payment_ref sent by many at once: applied once, replayed to all
        st, h, raw = self.post(0, request_fields({"PGP-2": invoice()}))
        va2 = json.loads(raw)["invoices"]["PGP-2"]["list_va"]["009"]["va_number"]
        f = payment_fields("009", va2, "PGREF-SAME", "20000.00")
        res = run_parallel(10, lambda i: self.post(i, f, path=pay))
        bodies = {r[2] for r in res}
        self.assertEqual([r[0] for r in res], [200] * 10)
        self.assertEqual(len(bodies), 1)
        self.assertEqual(json.loads(bodies.pop())["error_code"], "0000")
        self.assertEqual(sum(1 for r in res if r[1].get(REPLAY) != "true"), 1)
        n = db_query(self.db, "SELECT count(*) FROM payment WHERE payment_ref = 'PGREF-SAME'")
        self.assertEqual(n[0][0], "1")

        # each payment gets one notification, delivered once though both
        # servers run a notifier
        posts = self.receiver.wait_for(lambda p: len(p) >= 2)
        time.sleep(1.0)
        refs = sorted(p["fields"]["payment_ref"] for p in self.receiver.snapshot())
        self.assertEqual(len(refs), 2, refs)
        self.assertIn("PGREF-SAME", refs)
        self.assertTrue(posts)


@unittest.skipUnless(PG, "needs VABILL_TEST_PG=1 (a PostgreSQL cluster)")
class DatabaseRestart(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vabill-pgr-")
        self.db = os.path.join(self.tmp, "vabill.db")
        add_community(self.db)
        self.servers = [Server(self.db, ("--threads", "4")) for _ in range(2)]

    def tearDown(self):
        for s in self.servers:
            s.__exit__(None, None, None)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def healthz(self, s):
        try:
            return s.request("GET", "/healthz", timeout=10)[0]
        except OSError:
            return None

    def test_restart_mid_run(self):
        cluster = harness.pg_cluster()
        stop = threading.Event()
        lock = threading.Lock()
        answered, pending = {}, {}
        odd = []

        def client(n):
            i = 0
            while not stop.is_set():
                doc = "PGR-%d-%d" % (n, i)
                f = request_fields({doc: invoice(), doc + "b": invoice(member_code="M2")})
                try:
                    st, h, raw = self.servers[n % 2].post_form(f)
                except OSError:
                    st, raw = None, b""
                ok = st == 200 and json.loads(raw)["error_code"] == "0000"
                with lock:
                    if ok:
                        answered[f["rq_uuid"]] = (f, raw, doc)
                    else:
                        pending[f["rq_uuid"]] = (f, doc)
                        if st is not None and (st, json.loads(raw)["error_code"]) != (503, "0099"):
                            odd.append((st, raw[:200]))
                if not ok:
                    time.sleep(0.05)
                i += 1

        threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        time.sleep(1.5)
        cluster.stop("immediate")  # a crash of the database server
        time.sleep(1.0)
        down = [self.healthz(s) for s in self.servers]
        time.sleep(0.5)
        cluster.start()
        time.sleep(1.5)
        stop.set()
        for t in threads:
            t.join(timeout=60)
        self.assertEqual(down, [503, 503])
        self.assertEqual(odd, [])
        self.assertGreater(len(answered), 0)
        self.assertGreater(len(pending), 0, "the restart was not noticed")

        # the servers serve again
        deadline = time.monotonic() + 20
        while [self.healthz(s) for s in self.servers] != [200, 200]:
            self.assertLess(time.monotonic(), deadline, "healthz did not come back")
            time.sleep(0.2)
        # every 0000 answer is stored and replays byte for byte
        for k, (u, (f, raw, doc)) in enumerate(sorted(answered.items())):
            st, h, again = self.servers[1].post_form(f)
            self.assertEqual((st, h.get(REPLAY)), (200, "true"), doc)
            self.assertEqual(again, raw, doc)
            if k % 25 == 0:
                r = cli("invoice", "show", COMM, doc, db=self.db)
                self.assertEqual(r.returncode, 0, doc)
        # the others succeed when retried with the same rq_uuid
        for u, (f, doc) in pending.items():
            st, h, raw = self.servers[0].post_form(f)
            self.assertEqual(st, 200, raw[:300])
            obj = json.loads(raw)
            self.assertEqual(obj["error_code"], "0000")
            for d, v in obj["invoices"].items():
                self.assertEqual(v["error_code"], "0000", (d, v))
        # and every invoice of every request is there once
        n = db_query(self.db, "SELECT count(*), count(DISTINCT doc_no), count(DISTINCT rq_uuid)"
                     " FROM invoice")
        self.assertEqual(n[0][0], n[0][1])
        self.assertEqual(int(n[0][0]), 2 * (len(answered) + len(pending)))
        self.assertEqual(int(n[0][2]), len(answered) + len(pending))


if __name__ == "__main__":
    unittest.main()
