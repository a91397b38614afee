import { Worker } from "node:worker_threads";
import type { Prisma } from "./generated/sqlite/client.ts";
import type { HotPathSql } from "./hot-path-sql.ts";

export interface SqliteHotPathOptions {
  file: string;
  busyTimeoutMs: number;
  /** Told of each checkpoint that copied pages back; `busy` when requests were waiting meanwhile. */
  onCheckpoint?: (checkpoint: SqliteCheckpoint) => void;
}

export interface SqliteCheckpoint {
  busy: boolean;
  pages: number;
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
 * Starts the hot-path thread (`sqlite-hot-path-thread.js`) on the same database file. It also runs
 * the checkpoints, for every connection, which therefore must not checkpoint themselves. Its busy
 * waits and checkpoints block only that thread, so the main thread never freezes behind a Prisma
 * transaction or a log copy, and Prisma's transactions are IMMEDIATE (create-database.ts) so they
 * never fail because this connection wrote after they read.
 */
export async function startSqliteHotPath(options: SqliteHotPathOptions): Promise<HotPathSql> {
  const { onCheckpoint, ...settings } = options;
  const worker = new Worker(new URL("./sqlite-hot-path-thread.js", import.meta.url), {
    workerData: { ...settings, reportCheckpoints: onCheckpoint !== undefined },
    // The thread keeps no data of its own: a small young generation keeps its memory small.
    resourceLimits: { maxYoungGenerationSizeMb: 4 },
  });
  const pending = new Map<number, { resolve: (results: unknown[]) => void; reject: (error: Error) => void }>();
  let nextId = 0;
  let failure: Error | undefined;

  // The thread answers a whole committed group in one message.
  const settle = (message: Reply[] | { checkpoint: SqliteCheckpoint }) => {
    if (!Array.isArray(message)) return onCheckpoint?.(message.checkpoint);
    const replies = message;
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
  worker.on("error", (error) => failAll(new HotPathSqlError(`the SQLite hot-path thread failed: ${error.message}`)));
  worker.on("exit", () => failAll(new HotPathSqlError("the SQLite hot-path thread has stopped")));
  await new Promise<void>((resolve, reject) => {
    worker.once("online", resolve);
    worker.once("error", reject);
  });
  worker.unref();

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
      const exited = new Promise((resolve) => worker.once("exit", resolve));
      worker.ref();
      worker.postMessage("close");
      await exited;
    },
  };
}

/** Values as Prisma's SQLite adapter stores them, so Prisma reads back what this thread wrote. */
function toSqlite(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString().replace("Z", "+00:00");
  if (typeof value === "boolean") return value ? 1 : 0;
  return value;
}
