"""vabilld over TLS (--tls-cert / --tls-key, libmicrohttpd with GnuTLS),
with a self-signed certificate made here."""
import http.client
import json
import os
import shutil
import ssl
import subprocess
import tempfile
import unittest

from harness import PATH, VABILLD, Server, add_community, cli, invoice, request_fields
import urllib.parse


def make_cert(tmp):
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


class Tls(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="vabill-tls-")
        cls.cert, cls.key = make_cert(cls.tmp)
        cls.db = os.path.join(cls.tmp, "vabill.db")
        add_community(cls.db)
        out = cli("operator", "add", "tls-ops", db=cls.db).stdout
        cls.token = [w for w in out.split() if w.startswith("vbo_")][0]
        cls.server = Server(cls.db, ("--tls-cert", cls.cert, "--tls-key", cls.key))

    @classmethod
    def tearDownClass(cls):
        cls.server.__exit__(None, None, None)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def https(self, body, ctype="application/x-www-form-urlencoded"):
        ctx = ssl.create_default_context(cafile=self.cert)
        c = http.client.HTTPSConnection(self.server.host, self.server.port, context=ctx,
                                        timeout=30)
        try:
            c.request("POST", PATH, body, {"Content-Type": ctype})
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()

    def test_sendinvoice_over_tls(self):
        fields = request_fields({"TLS-1": invoice()})
        st, body = self.https(urllib.parse.urlencode(fields))
        self.assertEqual(st, 200)
        obj = json.loads(body)
        self.assertEqual(obj["error_code"], "0000")
        self.assertEqual(obj["invoices"]["TLS-1"]["error_code"], "0000")
        # the same request again replays, over TLS too
        st, again = self.https(json.dumps(fields), "application/json")
        self.assertEqual(again, body)

    def test_console_cookie_is_secure_under_tls(self):
        ctx = ssl.create_default_context(cafile=self.cert)
        c = http.client.HTTPSConnection(self.server.host, self.server.port, context=ctx,
                                        timeout=30)
        try:
            c.request("POST", "/admin/api/login", json.dumps({"token": self.token}),
                      {"Content-Type": "application/json"})
            r = c.getresponse()
            r.read()
            self.assertEqual(r.status, 200)
            parts = [p.strip() for p in r.getheader("Set-Cookie").split(";")]
            for attr in ("Secure", "HttpOnly", "SameSite=Strict", "Path=/"):
                self.assertIn(attr, parts)
        finally:
            c.close()

    def test_plain_http_is_refused(self):
        c = http.client.HTTPConnection(self.server.host, self.server.port, timeout=10)
        try:
            with self.assertRaises((http.client.HTTPException, OSError)):
                c.request("GET", "/healthz")
                r = c.getresponse()
                r.read()
                if r.status == 200:
                    raise AssertionError("plain HTTP answered on the TLS port")
                raise OSError("refused as expected")
        finally:
            c.close()

    def test_options_go_together(self):
        r = subprocess.run([VABILLD, "--db", self.db, "--listen", "127.0.0.1:0",
                            "--tls-cert", self.cert], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--tls-cert and --tls-key go together", r.stderr)
        r = subprocess.run([VABILLD, "--db", self.db, "--listen", "127.0.0.1:0",
                            "--tls-cert", self.cert, "--tls-key", self.tmp + "/missing.pem"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot read", r.stderr)


if __name__ == "__main__":
    unittest.main()
