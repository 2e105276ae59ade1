"""Durability and storage failure (SPEC 1.4, last paragraphs).

- a store that stays busy answers 0099 with HTTP 503, keeps nothing, and the
  retry with the same rq_uuid succeeds with every invoice;
- vabill commands run beside a live vabilld never cost the server a write
  (regression: an open+close of the database file dropped the server's
  POSIX locks, the CLI then deleted the WAL under it);
- what was answered 0000 is there after a SIGKILL and a restart.
"""
import json
import os
import signal
import threading
import time
import unittest

from harness import (COMM, Server, ServerTest, cli, hold_write_lock, invoice, request_fields)


class BusyStore(ServerTest):
    def test_busy_store_answers_0099_and_keeps_nothing(self):
        fields = request_fields({"BUSY-1": invoice(), "BUSY-2": invoice(member_code="M2")})
        with hold_write_lock(self.db):  # past the server's wait
            st, h, body = self.server.post_form(fields)
        self.assertEqual(st, 503, body)
        obj = json.loads(body)
        self.assertEqual(obj["error_code"], "0099")
        self.assertEqual(obj["error_message"], "System error, retry with the same rq_uuid")
        self.assertEqual(obj["rq_uuid"], fields["rq_uuid"])
        self.assertEqual(obj["invoices"], {})
        self.assertEqual(obj["total_invoice"], "0")
        for doc in ("BUSY-1", "BUSY-2"):
            self.assertNotEqual(cli("invoice", "show", COMM, doc, db=self.db).returncode, 0)
        # the partner retries with the same rq_uuid: everything is accepted once
        st, h, body = self.server.post_form(fields)
        self.assertEqual(st, 200, body)
        self.assertNotIn("idempotent-replayed", h)
        obj = json.loads(body)
        self.assertEqual(obj["error_code"], "0000")
        self.assertEqual([v["error_code"] for v in obj["invoices"].values()], ["0000", "0000"])
        log = [json.loads(l) for l in self.server.stderr_lines if l.startswith("{")]
        self.assertTrue(any(l.get("error_code") == "0099" and "store_error" in l for l in log))


class CliBesideServer(ServerTest):
    def test_cli_commands_do_not_lose_server_writes(self):
        docs = []
        for i in range(6):
            doc = "SIDE-%d" % i
            st, h, body = self.server.post_form(request_fields({doc: invoice()}))
            self.assertEqual(json.loads(body)["invoices"][doc]["error_code"], "0000")
            docs.append(doc)
            # every CLI command opens and closes the same database
            self.assertEqual(cli("community", "list", db=self.db).returncode, 0)
            for d in docs:
                r = cli("invoice", "show", COMM, d, db=self.db)
                self.assertEqual(r.returncode, 0, "%s lost: %s" % (d, r.stderr))
        self.server.stop()
        for d in docs:
            self.assertEqual(cli("invoice", "show", COMM, d, db=self.db).returncode, 0, d)


class KillAndRestart(ServerTest):
    def test_answered_requests_survive_sigkill(self):
        answered = {}
        stop = threading.Event()
        lock = threading.Lock()

        def client(n):
            i = 0
            while not stop.is_set() and i < 200:
                doc = "K%d-%d" % (n, i)
                f = request_fields({doc: invoice()})
                try:
                    st, h, body = self.server.post_form(f)
                except OSError:
                    return
                if st == 200 and json.loads(body)["error_code"] == "0000":
                    with lock:
                        answered[f["rq_uuid"]] = (f, body, doc)
                i += 1

        threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        self.server.proc.send_signal(signal.SIGKILL)
        self.server.proc.wait(timeout=10)
        stop.set()
        for t in threads:
            t.join(timeout=30)
        self.assertGreater(len(answered), 0)
        self.server.__exit__(None, None, None)
        self.server = Server(self.db)
        for u, (f, body, doc) in answered.items():
            st, h, again = self.server.post_form(f)
            self.assertEqual(st, 200)
            self.assertEqual(h.get("idempotent-replayed"), "true", doc)
            self.assertEqual(again, body, doc)
            self.assertEqual(cli("invoice", "show", COMM, doc, db=self.db).returncode, 0, doc)


if __name__ == "__main__":
    unittest.main()
