import { Worker } from "node:worker_threads";
import type { Prisma } from "./create-database.ts";
import type { HotPathSql } from "./hot-path-sql.ts";

export interface SqliteHotPathOptions {
  file: string;
  busyTimeoutMs: number;
  /** The write-ahead log's size once it starts over (`journal_size_limit`); a longer log is checkpointed harder. */
  walLimitBytes: number;
}

interface Reply {
  id: number;
  results?: unknown[];
  error?: { message: string; code?: string };
}

/** The error a hot-path statement failed with; `code` is SQLite's (SQLITE_BUSY, SQLITE_CONSTRAINT_UNIQUE, …). */
export class HotPathSqlError extends Error {
  readonly code: string | undefined;
  constructor(message: string, code?: string) {
    super(message);
    this.name = "HotPathSqlError";
    this.code = code;
  }
}

/**
 * Starts the hot-path thread (`sqlite-hot-path-thread.js`) on the same database file, and the
 * checkpoint thread (`sqlite-checkpoint-thread.js`) that copies the write-ahead log back for every
 * connection, which therefore must not checkpoint themselves (`wal_autocheckpoint = 0`). Busy waits
 * and checkpoints block only those threads, so the main thread never freezes behind a Prisma
 * transaction or a log copy, and Prisma's transactions are IMMEDIATE (create-database.ts) so they
 * never fail because this connection wrote after they read.
 */
export async function startSqliteHotPath(options: SqliteHotPathOptions): Promise<HotPathSql> {
  // Neither thread keeps data of its own: a small young generation keeps their memory small.
  const start = (script: string, youngGenerationMb: number) =>
    new Worker(new URL(script, import.meta.url), {
      workerData: options,
      resourceLimits: { maxYoungGenerationSizeMb: youngGenerationMb },
    });
  const worker = start("./sqlite-hot-path-thread.js", 4);
  const checkpointer = start("./sqlite-checkpoint-thread.js", 1);
  const pending = new Map<number, { resolve: (results: unknown[]) => void; reject: (error: Error) => void }>();
  let nextId = 0;
  let failure: Error | undefined;

  // The thread answers a whole committed group in one message.
  const settle = (replies: Reply[]) => {
    for (const reply of replies) {
      const request = pending.get(reply.id);
      if (!request) continue;
      pending.delete(reply.id);
      if (reply.error) request.reject(new HotPathSqlError(reply.error.message, reply.error.code));
      else request.resolve(reply.results ?? []);
    }
    if (pending.size === 0) worker.unref();
  };
  const failAll = (error: Error) => {
    failure ??= error;
    for (const request of pending.values()) request.reject(error);
    pending.clear();
  };
  worker.on("message", settle);
  let closing = false;
  for (const [thread, name] of [
    [worker, "hot-path"],
    [checkpointer, "checkpoint"],
  ] as const) {
    thread.on("error", (error) => failAll(new HotPathSqlError(`the SQLite ${name} thread failed: ${error.message}`)));
    // Without its checkpoints the log would grow without end: the process is no longer ready.
    thread.on("exit", () => {
      if (!closing) failAll(new HotPathSqlError(`the SQLite ${name} thread has stopped`));
    });
  }
  await Promise.all(
    [worker, checkpointer].map(
      (thread) =>
        new Promise<void>((resolve, reject) => {
          thread.once("online", resolve);
          thread.once("error", reject);
        }),
    ),
  );
  worker.unref();
  checkpointer.unref();

  function send(statements: readonly Prisma.Sql[]): Promise<unknown[]> {
    if (failure) return Promise.reject(failure);
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      // Held open only while a statement is on its way, so a forgotten close cannot keep a process alive.
      if (pending.size === 1) worker.ref();
      worker.postMessage({
        id,
        statements: statements.map(({ sql, values }) => ({ sql, values: values.map(toSqlite) })),
      });
    });
  }

  return {
    query: async <Row>(statement: Prisma.Sql) => (await send([statement]))[0] as Row[],
    execute: async (statement: Prisma.Sql) => (await send([statement]))[0] as number,
    transaction: async (statements: readonly Prisma.Sql[]) =>
      (await send(statements)).map((result) => (Array.isArray(result) ? result : [])),
    async close() {
      if (failure) return;
      closing = true;
      // The checkpointer first: the hot-path thread's close, if it is the last connection, checkpoints.
      for (const thread of [checkpointer, worker]) {
        const exited = new Promise((resolve) => thread.once("exit", resolve));
        thread.ref();
        thread.postMessage("close");
        await exited;
      }
      failAll(new HotPathSqlError("the SQLite hot-path thread has stopped"));
    },
  };
}

/** Values as Prisma's SQLite adapter stores them, so Prisma reads back what this thread wrote. */
function toSqlite(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString().replace("Z", "+00:00");
  if (typeof value === "boolean") return value ? 1 : 0;
  return value;
}
