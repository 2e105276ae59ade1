"""vabill send: the partner-side client (issue 3, docs/SEND.md), against a real
vabilld on port 0, sometimes through a small HTTP proxy that drops
connections or stops the server mid-run."""
import csv
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from harness import COMM, KEY, VABILL, Server, add_community, db_query, db_url

HEADER = ["doc_no", "member_code", "member_name", "amount", "total_amount",
          "number_of_installment", "installment_amount", "billing_date", "description"]
# a short retry budget so a failing run ends in seconds (SEND.md: --retry-max-seconds)
FAST = ["--retry-max-seconds", "2", "--timeout", "20", "--quiet"]


def good_row(i, prefix="INV"):
    return ["%s%05d" % (prefix, i), "M%05d" % i, "Member %d, Jakarta" % i, "20000.50",
            "20000.50", "1", "20000.50", str(i % 28 + 1), "Invoice %d" % i]


def write_csv(path, rows, header=HEADER, newline="\r\n", bom=False):
    with open(path, "w", encoding="utf-8", newline="") as f:
        if bom:
            f.write("\ufeff")
        w = csv.writer(f, lineterminator=newline)
        w.writerow(header)
        w.writerows(rows)


def read_results_csv(text):
    return list(csv.DictReader(io.StringIO(text)))


def by_doc(results):
    out = {}
    for r in results:
        out.setdefault(r["doc_no"], []).append(r)
    return out


class Proxy:
    """An HTTP/1.1 proxy in front of vabilld that reads each request whole,
    asks on_request(n) what to do with the n-th (from 1), and forwards it on a
    fresh connection to the backend.  Actions: "forward", "drop" (close the
    client's connection without forwarding), "drop_answer" (forward, let the
    server commit, then close the client's connection without the answer)."""

    def __init__(self, backend_port):
        self.backend_port = backend_port
        self.on_request = lambda n: "forward"
        self.count = 0
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.closing = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def close(self):
        self.closing = True
        self.thread.join(timeout=5)
        self.sock.close()

    def _accept(self):
        while not self.closing:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    @staticmethod
    def _read_message(f):
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            line = f.readline(65536)
            if not line:
                return None, None
            head += line
        length = 0
        for line in head.split(b"\r\n")[1:]:
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        return head, f.read(length) if length else b""

    def _serve(self, c):
        c.settimeout(30)
        f = c.makefile("rb")
        try:
            while True:
                head, body = self._read_message(f)
                if head is None:
                    return
                with self.lock:
                    self.count += 1
                    n = self.count
                action = self.on_request(n)
                if action == "drop":
                    return
                answer = self._forward(head, body)
                if answer is None or action == "drop_answer":
                    return
                c.sendall(answer)
        except OSError:
            return
        finally:
            f.close()
            c.close()

    def _forward(self, head, body):
        try:
            b = socket.create_connection(("127.0.0.1", self.backend_port), timeout=30)
        except OSError:
            return None
        try:
            lines = [l for l in head.split(b"\r\n")
                     if l and not l.lower().startswith(b"connection:")]
            b.sendall(b"\r\n".join(lines) + b"\r\nConnection: close\r\n\r\n" + body)
            bf = b.makefile("rb")
            rhead, rbody = self._read_message(bf)
            bf.close()
            if rhead is None:
                return None
            keep = [l for l in rhead.split(b"\r\n")
                    if l and not l.lower().startswith(b"connection:")]
            return b"\r\n".join(keep) + b"\r\n\r\n" + rbody
        except OSError:
            return None
        finally:
            b.close()


class SendCase(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vabill-send-")
        self.db = os.path.join(self.tmp, "vabill.db")
        add_community(self.db)
        self.server = Server(self.db)
        self.servers = [self.server]
        self.proxy = None

    def tearDown(self):
        if self.proxy:
            self.proxy.close()
        for s in self.servers:
            s.__exit__(None, None, None)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def url(self, server=None):
        s = server or self.server
        return "http://%s:%d" % (s.host, s.port)

    def send(self, *args, url=None, key=KEY, input=None, timeout=50):
        argv = [VABILL, "send", "--url", url or self.url(), "--comm-code", COMM, "--key", key]
        argv += list(args)
        return subprocess.run(argv, input=input, capture_output=True, text=True,
                              timeout=timeout)

    def invoice_count(self):
        """(invoices, distinct doc_nos) in the database."""
        row = db_query(self.db, "SELECT count(*), count(DISTINCT doc_no) FROM invoice")[0]
        return tuple(int(v) for v in row)

    def request_count(self, server=None):
        s = server or self.server
        return sum(1 for l in s.stderr_lines if "sendinvoice" in l)

    def assertAllAccepted(self, results, docs):
        got = by_doc(results)
        self.assertEqual(set(got), set(docs))
        vas = set()
        for doc in docs:
            rows = got[doc]
            self.assertEqual([r["bank_code"] for r in rows], ["008", "009"], doc)
            for r in rows:
                self.assertEqual(r["error_code"], "0000", r)
                self.assertEqual(r["error_msg"], "success")
                self.assertTrue(r["doc_ref_no"].startswith("VB"), r)
                self.assertRegex(r["va_number"], r"^\d{16}$")
                self.assertRegex(r["expired"], r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
                vas.add(r["va_number"])
            self.assertEqual(rows[0]["va_number"][5:15], rows[1]["va_number"][5:15])
        self.assertEqual(len(vas), 2 * len(docs))


class TestSend(SendCase):

    def test_2000_rows_in_four_batches(self):
        rows = [good_row(i) for i in range(2000)]
        write_csv(self.path("in.csv"), rows)
        out = self.path("results.csv")
        r = self.send("--out", out, "--concurrency", "2", self.path("in.csv"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "")
        with open(out, newline="", encoding="utf-8") as f:
            text = f.read()
        self.assertTrue(text.startswith(
            "doc_no,error_code,error_msg,doc_ref_no,bank_code,va_number,expired\r\n"))
        results = read_results_csv(text)
        self.assertEqual(len(results), 4000)
        # input order, one line per invoice and bank
        self.assertEqual([r["doc_no"] for r in results[::2]], [row[0] for row in rows])
        self.assertAllAccepted(results, [row[0] for row in rows])
        self.assertEqual(self.invoice_count(), (2000, 2000))
        self.assertEqual(self.request_count(), 4)
        summary = r.stderr.strip().splitlines()[-1]
        self.assertIn("2000 invoices: 2000 accepted, 0 refused", summary)
        self.assertIn("4 batches (4 answered, 0 replayed, 0 from the journal)", summary)
        self.assertRegex(summary, r"; \d+\.\d s$")

        # the same file again: every batch replays, nothing is created twice
        out2 = self.path("again.csv")
        r = self.send("--out", out2, self.path("in.csv"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("4 replayed", r.stderr)
        with open(out2, newline="", encoding="utf-8") as f:
            self.assertEqual(f.read(), text)
        self.assertEqual(self.invoice_count(), (2000, 2000))

    def test_bad_rows_reported_and_not_sent(self):
        rows = [good_row(i) for i in range(10)]
        rows[2][3] = "1.234"                      # line 4: third decimal
        rows[4][1] = ""                           # line 6: no member code
        rows[6][0] = "X" * 33                     # line 8: doc_no too long
        rows[7][0] = rows[1][0]                   # line 9: doc_no twice
        rows[8][7] = "32"                         # line 10: billing date
        write_csv(self.path("in.csv"), rows, newline="\n", bom=True)
        r = self.send("--batch", "3", self.path("in.csv"))
        self.assertEqual(r.returncode, 1, r.stderr)
        err = r.stderr
        p = self.path("in.csv")
        self.assertIn("%s:4: INV00002: 0003 Invalid format = Amount (not sent)" % p, err)
        self.assertIn("%s:6: INV00004: 0001 Mandatory field left empty = Member Code" % p, err)
        self.assertIn("%s:8: %s: 0003 Invalid format = Document No" % (p, "X" * 33), err)
        self.assertIn("%s:9: INV00001: 0011 Duplicate Document No in request = INV00001" % p,
                      err)
        self.assertIn("%s:10: INV00008: 0003 Invalid format = Billing Date" % p, err)
        results = read_results_csv(r.stdout)
        got = by_doc(results)
        good = [rows[i][0] for i in (0, 1, 3, 5, 9)]
        self.assertAllAccepted([x for x in results if x["error_code"] == "0000"], good)
        self.assertEqual(got["INV00002"], [{
            "doc_no": "INV00002", "error_code": "0003", "error_msg": "Invalid format = Amount",
            "doc_ref_no": "", "bank_code": "", "va_number": "", "expired": ""}])
        self.assertEqual([x["error_code"] for x in got["INV00001"]], ["0000", "0000", "0011"])
        self.assertEqual(self.invoice_count(), (5, 5))
        self.assertIn("10 invoices: 5 accepted, 5 refused (0003 x3, 0001 x1, 0011 x1)", err)
        # windows of 3 rows; the third holds no good row, so no batch
        self.assertIn("3 batches (3 answered", err)

    def test_only_bad_rows_sends_nothing(self):
        rows = [good_row(1), good_row(2)]
        rows[0][4] = "1"      # total below amount
        rows[1][5] = "1000"   # installments
        write_csv(self.path("in.csv"), rows)
        r = self.send(self.path("in.csv"))
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(self.request_count(), 0)
        self.assertEqual([x["error_msg"] for x in read_results_csv(r.stdout)],
                         ["Invalid format = Amount", "Invalid format = Number Of Installment"])

    def test_csv_quoting_aliases_and_unknown_columns(self):
        header = ["note", "doc_no", "member_code", "member_name", "amount", "total_amount",
                  "jumlah_cicilan", "amount_cicilan", "tanggal_penagihan", "description"]
        text = ("\ufeff" + ",".join(header) + "\r\n"
                'ignored,Q1,M1,"Budi ""B"", Santoso",150000.50,300001,2,150000.50,05,'
                '"two\nlines"\r\n'
                "\r\n"
                ",,,,,,,,,\r\n"
                'x,Q2,M2,,1,1,1,1,1,"é, ü"\r\n')
        with open(self.path("in.csv"), "w", encoding="utf-8", newline="") as f:
            f.write(text)
        r = self.send("--out", self.path("r.json"), self.path("in.csv"))
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(self.path("r.json"), encoding="utf-8") as f:
            results = json.load(f)
        self.assertAllAccepted(results, ["Q1", "Q2"])
        show = subprocess.run([VABILL, "--db", db_url(self.db), "invoice", "show", COMM, "Q1"],
                              capture_output=True, text=True, timeout=30)
        inv = json.loads(show.stdout)
        self.assertEqual(inv["member_name"], 'Budi "B", Santoso')
        self.assertEqual(inv["description"], "two\nlines")
        self.assertEqual(inv["amount"], "150000.50")
        self.assertEqual(inv["number_of_installment"], 2)
        self.assertEqual(inv["billing_date"], 5)

    def test_json_object_and_array(self):
        obj = {
            "J1": {"member_code": "M1", "amount": 20000, "total_amount": "20000",
                   "number_of_installment": 1, "installment_amount": "20000",
                   "billing_date": 5, "member_name": "Siti"},
            "J2": {"member_code": 123, "amount": "150000.50", "total_amount": 300001,
                   "jumlah_cicilan": "2", "amount_cicilan": 150000.50, "tanggal_penagihan": "05"},
            "J3": {"member_code": "M3", "amount": "1", "total_amount": "1",
                   "number_of_installment": 1, "installment_amount": "1", "billing_date": 1,
                   "description": 5},
        }
        with open(self.path("in.json"), "w") as f:
            json.dump(obj, f, indent=2)
        r = self.send("--out", self.path("r.json"), self.path("in.json"))
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("in.json:19: J3: 0003 Invalid format = Description", r.stderr)
        with open(self.path("r.json"), encoding="utf-8") as f:
            results = json.load(f)
        self.assertAllAccepted(results[:4], ["J1", "J2"])
        self.assertEqual(results[4]["error_code"], "0003")

        arr = [dict(v, doc_no=k) for k, v in obj.items() if k != "J3"]
        arr = [dict(a, doc_no="A" + a["doc_no"]) for a in arr]
        arr.append({"member_code": "M9"})                  # no doc_no
        arr.append({"doc_no": True, "member_code": "M9"})  # not text
        arr.append(["not", "an", "object"])
        r = self.send("-", input=json.dumps(arr, indent=1))
        self.assertEqual(r.returncode, 1, r.stderr)
        results = read_results_csv(r.stdout)
        self.assertAllAccepted(results[:4], ["AJ1", "AJ2"])
        self.assertEqual([(x["doc_no"], x["error_msg"]) for x in results[4:]], [
            ("", "Mandatory field left empty = Document No"),
            ("", "Invalid format = Document No"),
            ("", "Mandatory field left empty = Document No")])
        self.assertEqual(self.invoice_count(), (4, 4))

    def test_stdin_csv(self):
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(HEADER)
        w.writerow(good_row(1))
        r = self.send("--quiet", "-", input=buf.getvalue())
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertAllAccepted(read_results_csv(r.stdout), ["INV00001"])

    def test_wrong_key_is_0004(self):
        write_csv(self.path("in.csv"), [good_row(i) for i in range(3)])
        r = self.send(self.path("in.csv"), key="wrongkey")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("0004 Invalid signature: check --key and --comm-code", r.stderr)
        self.assertEqual({x["error_code"] for x in read_results_csv(r.stdout)}, {"0004"})
        self.assertEqual(self.invoice_count(), (0, 0))

    def test_unreachable_url(self):
        write_csv(self.path("in.csv"), [good_row(1)])
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        t0 = time.monotonic()
        r = self.send(*FAST, self.path("in.csv"), url="http://127.0.0.1:%d" % port)
        self.assertLess(time.monotonic() - t0, 15)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertRegex(r.stderr, r"cannot send batch 1 \(rq_uuid VBS-[0-9a-f]{40}\) to "
                                   r"http://127\.0\.0\.1:\d+/rest/virtualaccount/sendinvoice: "
                                   r"no answer from the server after \d+ attempts")
        self.assertIn("onnect", r.stderr)

    def test_input_and_usage_errors(self):
        r = self.send(self.path("missing.csv"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("vabill: cannot read %s: No such file or directory"
                      % self.path("missing.csv"), r.stderr)
        with open(self.path("bad.csv"), "w") as f:
            f.write(",".join(HEADER) + "\nA,M,N,1,1,1,1,1,x\nB,M,\"open,1,1,1,1,1,x\n")
        r = self.send(self.path("bad.csv"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("bad.csv:3: malformed CSV: quoted field not closed", r.stderr)
        with open(self.path("short.csv"), "w") as f:
            f.write(",".join(HEADER) + "\nA,M,N,1,1,1,1,1,x\nB,M,N,1\n")
        r = self.send(self.path("short.csv"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("short.csv:3: malformed row: 4 fields, the header has 9", r.stderr)
        with open(self.path("nodoc.csv"), "w") as f:
            f.write("member_code,amount\nM,1\n")
        r = self.send(self.path("nodoc.csv"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("names no doc_no column", r.stderr)
        with open(self.path("bad.json"), "w") as f:
            f.write('{"A": {"member_code": "M",}}')
        r = self.send(self.path("bad.json"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("not valid JSON", r.stderr)
        # nothing was sent by any of them
        self.assertEqual(self.request_count(), 0)
        for args in (["--batch", "501", "x"], ["--out", "r.txt", "x"], ["--bogus", "1", "x"],
                     ["--ccy", "idr", "x"], []):
            r = self.send(*args)
            self.assertEqual(r.returncode, 2, args)
            self.assertTrue(r.stderr.startswith("vabill: "), r.stderr)


class TestRetryAndResume(SendCase):

    def through_proxy(self):
        self.proxy = Proxy(self.server.port)
        return self.proxy.url()

    def test_dropped_answer_is_replayed_not_duplicated(self):
        rows = [good_row(i) for i in range(1200)]
        write_csv(self.path("in.csv"), rows)
        url = self.through_proxy()
        # the server commits the second request, its answer is lost on the way
        self.proxy.on_request = lambda n: "drop_answer" if n == 2 else "forward"
        r = self.send("--concurrency", "1", "--out", self.path("r.csv"), *FAST,
                      self.path("in.csv"), url=url)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.proxy.count, 4)
        self.assertIn("3 batches (3 answered, 1 replayed, 0 from the journal)", r.stderr)
        with open(self.path("r.csv"), newline="", encoding="utf-8") as f:
            self.assertAllAccepted(read_results_csv(f.read()), [row[0] for row in rows])
        self.assertEqual(self.invoice_count(), (1200, 1200))
        logged = [json.loads(l) for l in self.server.stderr_lines if "sendinvoice" in l]
        self.assertEqual([x["replayed"] for x in logged], [False, False, True, False])

    def test_dropped_request_is_retried(self):
        write_csv(self.path("in.csv"), [good_row(i) for i in range(10)])
        url = self.through_proxy()
        self.proxy.on_request = lambda n: "drop" if n <= 2 else "forward"
        r = self.send(*FAST, self.path("in.csv"), url=url)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.proxy.count, 3)
        self.assertEqual(self.invoice_count(), (10, 10))

    def test_server_stopped_mid_run_then_resume(self):
        rows = [good_row(i) for i in range(2000)]
        write_csv(self.path("in.csv"), rows)
        journal = self.path("journal")
        url = self.through_proxy()

        def hook(n):
            if n == 3:
                self.server.stop()
            return "forward"
        self.proxy.on_request = hook
        r = self.send("--concurrency", "1", "--resume", journal, "--out", self.path("r1.csv"),
                      *FAST, self.path("in.csv"), url=url)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("cannot send batch 3", r.stderr)
        self.assertIn("run the same command again", r.stderr)
        self.assertEqual(self.invoice_count(), (1000, 1000))
        with open(self.path("r1.csv"), newline="", encoding="utf-8") as f:
            first = read_results_csv(f.read())
        self.assertAllAccepted(first[:2000], [row[0] for row in rows[:1000]])
        self.assertEqual({x["error_code"] for x in first[2000:]}, {""})
        self.assertEqual(len(first), 2000 + 1000)

        # the server comes back (another port); the journal finishes the run
        server2 = Server(self.db)
        self.servers.append(server2)
        r = self.send("--resume", journal, "--out", self.path("r2.csv"), *FAST,
                      self.path("in.csv"), url=self.url(server2))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("4 batches (2 answered, 0 replayed, 2 from the journal)", r.stderr)
        self.assertEqual(self.request_count(server2), 2)
        with open(self.path("r2.csv"), newline="", encoding="utf-8") as f:
            self.assertAllAccepted(read_results_csv(f.read()), [row[0] for row in rows])
        self.assertEqual(self.invoice_count(), (2000, 2000))

    def test_server_restarted_while_client_retries(self):
        rows = [good_row(i) for i in range(1500)]
        write_csv(self.path("in.csv"), rows)
        url = self.through_proxy()
        restarted = threading.Event()

        def restart():
            time.sleep(0.5)
            s = Server(self.db)
            self.servers.append(s)
            self.proxy.backend_port = s.port
            restarted.set()

        def hook(n):
            if n == 2:
                self.server.stop()
                threading.Thread(target=restart, daemon=True).start()
            return "forward"
        self.proxy.on_request = hook
        r = self.send("--concurrency", "1", "--retry-max-seconds", "20", "--quiet",
                      "--out", self.path("r.csv"), self.path("in.csv"), url=url)
        self.assertTrue(restarted.is_set())
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(self.path("r.csv"), newline="", encoding="utf-8") as f:
            self.assertAllAccepted(read_results_csv(f.read()), [row[0] for row in rows])
        self.assertEqual(self.invoice_count(), (1500, 1500))

    def test_client_killed_mid_run_then_resume(self):
        rows = [good_row(i) for i in range(1500)]
        write_csv(self.path("in.csv"), rows)
        journal = self.path("journal")
        url = self.through_proxy()
        held = threading.Event()
        release = threading.Event()

        def hook(n):
            if n == 3:
                held.set()
                release.wait(30)
                return "drop"
            return "forward"
        self.proxy.on_request = hook
        argv = [VABILL, "send", "--url", url, "--comm-code", COMM, "--key", KEY,
                "--concurrency", "1", "--resume", journal, "--quiet", self.path("in.csv")]
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            self.assertTrue(held.wait(30))
            p.send_signal(signal.SIGKILL)
            p.wait(timeout=30)
        finally:
            release.set()
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertEqual(self.invoice_count(), (1000, 1000))
        with open(journal, "rb") as f:
            text = f.read()
        self.assertEqual(text.count(b"\nsent VBS-"), 3)
        self.assertEqual(text.count(b"\ndone VBS-"), 2)
        # a record torn by the kill is dropped on resume
        with open(journal, "ab") as f:
            f.write(b"done VBS-0123 5000\n{\"rq_uuid\"")

        r = self.send("--resume", journal, "--out", self.path("r.csv"), *FAST,
                      self.path("in.csv"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("3 batches (1 answered, 0 replayed, 2 from the journal)", r.stderr)
        with open(self.path("r.csv"), newline="", encoding="utf-8") as f:
            self.assertAllAccepted(read_results_csv(f.read()), [row[0] for row in rows])
        self.assertEqual(self.invoice_count(), (1500, 1500))
        with open(journal, "rb") as f:
            self.assertNotIn(b"VBS-0123", f.read())

    def test_fixed_row_resent_with_journal(self):
        rows = [good_row(i) for i in range(3)]
        rows[1][3] = "x"
        write_csv(self.path("in.csv"), rows)
        journal = self.path("journal")
        r = self.send("--resume", journal, self.path("in.csv"))
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(self.invoice_count(), (2, 2))
        # the partner fixes the row: the batch changes, so does its rq_uuid;
        # the two accepted before are 0002 now, and the journal has their VAs
        rows[1] = good_row(1)
        write_csv(self.path("in.csv"), rows)
        r = self.send("--resume", journal, self.path("in.csv"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("2 invoices refused as already listed were accepted by an earlier run",
                      r.stderr)
        self.assertAllAccepted(read_results_csv(r.stdout), [row[0] for row in rows])
        self.assertEqual(self.invoice_count(), (3, 3))

    def test_journal_of_another_community_refused(self):
        write_csv(self.path("in.csv"), [good_row(1)])
        with open(self.path("journal"), "w") as f:
            f.write("vabill-send-journal 1 OTHER\n")
        r = self.send("--resume", self.path("journal"), self.path("in.csv"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("is not a vabill send journal of community SGWTES", r.stderr)
        self.assertEqual(self.request_count(), 0)


if __name__ == "__main__":
    unittest.main()
