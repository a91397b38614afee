import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appendAuditEvent } from "../../../src/audit/append-audit-event.ts";
import { createTestDatabase, PROVIDERS, type TestDatabase } from "../../helpers/test-database.ts";

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a script the way `npm run` does (tsx), with only DATABASE_URL set on top of the environment. */
function run(script: string, args: string[], databaseUrl: string): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", script, ...args],
      { env: { ...process.env, DATABASE_URL: databaseUrl } },
      (error, stdout, stderr) => resolve({ code: error ? (error.code as number) : 0, stdout, stderr }),
    );
  });
}

// Each run starts a Node process and loads Prisma (about a second of CPU), so the runs are few:
// the chain and export paths on both providers, the argument checks once.
describe.each(PROVIDERS)("audit CLIs on %s", (provider) => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase(provider);
    for (let i = 1; i <= 5; i++) {
      await appendAuditEvent(database.db, {
        workspaceId: i === 2 ? "ws-2" : "ws-1",
        action: "approval.granted",
        data: { i },
      });
    }
  });
  afterAll(async () => {
    await database?.destroy();
  });

  it("verifies, exports, and then reports the seq that was tampered with", async () => {
    const [verified, exported] = await Promise.all([
      run("scripts/audit-verify.ts", [], database.url),
      run("scripts/audit-export.ts", ["--workspace", "ws-1"], database.url),
    ]);

    expect(verified).toMatchObject({ code: 0, stdout: "audit chain: 5 events, ok\n" });

    expect(exported.code).toBe(0);
    const lines = exported.stdout
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(lines.map((event) => [event.seq, event.workspaceId, event.data])).toEqual([
      [1, "ws-1", { i: 1 }],
      [3, "ws-1", { i: 3 }],
      [4, "ws-1", { i: 4 }],
      [5, "ws-1", { i: 5 }],
    ]);
    expect(exported.stderr).toContain("exported 4 audit events for workspace ws-1");

    await database.db.$executeRawUnsafe(`UPDATE "AuditEvent" SET "data" = '{"i":30}' WHERE "seq" = 3`);
    const broken = await run("scripts/audit-verify.ts", [], database.url);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toBe(
      "audit chain: broken at seq 3: stored hash does not match the event's contents (the event was altered)\n",
    );
  });
});

describe("audit CLI arguments", () => {
  let database: TestDatabase;
  let dir: string;

  beforeAll(async () => {
    database = await createTestDatabase("sqlite");
    dir = mkdtempSync(join(tmpdir(), "amistio-audit-cli-"));
    await appendAuditEvent(database.db, { workspaceId: "ws-1", action: "installation.created" });
    await appendAuditEvent(database.db, { workspaceId: "ws-2", action: "approval.granted", data: { i: 2 } });
  });
  afterAll(async () => {
    await database?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it("writes the export to --out, and refuses a missing or unknown workspace or database", async () => {
    const out = join(dir, "ws-2.jsonl");
    const [toFile, missing, unknown, noDatabase] = await Promise.all([
      run("scripts/audit-export.ts", ["--workspace", "ws-2", "--out", out], database.url),
      run("scripts/audit-export.ts", [], database.url),
      run("scripts/audit-export.ts", ["--workspace", "ws-nope"], database.url),
      run("scripts/audit-verify.ts", [], `file:${join(dir, "missing.db")}`),
    ]);

    expect(toFile).toMatchObject({ code: 0, stdout: "" });
    const written = readFileSync(out, "utf8");
    expect(written.endsWith("\n")).toBe(true);
    expect(JSON.parse(written)).toMatchObject({
      seq: 2,
      workspaceId: "ws-2",
      action: "approval.granted",
      data: { i: 2 },
    });

    for (const outcome of [missing, unknown]) {
      expect(outcome.code).toBe(2);
      expect(outcome.stdout).toBe("");
      expect(outcome.stderr).toContain("usage: npm run audit:export -- --workspace <workspace id> [--out <file>]");
    }
    expect(missing.stderr).toContain("--workspace is required");
    expect(unknown.stderr).toContain('unknown workspace "ws-nope"');

    // Opening the path would have created an empty database; it says what is wrong instead.
    expect(noDatabase.code).toBe(2);
    expect(noDatabase.stderr).toContain("no database at");
  });
});
