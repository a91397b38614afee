// @ts-check
// The thread behind sqlite-hot-path.ts: its own SQLite connection, so webhook intake and the
// queue's per-job statements run off the main thread and never inside a Prisma transaction.
// Plain JavaScript because a worker thread is started from a file that Node runs as is.
import { parentPort, receiveMessageOnPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";

/** Prepared statements by SQL text; multi-row inserts make a few hundred shapes at most. */
const MAX_CACHED_STATEMENTS = 500;
/** Most statements committed together; the rest wait for the next commit. */
const MAX_GROUP = 500;

/** @typedef {{ sql: string, values: unknown[] }} Statement */
/** A unit: its statements take effect together or not at all. */
/** @typedef {{ id: number, statements: Statement[] }} Request */
/** @typedef {{ id: number, results?: unknown[], error?: { message: string, code?: string } }} Reply */

const port = parentPort;
if (!port) throw new Error("sqlite-hot-path-thread.js runs only as a worker thread");

const db = new Database(workerData.file);
db.pragma("journal_mode = WAL");
db.pragma("synchronous = NORMAL");
// A savepoint keeps each page it changes in a sub-journal. SQLite spills that to a temporary file past
// 64 KB unless temporary storage is in memory, and the file's writes cost a tenth of intake's throughput.
db.pragma("temp_store = MEMORY");
// 2 MB rather than the default 16: that holds the inner pages of the indexes intake and the queue
// walk. The larger cache measured no faster, and cost resident memory and a scan of the whole cache
// at every commit.
db.pragma("cache_size = -2000");
db.pragma(`busy_timeout = ${Number(workerData.busyTimeoutMs)}`);

// Checkpoints (copying the write-ahead log back into the database file) run here, between groups,
// not inside whichever commit crosses 1000 pages, as SQLite would do by itself: that commit, be it a
// group here or a Prisma one on the main thread, would wait for the copy and its fsync. Every other
// connection is therefore set not to checkpoint (create-database.ts).
db.pragma("wal_autocheckpoint = 0");
/** How often the log is copied back while this thread has time; the copy does not wait for readers. */
const CHECKPOINT_INTERVAL_MS = 100;
/**
 * How often while statements keep arriving. A copy writes each changed page once however often it
 * changed since the last one, and under load most changes hit the same index pages again, so
 * copying less often then saves most of the copying. When the thread has time, copies stay small
 * and frequent, so none of them holds up a delivery for long.
 */
const BUSY_CHECKPOINT_INTERVAL_MS = 1_000;
/**
 * The log starts over once a copy has caught up with it. Past this many pages (64 MB at 4 KB) the
 * copy also waits for readers, so that it does even when reads never pause.
 */
const RESTART_PAGES = 16_384;
// The file is cut back to this size when the log starts over, so one burst does not keep it large.
db.pragma(`journal_size_limit = ${RESTART_PAGES * 4096}`);
let lastCheckpoint = Date.now();
/** @param {boolean} busy whether a request was waiting */
function checkpoint(busy) {
  lastCheckpoint = Date.now();
  const [result] = /** @type {{ log: number, checkpointed: number }[]} */ (db.pragma("wal_checkpoint(PASSIVE)"));
  if ((result?.log ?? 0) >= RESTART_PAGES) db.pragma("wal_checkpoint(RESTART)");
  const pages = result?.checkpointed ?? 0;
  if (workerData.reportCheckpoints && pages > 0) port?.postMessage({ checkpoint: { busy, pages } });
}
// This timer runs only when the thread is free. A request already waiting means it is busy: the
// request goes first, and `handle` copies the log once the busy interval has passed. Node delivers
// up to a thousand messages before it runs timers again, so under steady load this may not run at all.
const checkpoints = setInterval(() => {
  if (!handleWaiting() && !closed) checkpoint(false);
}, CHECKPOINT_INTERVAL_MS);

/** @type {Map<string, import("better-sqlite3").Statement>} */
const statements = new Map();
// Prepared once: every group runs them.
const begin = db.prepare("BEGIN IMMEDIATE");
const commit = db.prepare("COMMIT");
const rollback = db.prepare("ROLLBACK");
const savepoint = db.prepare("SAVEPOINT unit");
const release = db.prepare("RELEASE unit");
const rollbackToSavepoint = db.prepare("ROLLBACK TO unit");

/** @param {string} sql */
function prepared(sql) {
  let statement = statements.get(sql);
  if (!statement) {
    if (statements.size >= MAX_CACHED_STATEMENTS) statements.clear();
    statement = db.prepare(sql);
    statements.set(sql, statement);
  }
  return statement;
}

/** @param {unknown} error */
function describe(error) {
  const { message, code } = /** @type {{ message?: string, code?: string }} */ (error);
  return { message: String(message ?? error), code };
}

/** @param {Statement} statement */
function run({ sql, values }) {
  const statement = prepared(sql);
  return statement.reader ? statement.all(values) : statement.run(values).changes;
}

/**
 * A unit of several statements runs inside a savepoint, so a failure undoes the statements before
 * it; a single statement needs none, as SQLite undoes a failed statement on its own.
 * @param {Request} request
 * @returns {Reply}
 */
function runUnit({ id, statements }) {
  if (statements.length === 1) {
    try {
      return { id, results: [run(/** @type {Statement} */ (statements[0]))] };
    } catch (error) {
      return { id, error: describe(error) };
    }
  }
  try {
    savepoint.run();
  } catch (error) {
    return { id, error: describe(error) };
  }
  try {
    const results = statements.map(run);
    release.run();
    return { id, results };
  } catch (error) {
    if (db.inTransaction) {
      rollbackToSavepoint.run();
      release.run();
    }
    return { id, error: describe(error) };
  }
}

/**
 * Group commit: the units that queued up while the last group ran are committed together, one
 * transaction instead of one per unit, and answered only after that commit. A unit that fails is
 * undone on its own; an error that ends the whole transaction fails every unit of the group.
 * @param {Request[]} group
 * @returns {Reply[]}
 */
function commitGroup(group) {
  try {
    begin.run();
  } catch (error) {
    return group.map(({ id }) => ({ id, error: describe(error) }));
  }
  const replies = group.map(runUnit);
  try {
    if (!db.inTransaction) throw new Error("the transaction was rolled back by an earlier error");
    commit.run();
    return replies;
  } catch (error) {
    if (db.inTransaction) rollback.run();
    const failure = replies.find((reply) => reply.error)?.error ?? describe(error);
    return replies.map(({ id, error }) => ({ id, error: error ?? failure }));
  }
}

let closed = false;
function close() {
  closed = true;
  clearInterval(checkpoints);
  db.close();
  port?.close();
}

/**
 * Commits `first` with the requests queued behind it.
 * @param {Request | "close"} first
 */
function handle(first) {
  if (first === "close") {
    close();
    return;
  }
  const group = [first];
  while (group.length < MAX_GROUP) {
    const next = receiveMessageOnPort(/** @type {import("node:worker_threads").MessagePort} */ (port));
    if (!next) break;
    if (next.message === "close") {
      port?.postMessage(commitGroup(group));
      close();
      return;
    }
    group.push(next.message);
  }
  port?.postMessage(commitGroup(group));
  if (Date.now() - lastCheckpoint >= BUSY_CHECKPOINT_INTERVAL_MS) checkpoint(true);
}

/** Handles the requests already waiting, if any; true if there were some. */
function handleWaiting() {
  const next = receiveMessageOnPort(/** @type {import("node:worker_threads").MessagePort} */ (port));
  if (next) handle(next.message);
  return next !== undefined;
}

port.on("message", handle);
