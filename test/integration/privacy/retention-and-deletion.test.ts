import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { verifyAuditChain } from "../../../src/audit/verify-audit-chain.ts";
import type { Db } from "../../../src/db/create-database.ts";
import { deleteAccount } from "../../../src/privacy/delete-account.ts";
import { exportAccount } from "../../../src/privacy/export-account.ts";
import { purgeExpiredData } from "../../../src/privacy/purge-expired-data.ts";
import { startRetention } from "../../../src/privacy/start-retention.ts";
import { createTestDatabase, PROVIDERS, type TestDatabase } from "../../helpers/test-database.ts";

const DAY = 24 * 60 * 60 * 1000;
const NOW = new Date("2027-03-01T12:00:00.000Z");
const ago = (days: number) => new Date(NOW.getTime() - days * DAY);

let database: TestDatabase | undefined;
afterEach(async () => {
  await database?.destroy();
  database = undefined;
});

async function seedWork(db: Db) {
  const workspace = await db.workspace.create({
    data: { installationId: 1n, accountLogin: "acme", accountType: "Organization", accountId: 10n },
  });
  const repository = await db.repository.create({
    data: { workspaceId: workspace.id, githubId: 2n, fullName: "acme/app" },
  });
  const person = await db.user.create({
    data: {
      githubId: 77n,
      login: "dana",
      name: "Dana",
      email: "dana@example.org",
      identities: { create: { provider: "github", subject: "77", accessToken: "sealed-a", refreshToken: "sealed-r" } },
      memberships: { create: { workspaceId: workspace.id, role: "member" } },
      privacyRequests: { create: { kind: "access", details: "all of it" } },
    },
  });
  const task = await db.task.create({
    data: {
      workspaceId: workspace.id,
      repositoryId: repository.id,
      number: 1,
      title: "Fix it",
      requesterId: person.id,
    },
  });
  const plan = await db.planVersion.create({
    data: { taskId: task.id, version: 1, contentHash: "h".repeat(64), content: { summary: "s" }, source: "offline" },
  });
  await db.approval.create({
    data: { planVersionId: plan.id, approverId: person.id, contentHash: plan.contentHash, permission: "write" },
  });
  const run = await db.run.create({ data: { taskId: task.id, planVersionId: plan.id, contentHash: plan.contentHash } });
  return { workspace, person, task, plan, run };
}

describe.each(PROVIDERS)("privacy on %s", (provider) => {
  it("removes run events, finished jobs and handled deliveries past retention, and nothing else", async () => {
    database = await createTestDatabase(provider);
    const { db } = database;
    const { run } = await seedWork(db);
    await db.runEvent.createMany({
      data: [
        { runId: run.id, kind: "log", message: "old", createdAt: ago(91) },
        { runId: run.id, kind: "log", message: "old too", createdAt: ago(400) },
        { runId: run.id, kind: "log", message: "recent", createdAt: ago(89) },
      ],
    });
    await db.job.createMany({
      data: [
        { name: "x", status: "completed", updatedAt: ago(100), createdAt: ago(100) },
        { name: "x", status: "failed", updatedAt: ago(100), createdAt: ago(100) },
        { name: "x", status: "queued", updatedAt: ago(100), createdAt: ago(100) },
        { name: "x", status: "running", updatedAt: ago(100), createdAt: ago(100) },
        { name: "x", status: "completed", updatedAt: ago(10), createdAt: ago(10) },
      ],
    });
    await db.webhookDelivery.createMany({
      data: [
        { id: "d-old-done", event: "ping", status: "done", receivedAt: ago(120) },
        { id: "d-old-ignored", event: "ping", status: "ignored", receivedAt: ago(120) },
        { id: "d-old-queued", event: "ping", status: "queued", receivedAt: ago(120) },
        // Still being tried: not handled yet, whatever its age.
        { id: "d-old-retrying", event: "ping", status: "retrying", receivedAt: ago(120) },
        { id: "d-new", event: "ping", status: "done", receivedAt: ago(1) },
      ],
    });

    const result = await purgeExpiredData(db, { retentionDays: 90, now: () => NOW, batchSize: 1 });
    expect(result).toMatchObject({ runEvents: 2, jobs: 2, webhookDeliveries: 2 });
    expect((await db.runEvent.findMany()).map((event) => event.message)).toEqual(["recent"]);
    expect((await db.job.findMany({ orderBy: { status: "asc" } })).map((job) => job.status).sort()).toEqual([
      "completed",
      "queued",
      "running",
    ]);
    expect((await db.webhookDelivery.findMany()).map((d) => d.id).sort()).toEqual([
      "d-new",
      "d-old-queued",
      "d-old-retrying",
    ]);
    const audit = await db.auditEvent.findMany();
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ action: "retention.purged", actorId: null });
    expect(JSON.parse(audit[0]!.data)).toMatchObject({
      runEvents: 2,
      jobs: 2,
      webhookDeliveries: 2,
      retentionDays: 90,
    });

    // Nothing left to remove: no second audit event.
    expect(await purgeExpiredData(db, { retentionDays: 90, now: () => NOW })).toMatchObject({ runEvents: 0, jobs: 0 });
    expect(await db.auditEvent.count()).toBe(1);
  });

  it("runs the purge on a timer until stopped", async () => {
    database = await createTestDatabase(provider);
    const { db } = database;
    const { run } = await seedWork(db);
    await db.runEvent.create({ data: { runId: run.id, kind: "log", message: "old", createdAt: ago(200) } });
    const timer = startRetention({
      db,
      logger: pino({ level: "silent" }),
      retentionDays: 90,
      now: () => NOW,
      intervalMs: 10,
    });
    await expect.poll(() => db.runEvent.count()).toBe(0);
    await timer.stop();
    await db.runEvent.create({ data: { runId: run.id, kind: "log", message: "after stop", createdAt: ago(200) } });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await db.runEvent.count()).toBe(1);
  });

  it("erases a person, keeps their work without them, and keeps the audit chain valid", async () => {
    database = await createTestDatabase(provider);
    const { db } = database;
    const { person, task } = await seedWork(db);
    const { appendAuditEvent } = await import("../../../src/audit/append-audit-event.ts");
    await appendAuditEvent(db, {
      actorPseudonym: person.auditPseudonym,
      action: "approval.granted",
      target: `task:${task.id}`,
    });

    const exported = await exportAccount(db, person.id, NOW);
    expect(JSON.stringify(exported)).not.toContain("sealed-");
    expect(exported).toMatchObject({
      profile: { login: "dana", email: "dana@example.org", githubId: "77" },
      tasksRequested: [{ id: task.id }],
      approvalsGiven: [{ taskId: task.id }],
      auditEvents: [{ action: "approval.granted" }],
      privacyRequests: [{ kind: "access" }],
    });

    const revoked: string[] = [];
    const result = await deleteAccount(db, {
      userId: person.id,
      revoke: async (identity) => {
        revoked.push(identity.accessToken!);
        return "revoked";
      },
      now: () => NOW,
    });
    expect(result).toEqual({ identities: 1, revoked: 1, revocationFailed: 0 });
    expect(revoked).toEqual(["sealed-a"]);
    expect(await db.user.count()).toBe(0);
    expect(await db.identity.count()).toBe(0);
    expect(await db.membership.count()).toBe(0);
    expect(await db.privacyRequest.count()).toBe(0);
    expect(await db.task.findUniqueOrThrow({ where: { id: task.id } })).toMatchObject({ requesterId: null });
    expect(await db.approval.findFirstOrThrow()).toMatchObject({ approverId: null });
    const events = await db.auditEvent.findMany({ orderBy: { seq: "asc" } });
    expect(events.map((event) => event.action)).toEqual(["approval.granted", "account.deleted"]);
    expect(events.every((event) => !/dana/i.test(JSON.stringify(event)))).toBe(true);
    expect(await verifyAuditChain(db)).toEqual({ ok: true, length: 2 });
    expect(await exportAccount(db, person.id, NOW)).toBeUndefined();
    // Deleting twice is a no-op, not an error.
    expect(
      await deleteAccount(db, { userId: person.id, revoke: async () => "nothing_to_revoke", now: () => NOW }),
    ).toBeUndefined();
  });
});
