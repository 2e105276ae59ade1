"""The storage contract of issue 9 (operators, sessions, searches, the
overview, the payments report, notification attempts and retries) against
the backend under test: runs the cmocka program test_store_contract with
VABILL_STORE_URL set to the test's database, a fresh SQLite file or, under
VABILL_TEST_PG=1, a PostgreSQL database of its own."""
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import db_url

CONTRACT = os.environ.get("VABILL_STORE_CONTRACT",
                          os.path.join(os.path.dirname(__file__), "../../build/test_store_contract"))


class StoreContract(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vabill-test-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_contract(self):
        url = db_url(os.path.join(self.tmp, "vabill.db"))
        env = dict(os.environ, VABILL_STORE_URL=url)
        r = subprocess.run([CONTRACT], capture_output=True, text=True, timeout=540, env=env)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("[  PASSED  ] 11 test(s).", r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main()
