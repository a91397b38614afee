// @ts-check
// The checkpoint thread started by sqlite-hot-path.ts: it copies the write-ahead log back into the
// database file. SQLite would otherwise do that inside whichever commit crosses 1000 pages, making
// that commit (intake's, or a Prisma one on the main thread) wait for the copy and its fsync.
import { parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";

/** How often the log is copied back; the copy does not block writers or readers. */
const INTERVAL_MS = 100;

const port = parentPort;
if (!port) throw new Error("sqlite-checkpoint-thread.js runs only as a worker thread");

const db = new Database(workerData.file);
db.pragma(`busy_timeout = ${Number(workerData.busyTimeoutMs)}`);
db.pragma("wal_autocheckpoint = 0");
/**
 * The log starts again from its beginning once a copy catches up with it between two commits. Past
 * the log's size limit a copy waits for the writer instead, so that it does even when writes never
 * pause (and the writer then cuts the file back to that size).
 */
const restartPages = Math.ceil(Number(workerData.walLimitBytes) / Number(db.pragma("page_size", { simple: true })));

/** @param {"PASSIVE" | "RESTART"} mode */
function checkpoint(mode) {
  const [result] = /** @type {{ log: number }[]} */ (db.pragma(`wal_checkpoint(${mode})`));
  return result ?? { log: 0 };
}

const timer = setInterval(() => {
  if (checkpoint("PASSIVE").log >= restartPages) checkpoint("RESTART");
}, INTERVAL_MS);

port.on("message", (message) => {
  if (message !== "close") return;
  clearInterval(timer);
  db.close();
  port.close();
});
