"""Connection limits: a client trickling bytes is cut off after
--request-timeout even though each byte resets the idle timeout, and
well-behaved clients are served meanwhile."""
import json
import socket
import time
import unittest

from harness import PATH, ServerTest, invoice, request_fields


class TrickleCut(ServerTest):
    server_args = ("--request-timeout", "2")

    def trickle(self, head, body_bytes):
        """Sends head, then body_bytes one byte every 0.25 s; returns the
        seconds until the server closed the connection (or None)."""
        s = socket.create_connection((self.server.host, self.server.port), timeout=10)
        t0 = time.monotonic()
        try:
            s.sendall(head)
            for b in body_bytes:
                try:
                    s.sendall(bytes([b]))
                except OSError:
                    return time.monotonic() - t0
                s.settimeout(0.25)
                try:
                    if s.recv(4096) == b"":
                        return time.monotonic() - t0
                except socket.timeout:
                    pass
                except OSError:
                    return time.monotonic() - t0
                if time.monotonic() - t0 > 15:
                    return None
            return None
        finally:
            s.close()

    def test_trickled_headers_are_cut(self):
        head = ("POST %s HTTP/1.1\r\nHost: x\r\n" % PATH).encode()
        cut = self.trickle(head, b"X-Slow: " + b"a" * 200)
        self.assertIsNotNone(cut, "a header trickle was never cut off")
        self.assertLess(cut, 8)
        # the server still serves others
        st, h, body = self.server.post_form(request_fields({"AFTER-1": invoice()}))
        self.assertEqual(json.loads(body)["invoices"]["AFTER-1"]["error_code"], "0000")

    def test_trickled_body_is_cut(self):
        head = ("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                "Content-Length: 500\r\n\r\n" % PATH).encode()
        cut = self.trickle(head, b"{" + b" " * 400)
        self.assertIsNotNone(cut, "a body trickle was never cut off")
        self.assertLess(cut, 8)

    def test_fast_keepalive_clients_are_not_cut(self):
        # a connection that keeps completing requests is never cut
        import http.client
        c = http.client.HTTPConnection(self.server.host, self.server.port, timeout=10)
        try:
            for i in range(14):
                body = json.dumps(request_fields({"KA-%d" % i: invoice()}))
                c.request("POST", PATH, body, {"Content-Type": "application/json"})
                r = c.getresponse()
                self.assertEqual(r.status, 200)
                self.assertEqual(json.loads(r.read())["error_code"], "0000")
                time.sleep(0.25)
        finally:
            c.close()


if __name__ == "__main__":
    unittest.main()
