import { chmodSync, closeSync, constants, existsSync, mkdirSync, openSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";

export const DEFAULT_DATABASE_URL = "file:./data/amistio.db";

export type DatabaseTarget = { provider: "sqlite"; file: string } | { provider: "postgresql"; url: string };

/** Decides the provider from the URL; a SQLite path is resolved against the working directory. */
export function databaseTarget(url: string = DEFAULT_DATABASE_URL): DatabaseTarget {
  if (url.startsWith("postgres://") || url.startsWith("postgresql://")) {
    return { provider: "postgresql", url };
  }
  if (url.startsWith("file:")) {
    const path = url.slice("file:".length).split("?")[0] ?? "";
    if (path === ":memory:") return { provider: "sqlite", file: ":memory:" };
    return { provider: "sqlite", file: resolve(path) };
  }
  throw new Error(
    `DATABASE_URL must start with file: (SQLite) or postgres:// (PostgreSQL), got "${url.split(":")[0]}:"`,
  );
}

/** SQLite will not create missing folders, and a fresh clone has no data/ yet. */
export function ensureSqliteFolder(target: DatabaseTarget): void {
  if (target.provider === "sqlite" && target.file !== ":memory:") {
    mkdirSync(dirname(target.file), { recursive: true });
  }
}

/** Owner read/write only, like the session key file: the database holds people's data. */
export const SQLITE_FILE_MODE = 0o600;

/**
 * Creates the SQLite file empty with mode 0600 before SQLite first opens it, so it is never readable by
 * others, not even for a moment. SQLite gives its -wal and -shm files the database file's own mode.
 * A file an earlier version left readable by others (0644) is tightened to 0600, with its -wal and -shm.
 */
export function ensurePrivateSqliteFile(target: DatabaseTarget): void {
  if (target.provider !== "sqlite" || target.file === ":memory:") return;
  try {
    // O_EXCL: only when it does not exist yet; the mode is applied as the file is created.
    closeSync(openSync(target.file, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, SQLITE_FILE_MODE));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  for (const file of [target.file, `${target.file}-wal`, `${target.file}-shm`]) {
    if (existsSync(file) && (statSync(file).mode & 0o077) !== 0) chmodSync(file, SQLITE_FILE_MODE);
  }
}
