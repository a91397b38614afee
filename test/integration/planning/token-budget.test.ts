import { afterEach, describe, expect, it } from "vitest";
import { readEnv } from "../../../src/config/env.ts";
import { parseRepoSettings } from "../../../src/config/repo-settings.ts";
import { monthStart, nextMonthStart } from "../../../src/planning/token-budget.ts";
import { refusal, refusalComment } from "../../../src/refusals/refusals.ts";
import { commentPayload, type FakeGithub, fakeGithub } from "../../helpers/fake-github.ts";
import { startTestAmistio, type TestAmistio, testPrivateKey } from "../../helpers/test-amistio.ts";
import { webhookExample } from "../../helpers/webhook-examples.ts";
import { startFakeOpenAi } from "./helpers/fake-openai-server.ts";

const PLAN = JSON.stringify({
  summary: "Cache widgets.",
  steps: [{ title: "Add the cache", details: "A Map.", files: ["src/cache.ts"] }],
  risks: [],
  tests: [],
  questions: [],
});
// The fake endpoint reports 100 input and 20 output tokens per answer.
const PER_PLAN = 120;

describe("monthly token budgets per repository", () => {
  let amistio: TestAmistio;
  let github: FakeGithub;
  let ai: Awaited<ReturnType<typeof startFakeOpenAi>>;
  const example = webhookExample("issue_comment", "created");

  async function start(options: { settings?: string; env?: Record<string, string> } = {}) {
    ai = await startFakeOpenAi(Array.from({ length: 5 }, () => ({ content: PLAN })));
    github = fakeGithub({
      roles: { alice: "write" },
      issues: { 3: { title: "Cache widgets", body: "Add a cache.", author: "alice" } },
      files: { "README.md": "# Widgets\n", "src/cache.ts": "export {};\n" },
      ...(options.settings ? { settings: options.settings } : {}),
    });
    amistio = await startTestAmistio({
      env: { OPENAI_API_KEY: "test-key", OPENAI_BASE_URL: ai.baseURL, OPENAI_MODEL: "m", ...options.env },
    });
  }
  afterEach(async () => {
    await amistio?.close();
    github?.stop();
    await ai?.close();
  });
  const say = async (body: string) => {
    await amistio.deliver("issue_comment", commentPayload(example, github, { issue: 3, author: "alice", body }));
    await amistio.drain(20_000);
  };

  it("answers plan and revise over planner.monthlyTokens with the figure and the reset date, without calling the model", async () => {
    await start({ settings: `planner:\n  monthlyTokens: ${PER_PLAN * 2}\n` });
    await say("/amistio plan");
    await say("/amistio revise smaller steps");
    expect(ai.received).toHaveLength(2);
    await say("/amistio revise even smaller");
    await say("/amistio plan");
    expect(ai.received).toHaveLength(2);
    const { db } = amistio.database;
    expect(await db.planVersion.count()).toBe(2);
    const expected = refusalComment(
      refusal("plan.over_budget", {
        used: PER_PLAN * 2,
        limit: PER_PLAN * 2,
        resetsAt: nextMonthStart(new Date()),
        prefix: "/amistio",
      }),
    );
    const refusals = github.replies().filter((c) => c.body.startsWith(expected));
    expect(refusals).toHaveLength(2);
    expect(expected).toContain(`240 of 240 tokens`);
    expect(expected).toMatch(/starts again on 1 \w+ \d{4} \(00:00 UTC\)/);
    expect(await db.auditEvent.count({ where: { action: "plan.over_budget" } })).toBe(2);
    // The task is not left planning.
    expect((await db.task.findFirstOrThrow()).state).toBe("awaiting_approval");
  });

  it("applies the server's default when the repository sets none, and counts only this calendar month", async () => {
    await start({ env: { AMISTIO_MONTHLY_TOKENS: "100" } });
    await say("/amistio plan");
    expect(ai.received).toHaveLength(1);
    await say("/amistio revise again");
    expect(ai.received).toHaveLength(1);
    expect(github.replies().at(-1)!.body).toContain("120 of 100 tokens");
    // Last month's plans do not count.
    const lastMonth = new Date(monthStart(new Date()).getTime() - 1000);
    await amistio.database.db.planVersion.updateMany({ data: { createdAt: lastMonth } });
    await say("/amistio revise once more");
    expect(ai.received).toHaveLength(2);
  });

  it("lets the offline planner plan whatever the budget", async () => {
    await start({ settings: "planner:\n  provider: offline\n", env: { AMISTIO_MONTHLY_TOKENS: "1" } });
    await say("/amistio plan");
    await say("/amistio revise again");
    expect(await amistio.database.db.planVersion.count()).toBe(2);
    expect(ai.received).toHaveLength(0);
  });

  it("validates the setting and the variable", () => {
    expect(parseRepoSettings({ planner: { monthlyTokens: 0 } })).toMatchObject({
      ok: false,
      problems: [{ path: "planner.monthlyTokens" }],
    });
    expect(parseRepoSettings({ planner: { monthlyTokens: 500_000 } })).toMatchObject({
      ok: true,
      settings: { planner: { monthlyTokens: 500_000 } },
    });
    const base = { APP_ID: "1", PRIVATE_KEY: testPrivateKey(), WEBHOOK_SECRET: "s" };
    expect(readEnv({ ...base, AMISTIO_MONTHLY_TOKENS: "2000000" }).AMISTIO_MONTHLY_TOKENS).toBe(2_000_000);
    expect(readEnv({ ...base, AMISTIO_MONTHLY_TOKENS: "" }).AMISTIO_MONTHLY_TOKENS).toBeUndefined();
    expect(() => readEnv({ ...base, AMISTIO_MONTHLY_TOKENS: "lots" })).toThrow(/AMISTIO_MONTHLY_TOKENS/);
  });
});
