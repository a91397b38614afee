import { describe, expect, it } from "vitest";
import { appendAuditEvent } from "../../../src/audit/append-audit-event.ts";
import { signedInCookie } from "../../e2e/support/forge-session.ts";
import { WebClient } from "../../e2e/support/web-client.ts";
import { startTestAmistio } from "../../helpers/test-amistio.ts";
import { PROVIDERS } from "../../helpers/test-database.ts";

const SESSION_SECRET = "workspace-page-test-secret-0123456789abcdefgh";

describe.each(PROVIDERS)("workspace pages on %s", (provider) => {
  it("pages through tasks with their plans, approvals and latest runs, and through the audit log", async () => {
    const amistio = await startTestAmistio({ provider, env: { SESSION_SECRET } });
    try {
      const { db } = amistio.database;
      const viewer = await db.user.create({ data: { githubId: 1n, login: "viewer" } });
      const workspace = await db.workspace.create({
        data: { installationId: 10n, accountLogin: "initech", accountType: "Organization", accountId: 11n },
      });
      await db.membership.create({ data: { userId: viewer.id, workspaceId: workspace.id, role: "member" } });
      const repository = await db.repository.create({
        data: { workspaceId: workspace.id, githubId: 12n, fullName: "initech/tps" },
      });
      for (let number = 1; number <= 25; number++) {
        const task = await db.task.create({
          data: {
            workspaceId: workspace.id,
            repositoryId: repository.id,
            number,
            title: `Report ${number}`,
            createdAt: new Date(Date.UTC(2027, 0, 1, 0, number)),
          },
        });
        const plan = await db.planVersion.create({
          data: { taskId: task.id, version: 1, contentHash: "c".repeat(64), content: {}, source: "offline" },
        });
        await db.approval.create({
          data: { planVersionId: plan.id, approverId: viewer.id, contentHash: plan.contentHash, permission: "write" },
        });
        const runs = number === 25 ? 7 : 1;
        for (let attempt = 1; attempt <= runs; attempt++) {
          await db.run.create({
            data: {
              taskId: task.id,
              planVersionId: plan.id,
              contentHash: plan.contentHash,
              runnerName: `runner-${number}-${attempt}`,
              createdAt: new Date(Date.UTC(2027, 0, 2, 0, number, attempt)),
            },
          });
        }
      }
      for (let n = 1; n <= 60; n++) {
        await appendAuditEvent(db, {
          workspaceId: workspace.id,
          actorPseudonym: viewer.auditPseudonym,
          action: "test.happened",
          data: { n },
        });
      }

      const client = new WebClient(amistio.url);
      client.cookies.set("amistio_session", (await signedInCookie(db, SESSION_SECRET, viewer.id)).cookie);
      const first = await client.page(`/workspaces/${workspace.id}`);
      expect(first.status).toBe(200);
      const titles = [...first.html.matchAll(/initech\/tps#(\d+): Report/g)].map((match) => Number(match[1]));
      expect(titles).toEqual(Array.from({ length: 20 }, (_, i) => 25 - i));
      // The 5 latest of task 25's 7 runs, newest first.
      const runners = [...first.html.matchAll(/runner-25-(\d)/g)].map((match) => Number(match[1]));
      expect(runners).toEqual([7, 6, 5, 4, 3]);
      expect(first.html).toContain("viewer (write)");
      const next = /href="([^"]+\?after=[^"]+)">Older tasks/.exec(first.html)![1]!.replaceAll("&amp;", "&");
      const second = await client.page(next);
      expect([...second.html.matchAll(/initech\/tps#(\d+): Report/g)].map((match) => Number(match[1]))).toEqual([
        5, 4, 3, 2, 1,
      ]);
      expect(second.html).not.toContain("Older tasks");

      const audit = await client.page(`/workspaces/${workspace.id}/audit`);
      expect(audit.html).toContain("Verified: all 60 events");
      const seqs = [...audit.html.matchAll(/<tr>\n<td>(\d+)<\/td>/g)].map((match) => Number(match[1]));
      expect(seqs).toEqual(Array.from({ length: 50 }, (_, i) => 60 - i));
      const older = await client.page(`/workspaces/${workspace.id}/audit?before=11`);
      expect([...older.html.matchAll(/<tr>\n<td>(\d+)<\/td>/g)].map((match) => Number(match[1]))).toEqual(
        Array.from({ length: 10 }, (_, i) => 10 - i),
      );
      expect((await client.get(`/workspaces/${workspace.id}/audit?before=-1`)).status).toBe(400);
    } finally {
      await amistio.close();
    }
  });

  it("lists the workspace's deliveries Amistio gave up on, escaped, and no one else's", async () => {
    const amistio = await startTestAmistio({ provider, env: { SESSION_SECRET } });
    try {
      const { db } = amistio.database;
      const viewer = await db.user.create({ data: { githubId: 1n, login: "viewer" } });
      const workspace = await db.workspace.create({
        data: { installationId: 10n, accountLogin: "initech", accountType: "Organization", accountId: 11n },
      });
      await db.membership.create({ data: { userId: viewer.id, workspaceId: workspace.id, role: "member" } });
      await db.webhookDelivery.createMany({
        data: [
          {
            id: "gave-up-1",
            event: "issue_comment",
            action: "created",
            installationId: 10n,
            status: "failed",
            error: "GitHub answered 502 <script>alert(1)</script>",
          },
          { id: "retrying-1", event: "issue_comment", installationId: 10n, status: "retrying", error: "x" },
          { id: "elsewhere-1", event: "issue_comment", installationId: 99n, status: "failed", error: "other org" },
        ],
      });
      const client = new WebClient(amistio.url);
      client.cookies.set("amistio_session", (await signedInCookie(db, SESSION_SECRET, viewer.id)).cookie);
      const page = await client.page(`/workspaces/${workspace.id}`);
      expect(page.status).toBe(200);
      expect(page.html).toContain("Events Amistio gave up on");
      expect(page.html).toContain("gave-up-1");
      expect(page.html).toContain("issue_comment.created");
      expect(page.html).toContain("&lt;script&gt;");
      expect(page.html).not.toContain("<script>alert");
      expect(page.html).not.toContain("retrying-1");
      expect(page.html).not.toContain("elsewhere-1");
    } finally {
      await amistio.close();
    }
  });
});
