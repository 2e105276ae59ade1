"""The SQLite write-ahead log under sustained writes (background checkpoints).

vabilld checkpoints in a thread of its own instead of inside the commit that
crosses SQLite's 1000-page threshold (store_sqlite.c, struct checkpointer).
Under a stream of 500-invoice batches:

- the invoices reach the database file itself while the server runs;
- the WAL stays bounded, and well below LIMIT_WAL_INLINE_PAGES, where a
  commit would checkpoint it itself: the background checkpoints catch up
  with it (regression: the checkpointer's connection had never read the
  database, so it had not opened the WAL and its checkpoints did nothing;
  the commits' own checkpoints at 4000 pages did all the work, 20 ms each
  under the write lock);
- after a graceful stop every invoice is there, the WAL is gone, and the
  database passes integrity_check.
"""
import os
import unittest

from harness import ServerTest, db_query, invoice, send, sqlite_only

BATCHES = 90
PAGE = 4096
CHECKPOINT_PAGES = 1000  # LIMIT_WAL_CHECKPOINT_PAGES in src/limits.h
INLINE_PAGES = 4000  # LIMIT_WAL_INLINE_PAGES


@sqlite_only
class BackgroundCheckpoints(ServerTest):
    def test_wal_stays_bounded_and_data_reaches_the_file(self):
        start = os.path.getsize(self.db)
        wal = self.db + "-wal"
        biggest = 0
        for k in range(BATCHES):
            docs = {"W%03d-%03d" % (k, i): invoice() for i in range(500)}
            st, h, obj, raw = send(self.server, docs)
            self.assertEqual((st, obj["error_code"], len(obj["invoices_success"])),
                             (200, "0000", 500), raw[:300])
            if os.path.exists(wal):
                biggest = max(biggest, os.path.getsize(wal))
        running = os.path.getsize(self.db)
        self.assertGreater(biggest, CHECKPOINT_PAGES * PAGE)
        # a batch is ~45 pages: the checkpointer lagged by no more than ~30
        self.assertLess(biggest, (CHECKPOINT_PAGES + INLINE_PAGES) // 2 * PAGE)

        self.server.stop()
        self.assertFalse(os.path.exists(wal) and os.path.getsize(wal) > 0, "WAL left behind")
        # most of the data had reached the file before the final checkpoint
        final = os.path.getsize(self.db)
        print("\n[wal] database %d -> %d bytes while running, %d at the end; WAL at most %d"
              % (start, running, final, biggest))
        self.assertGreater(running - start, (final - start) * 0.6)
        self.assertEqual(db_query(self.db, "PRAGMA integrity_check"), [("ok",)])
        self.assertEqual(db_query(self.db, "SELECT count(*) FROM invoice"), [(BATCHES * 500,)])


if __name__ == "__main__":
    unittest.main()
