import { chmodSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createDatabase } from "../../../src/db/create-database.ts";

const modeOf = (file: string) => statSync(file).mode & 0o777;

describe("the SQLite file is private to its owner", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const tempDir = () => {
    const dir = mkdtempSync(join(tmpdir(), "amistio-mode-"));
    dirs.push(dir);
    return dir;
  };

  it("creates the database, its -wal and its -shm with mode 0600", async () => {
    const file = join(tempDir(), "data", "amistio.db");
    const database = await createDatabase({ url: `file:${file}` });
    try {
      // Both connections write, so the write-ahead log and the shared-memory index exist.
      await database.store.recordIgnoredDelivery(
        { id: "mode-test", event: "issues", action: null, installationId: null },
        new Date(),
      );
      await database.db.webhookDelivery.count();
      for (const path of [file, `${file}-wal`, `${file}-shm`]) {
        expect(existsSync(path), path).toBe(true);
        expect(modeOf(path).toString(8), path).toBe("600");
      }
    } finally {
      await database.close();
    }
  });

  it("tightens a database file an earlier version left readable by others", async () => {
    const file = join(tempDir(), "old.db");
    const first = await createDatabase({ url: `file:${file}` });
    await first.close();
    writeFileSync(`${file}-wal`, "", { flag: "a" });
    chmodSync(file, 0o644);
    chmodSync(`${file}-wal`, 0o644);
    const again = await createDatabase({ url: `file:${file}` });
    try {
      expect(modeOf(file).toString(8)).toBe("600");
      expect(modeOf(`${file}-wal`).toString(8)).toBe("600");
      expect(await again.db.webhookDelivery.count()).toBe(0);
    } finally {
      await again.close();
    }
  });
});
