import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commentPayload, type FakeGithub, fakeGithub } from "../../helpers/fake-github.ts";
import { startTestAmistio, type TestAmistio } from "../../helpers/test-amistio.ts";
import { webhookExample } from "../../helpers/webhook-examples.ts";

// Two approvals are required so a single approval never starts a run: the matrix is about who counts.
const SETTINGS = "approvals:\n  required: 2\n";
const ROLES = { admin: "admin", maintain: "maintain", write: "write", triage: "triage", read: "read" } as const;
const ACTORS = ["admin", "maintain", "write", "triage", "read", "none", "a-bot", "requester"] as const;
type Actor = (typeof ACTORS)[number];

// What each actor may do (default settings: request = triage+, approve/reject = write+, not the requester, no bots).
const ALLOWED: Record<"plan" | "revise" | "approve" | "reject", Actor[]> = {
  plan: ["admin", "maintain", "write", "triage", "requester"],
  revise: ["admin", "maintain", "write", "triage", "requester"],
  approve: ["admin", "maintain", "write"],
  reject: ["admin", "maintain", "write", "requester"],
};

describe("who may plan, revise, approve and reject", () => {
  let amistio: TestAmistio;
  let github: FakeGithub;
  let issue = 100;
  const example = webhookExample("issue_comment", "created");

  beforeAll(async () => {
    github = fakeGithub({
      settings: SETTINGS,
      roles: { ...ROLES, requester: "write", "a-bot": "write" },
      files: { "README.md": "# Widgets\n", "src/widget.ts": "export const widget = 1;\n" },
    });
    amistio = await startTestAmistio();
  });
  afterAll(async () => {
    await amistio.close();
    github.stop();
  });

  const say = async (number: number, author: string, body: string) => {
    const payload = commentPayload(example, github, {
      issue: number,
      author,
      body,
      ...(author === "a-bot" ? { authorType: "Bot" } : {}),
    });
    expect((await amistio.deliver("issue_comment", payload)).status).toBe(202);
    await amistio.drain();
  };

  const cases = (["plan", "revise", "approve", "reject"] as const).flatMap((verb) =>
    ACTORS.map((actor) => ({ verb, actor, allowed: ALLOWED[verb].includes(actor) })),
  );

  it.each(cases)("$verb by $actor → allowed: $allowed", async ({ verb, actor, allowed }) => {
    const number = issue++;
    const { db } = amistio.database;
    if (verb !== "plan") await say(number, "requester", "/amistio plan");
    const before = {
      versions: await db.planVersion.count({ where: { task: { number } } }),
      approvals: await db.approval.count({ where: { planVersion: { task: { number } } } }),
      replies: github.replies().length,
    };
    const text = {
      plan: "/amistio plan",
      revise: "/amistio revise smaller steps please",
      approve: "/amistio approve",
      reject: "/amistio reject not now",
    }[verb];
    await say(number, actor === "none" ? "stranger" : actor, text);

    const versions = await db.planVersion.findMany({ where: { task: { number } }, orderBy: { version: "asc" } });
    const approvals = await db.approval.count({ where: { planVersion: { task: { number } } } });
    const task = await db.task.findFirstOrThrow({ where: { number } });
    const decisions = await db.auditEvent.findMany({
      where: { target: `task:${task.id}` },
      orderBy: { seq: "desc" },
      take: 6,
    });
    if (verb === "plan") expect(versions.length > before.versions).toBe(allowed);
    if (verb === "revise") expect(versions.length > before.versions).toBe(allowed);
    if (verb === "approve") expect(approvals > before.approvals).toBe(allowed);
    if (verb === "reject") expect(versions.at(-1)?.status === "rejected").toBe(allowed);

    if (!allowed) {
      const denied = decisions.find((event) => /denied|refused/.test(event.action));
      expect(denied, "a refusal is audited").toBeDefined();
      if (actor === "a-bot") {
        expect(github.replies().length).toBe(before.replies);
      } else {
        const reply = github.replies().at(-1)!.body;
        expect(github.replies().length).toBe(before.replies + 1);
        expect(reply).toMatch(actor === "requester" ? /your own approval/ : /permission/);
      }
    } else {
      expect(decisions.some((event) => event.action === "command.accepted")).toBe(true);
      expect(github.state.reactions.at(-1)?.content).toBe("eyes");
    }
  });
});
