"""Test harness: starts the real vabilld on port 0 with a temporary SQLite
database and talks HTTP to it.  Standard library only.

Binaries come from the environment (set by ctest): VABILLD, VABILL.
"""
import datetime
import hashlib
import http.client
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse
import uuid

VABILLD = os.environ.get("VABILLD", os.path.join(os.path.dirname(__file__), "../../build/vabilld"))
VABILL = os.environ.get("VABILL", os.path.join(os.path.dirname(__file__), "../../build/vabill"))

KEY = "7bc074f97c3131d2e290a4as"
COMM = "SGWTES"
BANKS = ["008:62806", "009:88712"]
PATH = "/rest/virtualaccount/sendinvoice"


def sign(rq_uuid, rq_datetime, comm_code, key, mode="SENDINVOICE"):
    s = "##%s##%s##%s##%s##%s##" % (rq_uuid, rq_datetime, comm_code, key, mode)
    return hashlib.sha256(s.upper().encode()).hexdigest()


def now_local(offset_minutes=420, delta_seconds=0):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(
        minutes=offset_minutes, seconds=delta_seconds)
    return t.strftime("%Y-%m-%d %H:%M:%S")


def invoice(**over):
    """A valid invoice (SPEC 1.3); keyword arguments replace or add members,
    a value of None removes the member."""
    inv = {
        "member_code": "M001",
        "member_name": "Budi Santoso",
        "amount": "20000",
        "total_amount": "20000",
        "number_of_installment": 1,
        "installment_amount": "20000",
        "billing_date": 5,
        "description": "VA Payment Test",
    }
    for k, v in over.items():
        if v is None:
            inv.pop(k, None)
        else:
            inv[k] = v
    return inv


def cli(*args, db=None, input=None, env=None):
    """Runs vabill; returns CompletedProcess with text stdout/stderr."""
    argv = [VABILL]
    if db is not None:
        argv += ["--db", db]
    argv += list(args)
    e = dict(os.environ)
    e.pop("VABILL_DB", None)
    if env:
        e.update(env)
    return subprocess.run(argv, input=input, capture_output=True, text=True, timeout=60, env=e)


def add_community(db, code=COMM, key=KEY, banks=BANKS, extra=()):
    argv = ["community", "add", code, "--key", key]
    for b in banks:
        argv += ["--bank", b]
    argv += list(extra)
    r = cli(*argv, db=db)
    if r.returncode != 0:
        raise AssertionError("community add failed: " + r.stderr)
    return r


class Server:
    """A running vabilld.  Use as a context manager or call stop()."""

    def __init__(self, db, args=(), env=None):
        self.db = db
        e = dict(os.environ)
        if env:
            e.update(env)
        self.proc = subprocess.Popen(
            [VABILLD, "--db", db, "--listen", "127.0.0.1:0"] + list(args),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e)
        self.stderr_lines = []
        self._err = threading.Thread(target=self._drain, daemon=True)
        self._err.start()
        line = self.proc.stdout.readline()
        if not line.startswith("listening on "):
            self.proc.kill()
            self.proc.wait()
            time.sleep(0.1)
            raise AssertionError("vabilld did not start: %r %r" % (line, self.stderr_lines))
        hostport = line[len("listening on "):].strip()
        self.host, port = hostport.rsplit(":", 1)
        self.port = int(port)

    def _drain(self):
        for line in self.proc.stderr:
            self.stderr_lines.append(line)

    def request(self, method, path, body=None, headers=None, timeout=30):
        """Returns (status, headers dict with lower-case names, body bytes)."""
        c = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            c.close()

    def post_form(self, fields, path=PATH, content_type="application/x-www-form-urlencoded"):
        """fields: dict or list of (name, value) pairs; values are sent as given."""
        body = urllib.parse.urlencode(fields).encode()
        return self.request("POST", path, body, {"Content-Type": content_type})

    def post_json(self, obj, path=PATH, content_type="application/json"):
        body = obj if isinstance(obj, (bytes, str)) else json.dumps(obj)
        if isinstance(body, str):
            body = body.encode()
        return self.request("POST", path, body, {"Content-Type": content_type})

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=timeout)
        self._close_pipes()
        return rc

    def _close_pipes(self):
        self._err.join(timeout=5)
        for f in (self.proc.stdout, self.proc.stderr):
            if f and not f.closed:
                try:
                    f.close()
                except OSError:
                    pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._close_pipes()


def request_fields(invoices, rq_uuid=None, comm_code=COMM, key=KEY, ccy="IDR",
                   rq_datetime=None, total=None):
    """A correctly signed sendinvoice request as a dict (invoices as JSON text)."""
    rq_uuid = rq_uuid or ("T-" + uuid.uuid4().hex)
    rq_datetime = rq_datetime or now_local()
    if total is None:
        total = len(invoices) if isinstance(invoices, dict) else 1
    inv_text = invoices if isinstance(invoices, str) else json.dumps(invoices)
    return {
        "rq_uuid": rq_uuid,
        "rq_datetime": rq_datetime,
        "signature": sign(rq_uuid, rq_datetime, comm_code, key),
        "comm_code": comm_code,
        "ccy": ccy,
        "invoices": inv_text,
        "total_invoices": str(total),
    }


def send(server, invoices, form=True, **kw):
    """Signs and posts a sendinvoice request; returns (status, headers, parsed
    JSON body, raw body)."""
    fields = request_fields(invoices, **kw)
    if form:
        st, h, body = server.post_form(fields)
    else:
        st, h, body = server.post_json(fields)
    return st, h, json.loads(body), body


class ServerTest(unittest.TestCase):
    """Base class: a temp dir, a database with community SGWTES (banks
    008:62806, 009:88712), and a running server in self.server."""

    server_args = ()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vabill-test-")
        self.db = os.path.join(self.tmp, "vabill.db")
        add_community(self.db)
        self.server = Server(self.db, self.server_args)

    def tearDown(self):
        self.server.__exit__(None, None, None)
        shutil.rmtree(self.tmp, ignore_errors=True)
