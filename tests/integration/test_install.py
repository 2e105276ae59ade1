"""Installing (issue 9): `cmake --install` of the build that made $VABILLD.

Installs into a temporary DESTDIR (never onto this machine), then checks that
every file is there, that the installed programs run (and the server answers
/healthz), that the unit and environment file say what docs/OPERATIONS.md
says, and that the man pages render without warnings and cover every option
and command of the usage texts.  The Debian package itself is built by hand
(docs/OPERATIONS.md, "Installing as a service"), not here.
"""
import glob
import gzip
import os
import re
import shutil
import subprocess
import tempfile
import unittest
import urllib.request

from harness import VABILL, VABILLD

BUILD = os.path.dirname(os.path.abspath(VABILLD))
CMAKE = shutil.which("cmake")


def cache_value(name):
    """A variable of the build's CMakeCache.txt."""
    with open(os.path.join(BUILD, "CMakeCache.txt"), encoding="utf-8") as f:
        for line in f:
            m = re.match(r"^%s:[A-Z]+=(.*)$" % re.escape(name), line.rstrip("\n"))
            if m:
                return m.group(1)
    return None


@unittest.skipIf(os.environ.get("VABILL_TEST_PG"), "installing does not depend on the store")
@unittest.skipUnless(CMAKE, "cmake is not on PATH")
@unittest.skipUnless(os.path.exists(os.path.join(BUILD, "cmake_install.cmake")),
                     "VABILLD is not in a CMake build directory")
class InstallCase(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="vabill-install-")
        cls.dest = os.path.join(cls.tmp, "root")
        env = dict(os.environ, DESTDIR=cls.dest)
        r = subprocess.run([CMAKE, "--install", BUILD], env=env, capture_output=True,
                           text=True, timeout=300)
        if r.returncode != 0:
            raise AssertionError("cmake --install failed:\n" + r.stdout + r.stderr)
        prefix = cache_value("CMAKE_INSTALL_PREFIX") or "/usr/local"
        cls.prefix = prefix
        cls.root = cls.dest + prefix
        # GNUInstallDirs: sysconfdir is /etc for prefix /usr, PREFIX/etc otherwise
        cls.etc = cls.dest + ("/etc" if prefix == "/usr" else prefix + "/etc")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def path(self, rel):
        return os.path.join(self.root, rel)

    def read(self, path):
        with open(path, encoding="utf-8") as f:
            return f.read()

    def test_files_are_installed(self):
        for rel in ["bin/vabilld", "bin/vabill"]:
            self.assertTrue(os.access(self.path(rel), os.X_OK), rel)
        for rel in ["share/man/man8/vabilld.8.gz", "share/man/man1/vabill.1.gz",
                    "lib/systemd/system/vabilld.service", "lib/sysusers.d/vabill.conf",
                    "lib/tmpfiles.d/vabill.conf", "share/doc/vabill/OPERATIONS.md",
                    "share/doc/vabill/API.md", "share/doc/vabill/SEND.md"]:
            self.assertTrue(os.path.isfile(self.path(rel)), rel)
        default = os.path.join(self.etc, "default", "vabilld")
        self.assertTrue(os.path.isfile(default), default)
        # it may hold a database password
        self.assertEqual(os.stat(default).st_mode & 0o777, 0o640)
        # nothing outside DESTDIR's prefix and sysconfdir
        for p in glob.glob(os.path.join(self.dest, "*")):
            self.assertIn(os.path.basename(p), ("usr", "etc", "opt"), p)

    def test_installed_programs_run(self):
        r = subprocess.run([self.path("bin/vabill"), "--help"], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("community add", r.stdout)
        r = subprocess.run([self.path("bin/vabilld"), "--help"], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("--listen", r.stdout)
        db = os.path.join(self.tmp, "run.db")
        r = subprocess.run([self.path("bin/vabill"), "--db", db, "init"], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        p = subprocess.Popen([self.path("bin/vabilld"), "--db", db, "--listen", "127.0.0.1:0"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            line = p.stdout.readline()
            m = re.match(r"listening on 127\.0\.0\.1:(\d+)$", line.strip())
            self.assertIsNotNone(m, line)
            with urllib.request.urlopen("http://127.0.0.1:%s/healthz" % m.group(1),
                                        timeout=10) as resp:
                self.assertEqual(resp.status, 200)
        finally:
            p.terminate()
            self.assertEqual(p.wait(timeout=60), 0)
            p.stdout.close()

    def test_unit(self):
        unit = self.read(self.path("lib/systemd/system/vabilld.service"))
        bindir = self.prefix + "/bin"
        etc = "/etc" if self.prefix == "/usr" else self.prefix + "/etc"
        for line in ["User=vabill", "Group=vabill", "DynamicUser=no", "StateDirectory=vabill",
                     "StateDirectoryMode=0700", "ProtectSystem=strict", "ProtectHome=yes",
                     "PrivateTmp=yes", "NoNewPrivileges=yes", "KillSignal=SIGTERM",
                     "Restart=on-failure", "Environment=VABILL_DB=/var/lib/vabill/vabill.db",
                     "EnvironmentFile=-%s/default/vabilld" % etc,
                     "ExecStart=%s/vabilld $VABILLD_OPTS" % bindir]:
            self.assertIn("\n" + line + "\n", unit)
        analyze = shutil.which("systemd-analyze")
        if analyze:
            # the unit as installed, pointing at the installed binary
            check = os.path.join(self.tmp, "vabilld.service")
            with open(check, "w", encoding="utf-8") as f:
                f.write(unit.replace("ExecStart=%s/vabilld" % bindir,
                                     "ExecStart=%s/vabilld" % self.path("bin")))
            env = dict(os.environ, MANPATH=self.path("share/man"))
            r = subprocess.run([analyze, "verify", check], capture_output=True, text=True,
                               env=env, timeout=60)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        sysusers = self.read(self.path("lib/sysusers.d/vabill.conf"))
        self.assertRegex(sysusers, r"(?m)^u vabill - .* /var/lib/vabill ")
        tmpfiles = self.read(self.path("lib/tmpfiles.d/vabill.conf"))
        self.assertRegex(tmpfiles, r"(?m)^d /var/lib/vabill 0700 vabill vabill")
        default = self.read(os.path.join(self.etc, "default", "vabilld"))
        self.assertRegex(default, r"(?m)^VABILL_DB=/var/lib/vabill/vabill\.db$")
        self.assertRegex(default, r"(?m)^VABILLD_OPTS=")

    def man_text(self, rel):
        with gzip.open(self.path(rel), "rt", encoding="utf-8") as f:
            return f.read()

    def test_man_pages_render_without_warnings(self):
        groff = shutil.which("groff")
        man = shutil.which("man")
        if not groff and not man:
            self.skipTest("neither groff nor man is installed")
        for rel in ["share/man/man8/vabilld.8.gz", "share/man/man1/vabill.1.gz"]:
            if groff:
                r = subprocess.run([groff, "-man", "-Tutf8", "-ww", "-z"],
                                   input=self.man_text(rel), capture_output=True, text=True,
                                   timeout=60)
                self.assertEqual((r.returncode, r.stderr), (0, ""), rel)
            if man:
                env = dict(os.environ, MANWIDTH="80", MAN_KEEP_FORMATTING="", LC_ALL="C.UTF-8")
                r = subprocess.run([man, "--warnings", "-l", self.path(rel)], capture_output=True,
                                   text=True, env=env, timeout=60)
                self.assertEqual((r.returncode, r.stderr), (0, ""), rel)
                self.assertIn("SYNOPSIS", r.stdout)

    def usage_words(self, program, *args):
        r = subprocess.run([program] + list(args), capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def test_man_pages_cover_every_option_and_command(self):
        sections = ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "ENVIRONMENT", "FILES",
                    "EXIT STATUS", "EXAMPLES", "SEE ALSO"]
        # the usage texts name every option; a page must name each one
        for rel, usage, extra in [
                ("share/man/man8/vabilld.8.gz", self.usage_words(VABILLD, "--help"), ["SIGNALS"]),
                ("share/man/man1/vabill.1.gz",
                 self.usage_words(VABILL, "--help") + self.usage_words(VABILL, "send", "--help"),
                 ["COMMANDS"])]:
            page = self.man_text(rel).replace("\\-", "-")
            for s in sections + extra:
                self.assertRegex(page, r"(?m)^\.SH %s$" % s, rel)
            # each option described in OPTIONS (and COMMANDS), not only in SYNOPSIS
            body = page[page.index("\n.SH OPTIONS"):page.index("\n.SH ENVIRONMENT")]
            options = set(re.findall(r"--[a-z][a-z-]*", usage))
            self.assertTrue(options)
            for o in sorted(options):
                found = re.search(r"(?m)^\.(BI|B|BR) %s\b" % re.escape(o), body)
                self.assertTrue(found, "%s does not describe %s" % (rel, o))
            self.assertIn("VABILL_DB", page)
        page = self.man_text("share/man/man1/vabill.1.gz")
        for cmd in ["init", "community add", "community list", "community show",
                    "community disable", "community enable", "invoice show", "sign", "bank add",
                    "notification list", "pay", "status", "close", "send", "operator add",
                    "operator list", "operator remove", "report payments", "report invoices"]:
            found = re.search(r'(?m)^\.BI? "?%s\b' % cmd, page)
            self.assertTrue(found, "vabill.1 does not describe %s" % cmd)


if __name__ == "__main__":
    unittest.main()
