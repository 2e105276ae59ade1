"""The README's first command, end to end (without installing or building):
scripts/demo.sh must show VA numbers, a payment, the partner's
notification and the paid status."""
import os
import socket
import subprocess
import tempfile
import unittest

from harness import PG, VABILLD

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@unittest.skipIf(PG, "the demo runs on its own SQLite file")
class Demo(unittest.TestCase):
    def test_demo_script(self):
        tmp = tempfile.mkdtemp(prefix="vabill-demo-")
        env = dict(os.environ, VABILL_SKIP_DEPS="1", DEMO_EXIT="1", DEMO_DIR=tmp,
                   DEMO_PORT=str(free_port()), DEMO_RECEIVER_PORT=str(free_port()),
                   DEMO_BIN=os.path.dirname(os.path.abspath(VABILLD)))
        r = subprocess.run(["sh", os.path.join(ROOT, "scripts", "demo.sh")], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        out = r.stdout
        self.assertIn('"va_number": "6280600000000013"', out)
        self.assertIn('"va_number": "8871200000000021"', out)
        self.assertIn("notification received (signature valid)", out)
        self.assertIn('"status": "paid"', out)
        self.assertIn('"outstanding_amount":"0.00"', out)
        # the operator's token opens the admin API: the day's overview
        self.assertRegex(out, r"vbo_[0-9a-f]{64}")
        self.assertIn('"payments_today": {', out)


if __name__ == "__main__":
    unittest.main()
