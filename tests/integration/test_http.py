"""HTTP-level behaviour of vabilld: SPEC 1.4 step 1, SPEC 1.6 content type,
SPEC 4 (listening line, per-request log, signals, /healthz, /metrics) and the
HTTP choices of docs/DECISIONS.md."""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse

from harness import (COMM, KEY, PATH, VABILLD, Server, ServerTest, add_community,
                     cli, db_url, invoice, request_fields, send)

MSG = {
    "0404": "Unknown service",
    "0405": "Method not allowed",
    "0413": "Request too large",
    "0415": "Unsupported content type",
}
STATUS = {"0404": 404, "0405": 405, "0413": 413, "0415": 415}


def form_body(fields):
    return urllib.parse.urlencode(fields).encode()


def read_response(sock, timeout=10):
    """Reads one HTTP response from a raw socket: (status, headers, body)."""
    sock.settimeout(timeout)
    r = http.client.HTTPResponse(sock)
    r.begin()
    data = r.read()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, data


class HttpCase(ServerTest):

    def assertHttpError(self, st, h, body, code):
        self.assertEqual(st, STATUS[code], body)
        self.assertTrue(h.get("content-type", "").startswith("application/json"), h)
        obj = json.loads(body)
        self.assertEqual(obj["error_code"], code, obj)
        self.assertEqual(obj["error_message"], MSG[code], obj)
        # DECISIONS: request-level failure shape
        self.assertEqual(obj["rq_uuid"], "", obj)
        self.assertEqual(obj["invoices"], {}, obj)
        self.assertEqual(obj["invoices_success"], {}, obj)
        self.assertEqual(obj["invoices_error"], {}, obj)
        self.assertEqual(obj["total_invoice"], "0", obj)
        return obj

    def valid_body(self, doc="DOC-1"):
        return form_body(request_fields({doc: invoice()}))

    def assertAccepted(self, st, h, body, doc="DOC-1"):
        self.assertEqual(st, 200, body)
        self.assertTrue(h.get("content-type", "").startswith("application/json"), h)
        obj = json.loads(body)
        self.assertEqual(obj["error_code"], "0000", obj)
        self.assertEqual(obj["error_message"], "Success", obj)
        self.assertEqual(obj["invoices"][doc]["error_code"], "0000", obj)
        return obj


class TestStep1(HttpCase):

    def test_unknown_path_404(self):
        for path in ("/", "/nope", "/rest/virtualaccount/sendinvoicex",
                     "/rest/virtualaccount/nosuchservice"):
            with self.subTest(path=path):
                st, h, body = self.server.request(
                    "POST", path, self.valid_body(),
                    {"Content-Type": "application/x-www-form-urlencoded"})
                self.assertHttpError(st, h, body, "0404")

    def test_unknown_path_beats_method_and_content_type(self):
        st, h, body = self.server.request("GET", "/nope")
        self.assertHttpError(st, h, body, "0404")
        st, h, body = self.server.request("PUT", "/nope", b"hello", {"Content-Type": "text/plain"})
        self.assertHttpError(st, h, body, "0404")
        st, h, body = self.server.request("POST", "/nope", b"hello", {"Content-Type": "text/plain"})
        self.assertHttpError(st, h, body, "0404")

    def test_method_not_allowed_405(self):
        for method in ("GET", "PUT", "DELETE"):
            with self.subTest(method=method):
                body = self.valid_body() if method == "PUT" else None
                hdr = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
                st, h, data = self.server.request(method, PATH, body, hdr)
                self.assertHttpError(st, h, data, "0405")
                self.assertIn("POST", h.get("allow", ""), h)

    def test_405_beats_415(self):
        st, h, body = self.server.request("PUT", PATH, b"hello", {"Content-Type": "text/plain"})
        self.assertHttpError(st, h, body, "0405")
        st, h, body = self.server.request("GET", PATH, None, {"Content-Type": "text/plain"})
        self.assertHttpError(st, h, body, "0405")

    def test_unsupported_content_type_415(self):
        body = self.valid_body()
        for ct in ("text/plain", "application/xml", "multipart/form-data; boundary=x"):
            with self.subTest(ct=ct):
                st, h, data = self.server.request("POST", PATH, body, {"Content-Type": ct})
                self.assertHttpError(st, h, data, "0415")
        with self.subTest(ct=None):
            # http.client adds no Content-Type of its own
            st, h, data = self.server.request("POST", PATH, body, {})
            self.assertHttpError(st, h, data, "0415")
        # nothing of those requests was stored
        r = cli("invoice", "show", COMM, "DOC-1", db=self.db)
        self.assertNotEqual(r.returncode, 0, r.stdout)

    def test_charset_parameter_accepted(self):
        fields = request_fields({"CS-FORM": invoice()})
        st, h, body = self.server.post_form(
            fields, content_type="application/x-www-form-urlencoded; charset=UTF-8")
        self.assertAccepted(st, h, body, "CS-FORM")
        fields = request_fields({"CS-JSON": invoice()})
        st, h, body = self.server.post_json(fields, content_type="application/json; charset=UTF-8")
        self.assertAccepted(st, h, body, "CS-JSON")

    def test_content_type_spellings_accepted(self):
        # media-type parameters are ignored; type and subtype are
        # case-insensitive (RFC 9110 8.3.1)
        for i, ct in enumerate(("application/json;charset=utf-8",
                                'application/json; charset="UTF-8"',
                                "Application/JSON")):
            with self.subTest(ct=ct):
                doc = "CSJ-%d" % i
                st, h, body = self.server.post_json(request_fields({doc: invoice()}),
                                                    content_type=ct)
                self.assertAccepted(st, h, body, doc)
        for i, ct in enumerate(("application/x-www-form-urlencoded;charset=UTF-8",
                                "application/x-www-form-urlencoded ; charset=utf-8",
                                "Application/X-WWW-Form-URLEncoded")):
            with self.subTest(ct=ct):
                doc = "CSF-%d" % i
                st, h, body = self.server.post_form(request_fields({doc: invoice()}),
                                                    content_type=ct)
                self.assertAccepted(st, h, body, doc)

    def test_lookalike_content_types_415(self):
        fields = request_fields({"LOOK-1": invoice()})
        for ct in ("application/jsonx", "application/json-patch+json",
                   "application/x-www-form-urlencodedx", "application/x-www-form",
                   "json", ""):
            with self.subTest(ct=ct):
                body = json.dumps(fields).encode() if "json" in ct else form_body(fields)
                st, h, data = self.server.request("POST", PATH, body, {"Content-Type": ct})
                self.assertHttpError(st, h, data, "0415")
        r = cli("invoice", "show", COMM, "LOOK-1", db=self.db)
        self.assertNotEqual(r.returncode, 0, r.stdout)

    def test_head_is_405(self):
        st, h, body = self.server.request("HEAD", PATH)
        self.assertEqual(st, 405)

    def test_default_limit_4mib(self):
        limit = 4 * 1024 * 1024
        body = b"pad=" + b"x" * (limit - 4)
        ct = {"Content-Type": "application/x-www-form-urlencoded"}
        st, h, data = self.server.request("POST", PATH, body, ct)
        self.assertEqual(st, 200, data[:200])
        obj = json.loads(data)
        self.assertEqual((obj["error_code"], obj["error_message"]),
                         ("0001", "Mandatory field left empty = rq_uuid"))
        # one byte more: refused from Content-Length alone (the server may
        # answer and close before reading the body, so send only the head)
        s = socket.create_connection((self.server.host, self.server.port), timeout=10)
        try:
            s.sendall(("POST %s HTTP/1.1\r\nHost: x\r\n"
                       "Content-Type: application/x-www-form-urlencoded\r\n"
                       "Content-Length: %d\r\n\r\n" % (PATH, limit + 1)).encode())
            st, h, data = read_response(s, timeout=10)
        finally:
            s.close()
        self.assertHttpError(st, h, data, "0413")

    def test_plain_content_types_accepted(self):
        fields = request_fields({"P-FORM": invoice()})
        st, h, body = self.server.post_form(fields)
        self.assertAccepted(st, h, body, "P-FORM")
        fields = request_fields({"P-JSON": invoice()})
        st, h, body = self.server.post_json(fields)
        self.assertAccepted(st, h, body, "P-JSON")

    def test_response_content_type_json(self):
        # success, request-level failure, invoice-level failure
        st, h, obj, raw = send(self.server, {"CT-1": invoice()})
        self.assertEqual(st, 200)
        self.assertTrue(h["content-type"].startswith("application/json"), h)
        st, h, obj, raw = send(self.server, {"CT-2": invoice()}, key="wrongkey")
        self.assertEqual(obj["error_code"], "0004", obj)
        self.assertEqual(obj["error_message"], "Invalid signature", obj)
        self.assertEqual(st, 200)
        self.assertTrue(h["content-type"].startswith("application/json"), h)
        st, h, body = self.server.post_json(b"[1,2]")
        self.assertEqual(st, 200, body)
        self.assertTrue(h["content-type"].startswith("application/json"), h)
        obj = json.loads(body)
        self.assertEqual(obj["error_code"], "0003", obj)
        self.assertEqual(obj["error_message"], "Invalid format = body", obj)

    def test_healthz(self):
        st, h, body = self.server.request("GET", "/healthz")
        self.assertEqual(st, 200, body)


class TestBodyLimit(HttpCase):
    server_args = ("--max-body", "1000")

    def test_content_length_over_limit_413(self):
        body = b"a=" + b"x" * 1998
        st, h, data = self.server.request(
            "POST", PATH, body, {"Content-Type": "application/x-www-form-urlencoded"})
        self.assertHttpError(st, h, data, "0413")

    def test_json_over_limit_413(self):
        fields = request_fields({"BIG-%03d" % i: invoice() for i in range(10)})
        body = json.dumps(fields).encode()
        self.assertGreater(len(body), 1000)
        st, h, data = self.server.post_json(body)
        self.assertHttpError(st, h, data, "0413")
        r = cli("invoice", "show", COMM, "BIG-000", db=self.db)
        self.assertNotEqual(r.returncode, 0, r.stdout)

    def test_exact_limit_accepted_one_more_refused(self):
        fields = request_fields({"LIM-1": invoice(member_name="A", description="")})
        base = form_body(fields)
        # unknown form fields are ignored (DECISIONS); pad to exactly 1000 bytes
        pad = 1000 - len(base) - len(b"&pad=")
        self.assertGreater(pad, 0, "base request too large for the test")
        body = base + b"&pad=" + b"x" * pad
        self.assertEqual(len(body), 1000)
        st, h, data = self.server.request(
            "POST", PATH, body, {"Content-Type": "application/x-www-form-urlencoded"})
        self.assertAccepted(st, h, data, "LIM-1")
        fields = request_fields({"LIM-2": invoice(member_name="A", description="")})
        base = form_body(fields)
        body = base + b"&pad=" + b"x" * (1001 - len(base) - len(b"&pad="))
        self.assertEqual(len(body), 1001)
        st, h, data = self.server.request(
            "POST", PATH, body, {"Content-Type": "application/x-www-form-urlencoded"})
        self.assertHttpError(st, h, data, "0413")
        r = cli("invoice", "show", COMM, "LIM-2", db=self.db)
        self.assertNotEqual(r.returncode, 0, r.stdout)

    def test_chunked_over_limit_413(self):
        def chunks():
            yield b"a="
            for _ in range(6):
                yield b"x" * 500
        c = http.client.HTTPConnection(self.server.host, self.server.port, timeout=15)
        try:
            c.request("POST", PATH, body=chunks(),
                      headers={"Content-Type": "application/x-www-form-urlencoded"},
                      encode_chunked=True)
            r = c.getresponse()
            data = r.read()
            st, h = r.status, {k.lower(): v for k, v in r.getheaders()}
        finally:
            c.close()
        self.assertHttpError(st, h, data, "0413")

    def test_chunked_under_limit_accepted(self):
        body = form_body(request_fields({"CH-1": invoice(member_name="A", description="")}))
        self.assertLess(len(body), 1000)

        def chunks():
            for i in range(0, len(body), 100):
                yield body[i:i + 100]
        c = http.client.HTTPConnection(self.server.host, self.server.port, timeout=15)
        try:
            c.request("POST", PATH, body=chunks(),
                      headers={"Content-Type": "application/x-www-form-urlencoded"},
                      encode_chunked=True)
            r = c.getresponse()
            data = r.read()
            st, h = r.status, {k.lower(): v for k, v in r.getheaders()}
        finally:
            c.close()
        self.assertAccepted(st, h, data, "CH-1")

    def test_413_decided_from_content_length_before_body(self):
        # SPEC 1.4: decided from Content-Length when present -- the server
        # must not wait for a body it will refuse anyway.
        s = socket.create_connection((self.server.host, self.server.port), timeout=10)
        try:
            s.sendall(("POST %s HTTP/1.1\r\nHost: x\r\n"
                       "Content-Type: application/x-www-form-urlencoded\r\n"
                       "Content-Length: 5000000\r\n\r\n" % PATH).encode())
            st, h, data = read_response(s, timeout=10)
        finally:
            s.close()
        self.assertHttpError(st, h, data, "0413")

    def test_413_chunked_as_soon_as_limit_passed(self):
        # SPEC 1.4: without Content-Length, 413 as soon as the body passes the
        # limit -- the chunked body is never terminated here.
        s = socket.create_connection((self.server.host, self.server.port), timeout=10)
        try:
            s.sendall(("POST %s HTTP/1.1\r\nHost: x\r\n"
                       "Content-Type: application/x-www-form-urlencoded\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n" % PATH).encode())
            for _ in range(3):
                s.sendall(b"1f4\r\n" + b"x" * 500 + b"\r\n")
            st, h, data = read_response(s, timeout=10)
        finally:
            s.close()
        self.assertHttpError(st, h, data, "0413")

    def test_413_beats_415(self):
        st, h, data = self.server.request("POST", PATH, b"x" * 2000, {"Content-Type": "text/plain"})
        self.assertHttpError(st, h, data, "0413")
        st, h, data = self.server.request("POST", PATH, b"x" * 2000, {})
        self.assertHttpError(st, h, data, "0413")

    def test_405_beats_413_and_404_beats_all(self):
        st, h, data = self.server.request("PUT", PATH, b"x" * 2000, {"Content-Type": "text/plain"})
        self.assertHttpError(st, h, data, "0405")
        st, h, data = self.server.request("POST", "/nope", b"x" * 2000, {"Content-Type": "text/plain"})
        self.assertHttpError(st, h, data, "0404")


def parse_prom(text):
    """{(name, labels-string): float} for every sample line."""
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)', line)
        if not m:
            continue
        try:
            out[(m.group(1), m.group(2) or "")] = float(m.group(3))
        except ValueError:
            pass
    return out


class TestMetrics(HttpCase):

    def metrics(self):
        st, h, body = self.server.request("GET", "/metrics")
        self.assertEqual(st, 200, body)
        self.assertTrue(h.get("content-type", "").startswith("text/plain"), h)
        return body.decode()

    def code_samples(self, samples, code):
        return {k: v for k, v in samples.items()
                if re.search(r'[A-Za-z_]*code[A-Za-z_]*="%s"' % code, k[1])
                and not k[0].endswith("_bucket") and not k[0].endswith("_sum")}

    def inf_total(self, samples):
        return sum(v for k, v in samples.items()
                   if k[0].endswith("_bucket") and 'le="+Inf"' in k[1])

    def test_metrics_counters_and_histogram_change(self):
        send(self.server, {"M-0": invoice()})
        before_text = self.metrics()
        before = parse_prom(before_text)
        self.assertIn("_bucket{", before_text)
        self.assertRegex(before_text, r'_bucket\{[^}]*le="')
        ok_before = self.code_samples(before, "0000")
        self.assertTrue(ok_before, "no counter labelled with error_code 0000:\n" + before_text)
        sig_before = self.code_samples(before, "0004")
        inf_before = self.inf_total(before)

        for i in range(2):
            st, h, obj, raw = send(self.server, {"M-%d" % (i + 1): invoice()})
            self.assertEqual(obj["error_code"], "0000", obj)
        for i in range(3):
            st, h, obj, raw = send(self.server, {"MS-%d" % i: invoice()}, key="bad")
            self.assertEqual(obj["error_code"], "0004", obj)

        after_text = self.metrics()
        after = parse_prom(after_text)
        ok_after = self.code_samples(after, "0000")
        self.assertTrue(any(v - ok_before.get(k, 0) >= 2 for k, v in ok_after.items()),
                        "0000 counter did not grow by 2: %r -> %r" % (ok_before, ok_after))
        sig_after = self.code_samples(after, "0004")
        self.assertTrue(any(v - sig_before.get(k, 0) >= 3 for k, v in sig_after.items()),
                        "0004 counter did not grow by 3: %r -> %r" % (sig_before, sig_after))
        self.assertGreaterEqual(self.inf_total(after) - inf_before, 5,
                                "latency histogram +Inf bucket did not grow")
        # cumulative buckets: +Inf equals _count of the same series
        counts = {k: v for k, v in after.items() if k[0].endswith("_count")}
        self.assertTrue(counts, "no histogram _count line")


class TestLog(HttpCase):

    def wait_lines(self, needle, n=1, timeout=5):
        deadline = time.time() + timeout
        while time.time() < deadline:
            lines = [l for l in list(self.server.stderr_lines) if needle in l]
            if len(lines) >= n:
                time.sleep(0.2)
                return [l for l in list(self.server.stderr_lines) if needle in l]
            time.sleep(0.05)
        return [l for l in list(self.server.stderr_lines) if needle in l]

    def test_one_json_line_per_request(self):
        names = ["Zulkarnaen Wibisono", "Rahmawati Kusumadewi"]
        uuids = []
        for i, name in enumerate(names):
            fields = request_fields({"LOG-%d" % i: invoice(member_name=name)})
            uuids.append(fields["rq_uuid"])
            st, h, body = self.server.post_form(fields)
            self.assertEqual(json.loads(body)["error_code"], "0000")
        # a request-level failure is logged too
        fields = request_fields({"LOG-X": invoice(member_name="Sutrisno Hadiwijoyo")}, key="bad")
        uuids.append(fields["rq_uuid"])
        st, h, body = self.server.post_form(fields)
        self.assertEqual(json.loads(body)["error_code"], "0004")
        expect_code = ["0000", "0000", "0004"]
        for u, code in zip(uuids, expect_code):
            lines = self.wait_lines(u)
            self.assertEqual(len(lines), 1, "log lines for %s: %r" % (u, self.server.stderr_lines))
            obj = json.loads(lines[0])
            self.assertIsInstance(obj, dict)
            self.assertEqual(obj.get("rq_uuid"), u, obj)
            self.assertEqual(obj.get("comm_code"), COMM, obj)
            self.assertEqual(obj.get("error_code"), code, obj)
            self.assertTrue(any(k.startswith("latency") for k in obj), obj)
        all_err = "".join(self.server.stderr_lines)
        self.assertNotIn(KEY.lower(), all_err.lower())
        for name in names + ["Sutrisno Hadiwijoyo", "Budi Santoso"]:
            self.assertNotIn(name, all_err)
            self.assertNotIn(json.dumps(name)[1:-1], all_err)

    def test_http_level_requests_logged(self):
        def n_code():
            n = {"0404": 0, "0405": 0, "0415": 0}
            for l in list(self.server.stderr_lines):
                try:
                    o = json.loads(l)
                except ValueError:
                    continue
                if isinstance(o, dict) and o.get("error_code") in n:
                    n[o["error_code"]] += 1
            return n
        self.server.request("GET", "/nope-log")
        self.server.request("GET", PATH)
        self.server.request("POST", PATH, b"hello", {"Content-Type": "text/plain"})
        want = {"0404": 1, "0405": 1, "0415": 1}
        deadline = time.time() + 5
        while time.time() < deadline and n_code() != want:
            time.sleep(0.05)
        time.sleep(0.2)
        self.assertEqual(n_code(), want, self.server.stderr_lines)


class TestLifecycle(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vabill-test-")
        self.db = os.path.join(self.tmp, "vabill.db")
        add_community(self.db)
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.__exit__(None, None, None)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self, args=()):
        s = Server(self.db, args)
        self.servers.append(s)
        return s

    def test_listening_line(self):
        p = subprocess.Popen([VABILLD, "--db", db_url(self.db), "--listen", "127.0.0.1:0"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            timer = threading.Timer(15, p.kill)
            timer.start()
            line = p.stdout.readline()
            timer.cancel()
            m = re.fullmatch(r"listening on 127\.0\.0\.1:(\d+)\n", line)
            self.assertIsNotNone(m, repr(line))
            port = int(m.group(1))
            self.assertTrue(0 < port < 65536, port)
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            c.request("GET", "/healthz")
            self.assertEqual(c.getresponse().status, 200)
            c.close()
            p.send_signal(signal.SIGTERM)
            self.assertEqual(p.wait(timeout=30), 0)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stdout.close()

    def test_listening_line_explicit_port(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        p = subprocess.Popen([VABILLD, "--db", db_url(self.db), "--listen",
                              "127.0.0.1:%d" % port],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            timer = threading.Timer(15, p.kill)
            timer.start()
            line = p.stdout.readline()
            timer.cancel()
            self.assertEqual(line, "listening on 127.0.0.1:%d\n" % port)
            p.send_signal(signal.SIGINT)
            self.assertEqual(p.wait(timeout=30), 0)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stdout.close()

    def test_sigterm_exits_0(self):
        s = self.start()
        st, h, obj, raw = send(s, {"SIG-T": invoice()})
        self.assertEqual(obj["error_code"], "0000")
        self.assertEqual(s.stop(signal.SIGTERM), 0)

    def test_sigint_exits_0(self):
        s = self.start()
        st, h, obj, raw = send(s, {"SIG-I": invoice()})
        self.assertEqual(obj["error_code"], "0000")
        self.assertEqual(s.stop(signal.SIGINT), 0)

    def test_sigterm_idle_exits_0(self):
        s = self.start()
        self.assertEqual(s.stop(signal.SIGTERM), 0)

    def test_sigterm_with_idle_connections_exits_promptly(self):
        s = self.start()
        # a keep-alive connection that has finished its request, and a
        # connection that never sent anything
        c = http.client.HTTPConnection(s.host, s.port, timeout=10)
        c.request("GET", "/healthz")
        r = c.getresponse()
        r.read()
        self.assertEqual(r.status, 200)
        raw = socket.create_connection((s.host, s.port), timeout=10)
        try:
            time.sleep(0.2)
            t0 = time.time()
            s.proc.send_signal(signal.SIGTERM)
            self.assertEqual(s.proc.wait(timeout=15), 0)
            self.assertLess(time.time() - t0, 10)
        finally:
            raw.close()
            c.close()

    def test_sigterm_with_concurrent_requests(self):
        s = self.start()
        n = 6
        bodies = []
        for k in range(n):
            invs = {"CC%d-%03d" % (k, i): invoice() for i in range(200)}
            bodies.append(form_body(request_fields(invs)))
        results = [None] * n
        conns = []
        for k in range(n):
            c = http.client.HTTPConnection(s.host, s.port, timeout=30)
            c.connect()
            conns.append(c)
        time.sleep(0.3)   # all connections accepted

        def run(k):
            try:
                conns[k].request("POST", PATH, bodies[k],
                                 {"Content-Type": "application/x-www-form-urlencoded"})
                r = conns[k].getresponse()
                results[k] = (r.status, r.read())
            except Exception as e:
                results[k] = e
        threads = [threading.Thread(target=run, args=(k,), daemon=True) for k in range(n)]
        for t in threads:
            t.start()
        time.sleep(0.05)
        s.proc.send_signal(signal.SIGTERM)
        for t in threads:
            t.join(40)
        self.assertFalse(any(t.is_alive() for t in threads))
        self.assertEqual(s.stop(timeout=30), 0)
        for c in conns:
            c.close()
        for k, res in enumerate(results):
            if isinstance(res, (ConnectionError, http.client.RemoteDisconnected)):
                # closed before its request arrived: nothing stored
                r = cli("invoice", "show", COMM, "CC%d-000" % k, db=self.db)
                self.assertNotEqual(r.returncode, 0, (k, r.stdout))
                continue
            self.assertIsInstance(res, tuple, res)
            self.assertEqual(res[0], 200)
            obj = json.loads(res[1])
            self.assertEqual(obj["error_code"], "0000")
            self.assertEqual(len(obj["invoices_success"]), 200)

    def _big_batch(self, prefix):
        invs = {"%s-%03d" % (prefix, i): invoice(member_code="M%03d" % i) for i in range(500)}
        return invs, form_body(request_fields(invs))

    def test_inflight_request_finishes_on_sigterm(self):
        s = self.start()
        invs, body = self._big_batch("INF")
        result = {}
        started = threading.Event()

        def run():
            c = http.client.HTTPConnection(s.host, s.port, timeout=30)
            try:
                c.connect()
                started.set()
                c.request("POST", PATH, body,
                          {"Content-Type": "application/x-www-form-urlencoded"})
                r = c.getresponse()
                result["status"] = r.status
                result["body"] = r.read()
            except (ConnectionError, http.client.RemoteDisconnected, BrokenPipeError) as e:
                result["refused"] = e
            except Exception as e:  # IncompleteRead and friends: a truncated answer
                result["error"] = e
            finally:
                c.close()

        t = threading.Thread(target=run, daemon=True)
        t.start()
        self.assertTrue(started.wait(10))
        time.sleep(0.01)
        s.proc.send_signal(signal.SIGTERM)
        t.join(40)
        self.assertFalse(t.is_alive(), "request never finished")
        self.assertEqual(s.stop(timeout=30), 0)
        self.assertNotIn("error", result, result)
        if "refused" in result:
            # never accepted: nothing may be stored
            r = cli("invoice", "show", COMM, "INF-000", db=self.db)
            self.assertNotEqual(r.returncode, 0, r.stdout)
            return
        self.assertEqual(result["status"], 200)
        obj = json.loads(result["body"])   # a truncated body would not parse
        self.assertEqual(obj["error_code"], "0000", obj)
        self.assertEqual(len(obj["invoices_success"]), 500)
        self.assertEqual(obj["total_invoice"], "500")
        r = cli("invoice", "show", COMM, "INF-499", db=self.db)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_half_sent_request_finishes_on_sigterm(self):
        # The request's headers and half its body are in when SIGTERM
        # arrives: it is in flight and must be answered in full.
        s = self.start()
        invs, body = self._big_batch("HALF")
        sock = socket.create_connection((s.host, s.port), timeout=30)
        try:
            sock.sendall(("POST %s HTTP/1.1\r\nHost: x\r\n"
                          "Content-Type: application/x-www-form-urlencoded\r\n"
                          "Content-Length: %d\r\n\r\n" % (PATH, len(body))).encode())
            half = len(body) // 2
            sock.sendall(body[:half])
            time.sleep(0.5)
            s.proc.send_signal(signal.SIGTERM)
            time.sleep(0.3)
            sock.sendall(body[half:])
            st, h, data = read_response(sock, timeout=30)
        finally:
            sock.close()
        self.assertEqual(st, 200, data[:200])
        obj = json.loads(data)
        self.assertEqual(obj["error_code"], "0000", obj.get("error_message"))
        self.assertEqual(len(obj["invoices_success"]), 500)
        self.assertEqual(s.stop(timeout=30), 0)
        r = cli("invoice", "show", COMM, "HALF-250", db=self.db)
        self.assertEqual(r.returncode, 0, r.stderr)


if __name__ == "__main__":
    unittest.main()
