"""A tiny partner endpoint for the demo: receives vabill's payment
notifications (SPEC 5.3), checks their PAYMENTREPORT signature with the
community key, prints them, and acknowledges with error_code 0000.

    python3 examples/receiver.py PORT KEY
"""
import hashlib
import json
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer

KEY = sys.argv[2] if len(sys.argv) > 2 else "7bc074f97c3131d2e290a4as"


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        f = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode(), keep_blank_values=True).items()}
        text = "##%s##%s##%s##%s##%s##%s##%s##PAYMENTREPORT##" % (
            f.get("rq_uuid"), f.get("rq_datetime"), f.get("comm_code"), f.get("doc_no"),
            f.get("payment_ref"), f.get("amount"), KEY)
        good = hashlib.sha256(text.upper().encode()).hexdigest() == f.get("signature", "").lower()
        print("notification received (signature %s): %s" % (
            "valid" if good else "INVALID", json.dumps(f)), flush=True)
        answer = json.dumps({"rq_uuid": f.get("rq_uuid", ""),
                             "error_code": "0000" if good else "0004"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    server = HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    print("receiver listening on 127.0.0.1:%d" % server.server_address[1], flush=True)
    server.serve_forever()
