"""Test harness: starts the real vabilld on port 0 with a temporary SQLite
database and talks HTTP to it.  Standard library only.

Binaries come from the environment (set by ctest): VABILLD, VABILL.

With VABILL_TEST_PG=1 the same tests run against PostgreSQL: the harness
starts one throwaway cluster per test process (initdb and pg_ctl in a temp
dir, unix socket only, stopped at exit), and every database path a test
hands to cli(), add_community() or Server() (a plain path, not sqlite:...)
stands for a PostgreSQL database of its own, created on first use and
dropped once the path's directory is gone.  db_url() gives the --db value
for programs a test starts itself; db_query() / db_exec() / hold_write_lock()
reach the store behind either backend; sqlite_only skips what only makes
sense for a file.
"""
import atexit
import datetime
import glob
import hashlib
import http.client
import json
import os
import shutil
import signal
import sqlite3
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

PG = os.environ.get("VABILL_TEST_PG") == "1"
sqlite_only = unittest.skipIf(PG, "checks the SQLite file itself")


def _pg_program(name):
    found = shutil.which(name)
    if found:
        return found
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(os.path.join(d, name)):
            return os.path.join(d, name)
    raise RuntimeError("%s not found: install Debian's postgresql" % name)


class PgCluster:
    """A throwaway PostgreSQL cluster in a temp dir, reached through a unix
    socket in that dir (no TCP port).  As root, the server runs as the
    `postgres` user; its superuser is `vabill`, trusted on the socket.
    fsync is off (a test cluster is thrown away, not recovered after a power
    cut); synchronous_commit stays on, so a committed answer survives a crash
    of the server processes."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="vabill-pg-")
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "log")
        self.as_user = []
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self._run([_pg_program("initdb"), "-D", self.data, "-U", "vabill", "-A", "trust",
                   "-E", "UTF8", "--locale=C", "--no-sync"])
        self.start()
        self.databases = {}  # path -> database name
        self.lock = threading.Lock()

    def _run(self, argv, check=True):
        r = subprocess.run(self.as_user + argv, capture_output=True, text=True, timeout=120)
        if check and r.returncode != 0:
            raise RuntimeError("%s failed: %s %s" % (argv[0], r.stdout, r.stderr))
        return r

    def start(self):
        opts = ("-k %s -c listen_addresses= -c fsync=off -c full_page_writes=off"
                " -c max_connections=300 -c shared_buffers=32MB" % self.dir)
        r = self._run([_pg_program("pg_ctl"), "-D", self.data, "-l", self.log, "-w", "-t", "60",
                       "-o", opts, "start"], check=False)
        if r.returncode != 0:
            with open(self.log) as f:
                raise RuntimeError("pg_ctl start failed: %s %s" % (r.stderr, f.read()[-2000:]))

    def stop(self, mode="fast"):
        """mode: fast (clients disconnected, clean shutdown) or immediate
        (the server processes die as in a crash)."""
        self._run([_pg_program("pg_ctl"), "-D", self.data, "-w", "-m", mode, "stop"],
                  check=False)

    def url(self, dbname):
        return "postgresql://vabill@/%s?host=%s" % (dbname, self.dir)

    def psql(self, dbname, sql, variables=(), check=True):
        argv = [_pg_program("psql"), "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                "-h", self.dir, "-U", "vabill", "-d", dbname]
        for k, v in variables:
            argv += ["-v", "%s=%s" % (k, v)]
        r = subprocess.run(argv, input=sql, capture_output=True, text=True, timeout=60)
        if check and r.returncode != 0:
            raise AssertionError("psql: %s" % r.stderr)
        return r

    def database_for(self, path):
        """The database standing for a test's database path."""
        path = os.path.abspath(path)
        with self.lock:
            return self._database_for(path)

    def _database_for(self, path):
        name = self.databases.get(path)
        if name is None:
            self._collect()
            name = "t_" + hashlib.sha1(path.encode()).hexdigest()[:24]
            self.psql("postgres", 'DROP DATABASE IF EXISTS "%s" WITH (FORCE);'
                      'CREATE DATABASE "%s";' % (name, name))
            self.databases[path] = name
        return name

    def _collect(self):
        # a test removes its temp dir when it ends: its database goes too
        for path, name in list(self.databases.items()):
            if not os.path.isdir(os.path.dirname(path)):
                self.psql("postgres", 'DROP DATABASE IF EXISTS "%s" WITH (FORCE);' % name,
                          check=False)
                del self.databases[path]

    def destroy(self):
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


_cluster = None
_cluster_lock = threading.Lock()


def pg_cluster():
    """The test process's PostgreSQL cluster, started on first use."""
    global _cluster
    with _cluster_lock:
        if _cluster is None:
            _cluster = PgCluster()
            atexit.register(_cluster.destroy)
    return _cluster


def db_url(db):
    """The --db value for a test's database: the path itself, or under
    VABILL_TEST_PG=1 the URL of the PostgreSQL database standing for it."""
    if not PG or db is None or db.startswith(("sqlite:", "postgresql:", "postgres:")):
        return db
    c = pg_cluster()
    return c.url(c.database_for(db))


def _pg_sql(sql, params):
    """? placeholders become psql variables, quoted as literals."""
    parts = sql.split("?")
    if len(parts) - 1 != len(params):
        raise ValueError("placeholders and parameters differ")
    out, variables = parts[0], []
    for i, (v, rest) in enumerate(zip(params, parts[1:])):
        out += ":'p%d'" % i + rest
        variables.append(("p%d" % i, str(v)))
    return out, variables


def db_query(db, sql, params=()):
    """Rows of a SELECT (? placeholders) on the test database behind db; under
    PostgreSQL every value comes back as text."""
    if PG and not db.startswith("sqlite:"):
        c = pg_cluster()
        text, variables = _pg_sql(sql, params)
        r = c.psql(c.database_for(db), text + ";\n", variables)
        return [tuple(line.split("|")) for line in r.stdout.splitlines() if line]
    con = sqlite3.connect("file:%s?mode=ro" % db.replace("sqlite:", "", 1), uri=True, timeout=10)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def db_exec(db, sql, params=()):
    """Runs one changing statement (? placeholders); returns its row count."""
    if PG and not db.startswith("sqlite:"):
        c = pg_cluster()
        text, variables = _pg_sql(sql, params)
        r = c.psql(c.database_for(db), text + ";\n", variables)
        return int(r.stdout.split()[-1])
    con = sqlite3.connect(db.replace("sqlite:", "", 1), timeout=10)
    try:
        with con:
            return con.execute(sql, params).rowcount
    finally:
        con.close()


class hold_write_lock:
    """Context manager: keeps the store's writers waiting (SQLite: the write
    lock; PostgreSQL: the invoice and request tables locked against writes)."""

    def __init__(self, db):
        self.db = db

    def __enter__(self):
        if PG:
            c = pg_cluster()
            self.proc = subprocess.Popen(
                [_pg_program("psql"), "-X", "-A", "-t", "-h", c.dir, "-U", "vabill", "-d",
                 c.database_for(self.db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                text=True)
            self.proc.stdin.write("BEGIN; LOCK TABLE invoice, request IN EXCLUSIVE MODE;"
                                  " SELECT 'locked';\n")
            self.proc.stdin.flush()
            while self.proc.stdout.readline().strip() != "locked":
                pass
        else:
            self.con = sqlite3.connect(self.db, timeout=1, isolation_level=None)
            self.con.execute("BEGIN IMMEDIATE")
        return self

    def __exit__(self, *exc):
        if PG:
            self.proc.communicate("ROLLBACK;\n", timeout=30)
        else:
            self.con.execute("ROLLBACK")
            self.con.close()


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
        argv += ["--db", db_url(db)]
    args = list(args)
    for i in range(1, len(args)):
        if args[i - 1] == "--db":
            args[i] = db_url(args[i])
    argv += args
    e = dict(os.environ)
    e.pop("VABILL_DB", None)
    if env:
        e.update(env)
        if "VABILL_DB" in env:
            e["VABILL_DB"] = db_url(env["VABILL_DB"])
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
            [VABILLD, "--db", db_url(db), "--listen", "127.0.0.1:0"] + list(args),
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
