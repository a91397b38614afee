import { spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { AuditEventError, appendAuditEvent, MAX_AUDIT_DATA_BYTES } from "../../../src/audit/append-audit-event.ts";
import { GENESIS_HASH, hashAuditEvent } from "../../../src/audit/hash-audit-event.ts";
import { verifyAuditChain } from "../../../src/audit/verify-audit-chain.ts";
import type { Db } from "../../../src/db/create-database.ts";
import { createTestDatabase, PROVIDERS, type TestDatabase } from "../../helpers/test-database.ts";

const APPEND_SCRIPT = fileURLToPath(new URL("../../fixtures/audit/append-events.ts", import.meta.url));

describe.each(PROVIDERS)("audit chain on %s", (provider) => {
  let database: TestDatabase;
  let db: Db;

  beforeAll(async () => {
    database = await createTestDatabase(provider);
    db = database.db;
  });
  afterAll(async () => {
    await database?.destroy();
  });
  beforeEach(async () => {
    await db.auditEvent.deleteMany();
  });

  async function appendMany(count: number): Promise<void> {
    for (let i = 1; i <= count; i++) {
      await appendAuditEvent(db, {
        workspaceId: i % 2 ? "ws-a" : "ws-b",
        actorPseudonym: "user-1",
        action: "approval.granted",
        target: `plan:${i}`,
        data: { version: i, note: "ok" },
        deliveryId: `delivery-${i}`,
      });
    }
  }

  it("links each event to the one before it and stores what was given", async () => {
    const at = new Date("2026-03-01T12:34:56.789Z");
    const first = await appendAuditEvent(
      db,
      {
        workspaceId: "ws-a",
        actorPseudonym: "user-1",
        action: "installation.created",
        target: "installation:42",
        data: { b: 2, a: [1, "x", null, true], installationId: 12345678901234567890n, when: at, skipped: undefined },
        deliveryId: "d-1",
      },
      { now: () => at },
    );
    const second = await appendAuditEvent(db, { action: "approval.denied" }, { now: () => at });

    expect(first.seq).toBe(1);
    expect(second.seq).toBe(2);
    const rows = await db.auditEvent.findMany({ orderBy: { seq: "asc" } });
    expect(rows[0]).toMatchObject({
      seq: 1,
      createdAt: at,
      workspaceId: "ws-a",
      actorId: "user-1",
      action: "installation.created",
      target: "installation:42",
      // Canonical: keys sorted, no whitespace, bigint as a string, Date as ISO, undefined dropped.
      data: '{"a":[1,"x",null,true],"b":2,"installationId":"12345678901234567890","when":"2026-03-01T12:34:56.789Z"}',
      deliveryId: "d-1",
      prevHash: GENESIS_HASH,
      hash: first.hash,
    });
    expect(rows[1]).toMatchObject({ workspaceId: null, actorId: null, target: null, data: "{}", prevHash: first.hash });
    expect(rows[1]?.hash).toBe(second.hash);
    expect(hashAuditEvent(rows[0]!)).toBe(first.hash);
    expect(first.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(await verifyAuditChain(db)).toEqual({ ok: true, length: 2 });
  });

  it("verifies an empty chain", async () => {
    expect(await verifyAuditChain(db)).toEqual({ ok: true, length: 0 });
  });

  it("keeps seq gap-free and the chain valid under concurrent appends", async () => {
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        appendAuditEvent(db, { workspaceId: "ws-a", action: "run.dispatched", data: { i } }),
      ),
    );
    expect(results.map((result) => result.seq).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 30 }, (_, i) => i + 1),
    );
    expect(await db.auditEvent.count()).toBe(30);
    expect(await verifyAuditChain(db, { batchSize: 7 })).toEqual({ ok: true, length: 30 });
  });

  it("keeps the chain whole when another process appends at the same time", async () => {
    // On SQLite the other process has its own connection to the file: its transaction must wait for
    // this one's write lock rather than read a head that is about to move.
    const other = spawn(process.execPath, ["--import", "tsx", APPEND_SCRIPT], {
      env: { ...process.env, DATABASE_URL: database.url, COUNT: "30" },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let errors = "";
    other.stderr.on("data", (chunk) => {
      errors += chunk;
    });
    const exited = new Promise<number | null>((resolve) => other.on("exit", resolve));
    const ours = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        appendAuditEvent(db, { workspaceId: "ws-a", action: "run.dispatched", data: { i } }),
      ),
    );
    expect(await exited, errors).toBe(0);
    expect(ours).toHaveLength(30);
    const seqs = (await db.auditEvent.findMany({ select: { seq: true }, orderBy: { seq: "asc" } })).map((e) => e.seq);
    expect(seqs).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    expect(await verifyAuditChain(db)).toEqual({ ok: true, length: 60 });
  }, 60_000);

  // The advisory lock is PostgreSQL's; SQLite serialises writers by its file lock.
  if (provider === "postgresql")
    it("queues appenders on one advisory lock", async () => {
      const holder = new pg.Client({ connectionString: database.url });
      await holder.connect();
      try {
        await holder.query("SELECT pg_advisory_lock(7357002)");
        let done = false;
        const append = appendAuditEvent(db, { action: "run.dispatched" }).then(() => {
          done = true;
        });
        await sleep(300);
        expect(done).toBe(false);
        expect(await db.auditEvent.count()).toBe(0);
        await holder.query("SELECT pg_advisory_unlock(7357002)");
        await append;
        expect(await verifyAuditChain(db)).toEqual({ ok: true, length: 1 });
      } finally {
        await holder.end();
      }
    });

  it("gives up with a clear error when the head keeps moving", async () => {
    await appendMany(1);
    // An appender that always sees an empty table keeps losing the race for seq 1.
    const tx = {
      $executeRawUnsafe: async () => 0,
      auditEvent: { findFirst: async () => null, create: (args: never) => db.auditEvent.create(args) },
    };
    const stale = { $transaction: (work: (client: typeof tx) => unknown) => work(tx) } as unknown as Db;
    await expect(appendAuditEvent(stale, { action: "run.dispatched" })).rejects.toThrow(
      /could not append audit event "run\.dispatched": the chain head kept moving for \d+ attempts/,
    );
    expect(await db.auditEvent.count()).toBe(1);
  });

  it.each([
    ["data", `UPDATE "AuditEvent" SET "data" = '{"version":99}' WHERE "seq" = 8`],
    ["action", `UPDATE "AuditEvent" SET "action" = 'approval.denied' WHERE "seq" = 8`],
    ["hash", `UPDATE "AuditEvent" SET "hash" = '${"f".repeat(64)}' WHERE "seq" = 8`],
    [
      "createdAt",
      `UPDATE "AuditEvent" SET "createdAt" = "createdAt" + ${provider === "sqlite" ? "1" : "interval '1 second'"} WHERE "seq" = 8`,
    ],
  ])("names the row whose %s was changed", async (_field, sql) => {
    await appendMany(12);
    expect(await db.$executeRawUnsafe(sql)).toBe(1);
    // batchSize 4: seq 8 is the last row of a batch.
    expect(await verifyAuditChain(db, { batchSize: 4 })).toEqual({
      ok: false,
      length: 7,
      firstBadSeq: 8,
      reason: "stored hash does not match the event's contents (the event was altered)",
    });
  });

  it("names the next link when a row was rewritten with a matching hash", async () => {
    await appendMany(6);
    const row = (await db.auditEvent.findUnique({ where: { seq: 3 } }))!;
    const forged = { ...row, target: "plan:forged" };
    await db.auditEvent.update({ where: { seq: 3 }, data: { target: forged.target, hash: hashAuditEvent(forged) } });
    expect(await verifyAuditChain(db)).toMatchObject({
      ok: false,
      length: 3,
      firstBadSeq: 4,
      reason: "prevHash does not match the hash of seq 3 (that event or this link was rewritten)",
    });
  });

  it("names a deleted row as a gap", async () => {
    await appendMany(12);
    await db.$executeRawUnsafe(`DELETE FROM "AuditEvent" WHERE "seq" = 9`);
    expect(await verifyAuditChain(db, { batchSize: 4 })).toEqual({
      ok: false,
      length: 8,
      firstBadSeq: 9,
      reason: "seq 9 is missing: the next stored event is seq 10",
    });
  });

  it("names a chain that does not start at seq 1 or at the genesis hash", async () => {
    await appendMany(3);
    await db.$executeRawUnsafe(`UPDATE "AuditEvent" SET "prevHash" = '${"1".repeat(64)}' WHERE "seq" = 1`);
    expect(await verifyAuditChain(db)).toMatchObject({
      ok: false,
      firstBadSeq: 1,
      reason: "prevHash is not the genesis value",
    });
    await db.$executeRawUnsafe(`DELETE FROM "AuditEvent" WHERE "seq" = 1`);
    expect(await verifyAuditChain(db)).toMatchObject({ ok: false, length: 0, firstBadSeq: 1 });
  });

  it("continues the chain after existing events", async () => {
    await appendMany(3);
    const next = await appendAuditEvent(db, { action: "task.created" });
    expect(next.seq).toBe(4);
    expect(await verifyAuditChain(db, { batchSize: 1 })).toEqual({ ok: true, length: 4 });
  });
});

describe("audit event input checks", () => {
  // Input is refused before the database is touched, so a client that fails on use proves it.
  const untouchable = new Proxy(
    {},
    {
      get() {
        throw new Error("the database must not be used");
      },
    },
  ) as Db;

  it.each(["approval", "Approval.granted", "approval..granted", "approval.granted.", "approval granted", "1x.y", ""])(
    "refuses the action name %j",
    async (action) => {
      await expect(appendAuditEvent(untouchable, { action })).rejects.toThrow(AuditEventError);
      await expect(appendAuditEvent(untouchable, { action })).rejects.toThrow(/must be dotted lowercase words/);
    },
  );

  it.each([
    ["a function", { f: () => 1 }, /audit data\.f is a function/],
    ["a symbol", { nested: { s: Symbol("x") } }, /audit data\.nested\.s is a symbol/],
    ["NaN", { n: Number.NaN }, /audit data\.n is NaN/],
    ["Infinity", { list: [1, Number.POSITIVE_INFINITY] }, /audit data\.list\[1\] is Infinity/],
    ["a Map", { m: new Map([["k", 1]]) }, /audit data\.m is a Map/],
    ["undefined in an array", { list: [undefined] }, /audit data\.list\[0\] is undefined/],
    ["an invalid Date", { at: new Date(Number.NaN) }, /invalid Date/],
    ["a lone surrogate", { s: "\uD800" }, /not valid JSON/],
  ])("refuses data holding %s", async (_what, data, message) => {
    await expect(appendAuditEvent(untouchable, { action: "a.b", data })).rejects.toThrow(message);
  });

  it("refuses data that refers back to itself", async () => {
    const data: Record<string, unknown> = { a: 1 };
    data.self = data;
    await expect(appendAuditEvent(untouchable, { action: "a.b", data })).rejects.toThrow(
      /data\.self refers back to itself/,
    );
  });

  it("refuses data larger than the limit", async () => {
    const data = { blob: "x".repeat(MAX_AUDIT_DATA_BYTES) };
    await expect(appendAuditEvent(untouchable, { action: "a.b", data })).rejects.toThrow(
      `audit data is ${MAX_AUDIT_DATA_BYTES + 11} bytes as canonical JSON; the limit is ${MAX_AUDIT_DATA_BYTES}`,
    );
  });

  it("accepts the same object twice when it is not a cycle", async () => {
    const shared = { k: 1 };
    const seen: unknown[] = [];
    const tx = {
      $executeRawUnsafe: async () => 0,
      auditEvent: { findFirst: async () => null, create: async (args: { data: unknown }) => void seen.push(args.data) },
    };
    const recording = { $transaction: (work: (client: typeof tx) => unknown) => work(tx) } as unknown as Db;
    await appendAuditEvent(recording, { action: "a.b", data: { x: shared, y: shared } });
    expect(seen).toMatchObject([{ data: '{"x":{"k":1},"y":{"k":1}}' }]);
  });
});
