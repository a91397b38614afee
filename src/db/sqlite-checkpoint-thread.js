// @ts-check
// The checkpoint thread started by sqlite-hot-path.ts: it copies the write-ahead log back into the
// database file. SQLite would otherwise do that inside whichever commit crosses 1000 pages, making
// that commit (intake's, or a Prisma one on the main thread) wait for the copy and its fsync.
import { parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";

/** How often the log is copied back; the copy does not block writers or readers. */
const INTERVAL_MS = 100;
/**
 * The log starts again from its beginning once a copy catches up with it between two commits. Past
 * this many pages (64 MB at 4 KB pages) a copy waits for the writer instead, so that it does even
 * when writes never pause.
 */
const RESTART_PAGES = 16_384;

const port = parentPort;
if (!port) throw new Error("sqlite-checkpoint-thread.js runs only as a worker thread");

const db = new Database(workerData.file);
db.pragma(`busy_timeout = ${Number(workerData.busyTimeoutMs)}`);
db.pragma("wal_autocheckpoint = 0");
// The log file is cut back to this size when it starts again, so one burst does not keep it large.
db.pragma(`journal_size_limit = ${RESTART_PAGES * 4096}`);

/** @param {"PASSIVE" | "RESTART"} mode */
function checkpoint(mode) {
  const [result] = /** @type {{ log: number }[]} */ (db.pragma(`wal_checkpoint(${mode})`));
  return result ?? { log: 0 };
}

const timer = setInterval(() => {
  if (checkpoint("PASSIVE").log >= RESTART_PAGES) checkpoint("RESTART");
}, INTERVAL_MS);

port.on("message", (message) => {
  if (message !== "close") return;
  clearInterval(timer);
  db.close();
  port.close();
});
