import { mkdirSync } from "node:fs";
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
