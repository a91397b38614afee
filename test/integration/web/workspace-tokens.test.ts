import { describe, expect, it } from "vitest";
import { monthStart } from "../../../src/planning/token-budget.ts";
import { signedInCookie } from "../../e2e/support/forge-session.ts";
import { WebClient } from "../../e2e/support/web-client.ts";
import { startTestAmistio } from "../../helpers/test-amistio.ts";

const SESSION_SECRET = "workspace-tokens-test-secret-0123456789abcdefgh";

describe("the workspace page's tokens this month", () => {
  it("sums input and output tokens of this calendar month's plans per repository", async () => {
    const amistio = await startTestAmistio({ env: { SESSION_SECRET } });
    try {
      const { db } = amistio.database;
      const viewer = await db.user.create({ data: { githubId: 1n, login: "viewer" } });
      const workspace = await db.workspace.create({
        data: { installationId: 10n, accountLogin: "initech", accountType: "Organization", accountId: 11n },
      });
      await db.membership.create({ data: { userId: viewer.id, workspaceId: workspace.id, role: "member" } });
      const client = new WebClient(amistio.url);
      client.cookies.set("amistio_session", (await signedInCookie(db, SESSION_SECRET, viewer.id)).cookie);
      expect((await client.page(`/workspaces/${workspace.id}`)).html).toContain("No AI planning tokens used since");

      const lastMonth = new Date(monthStart(new Date()).getTime() - 60_000);
      const plans: [string, number, number | null, number | null, Date][] = [
        ["initech/tps", 1, 1_000, 200, new Date()],
        ["initech/tps", 2, 500, 120, new Date()],
        ["initech/tps", 3, 9_000, 900, lastMonth],
        ["initech/printer", 1, 40, 2, new Date()],
        ["initech/printer", 2, null, null, new Date()], // offline
      ];
      for (const [fullName, number, input, output, createdAt] of plans) {
        const repository = await db.repository.upsert({
          where: { githubId: BigInt(fullName.length) },
          create: { workspaceId: workspace.id, githubId: BigInt(fullName.length), fullName },
          update: {},
        });
        const task = await db.task.create({
          data: { workspaceId: workspace.id, repositoryId: repository.id, number, title: `T${number}` },
        });
        await db.planVersion.create({
          data: {
            taskId: task.id,
            version: 1,
            contentHash: "c".repeat(64),
            content: {},
            source: input === null ? "offline" : "openai",
            inputTokens: input,
            outputTokens: output,
            createdAt,
          },
        });
      }
      const page = await client.page(`/workspaces/${workspace.id}`);
      const rows = [...page.html.matchAll(/<tr><td>(initech\/\w+)<\/td><td>([\d,]+)<\/td><\/tr>/g)].map((m) => [
        m[1],
        m[2],
      ]);
      expect(rows).toEqual([
        ["initech/tps", "1,820"],
        ["initech/printer", "42"],
      ]);
    } finally {
      await amistio.close();
    }
  });
});
