import { afterEach, describe, expect, it } from "vitest";
import { REFUSALS, type RefusalCode } from "../../../src/refusals/refusals.ts";
import { commentPayload, type FakeGithub, fakeGithub } from "../../helpers/fake-github.ts";
import { startTestAmistio, type TestAmistio } from "../../helpers/test-amistio.ts";
import { webhookExample } from "../../helpers/webhook-examples.ts";

/**
 * Every reply Amistio posts to a command, and every state its tracking comment goes through, as
 * people read them: comments in through signed deliveries, what Amistio wrote to GitHub out. Each
 * test is one conversation on an issue, snapshot as a transcript; only ids that change from run to
 * run (task ids, the keys in hidden markers) are replaced.
 */

const ROLES = { alice: "write", bob: "write", carol: "maintain", dave: "read" };
const PUBLIC_URL = "https://amistio.example.test";

/** Codes the conversations below are expected to show, so a refusal that stops being reached fails here. */
const codesShown = new Set<RefusalCode>();

describe("what Amistio answers on an issue", () => {
  let amistio: TestAmistio;
  let github: FakeGithub;
  const example = webhookExample("issue_comment", "created");

  let fullPlans = false;
  async function start(
    options: { settings?: string; env?: Record<string, string>; dispatches?: boolean; fullPlans?: boolean } = {},
  ) {
    fullPlans = options.fullPlans ?? false;
    github = fakeGithub({
      roles: ROLES,
      ...(options.settings ? { settings: options.settings } : {}),
      ...(options.dispatches ? { onDispatch: () => undefined } : {}),
      issues: { 7: { title: "Add a widget cache", body: "- [ ] add cache\n- [ ] test it", author: "alice" } },
      files: { "README.md": "# Widgets\n", "src/cache.ts": "export {};\n" },
    });
    amistio = await startTestAmistio(options.env ? { env: options.env } : {});
  }
  afterEach(async () => {
    await amistio?.close();
    github?.stop();
  });

  const transcript: string[] = [];
  /** One comment in; everything Amistio wrote because of it (replies, then the tracking comment's states) out. */
  async function say(author: string, body: string): Promise<void> {
    const before = github.state.writes.length;
    const response = await amistio.deliver(
      "issue_comment",
      commentPayload(example, github, { issue: 7, author, body }),
    );
    expect(response.status).toBe(202);
    await amistio.drain();
    transcript.push(`## @${author}: ${body.replaceAll("\n", " ⏎ ")}`);
    const trackingIds = new Set(github.tracking().map((comment) => comment.id));
    for (const write of github.state.writes.slice(before)) {
      const kind = trackingIds.has(write.id) ? "tracking comment" : "reply";
      transcript.push(`### ${kind}\n\n${normalise(fullPlans ? write.body : planHeading(write.body))}`);
      for (const match of write.body.matchAll(/Amistio code `([a-z_.]+)`|\(`([a-z]+\.[a-z_]+)`\)$/gm)) {
        codesShown.add((match[1] ?? match[2]) as RefusalCode);
      }
    }
  }
  let conversations = 0;
  const conversation = () => {
    conversations++;
    return transcript.splice(0).join("\n\n");
  };

  it("refuses what cannot happen yet, then plans, revises, rejects", async () => {
    await start({ settings: "approvals:\n  required: 2\n", fullPlans: true });
    await say("dave", "/amistio plan");
    await say("alice", "/amistio approve");
    await say("alice", "/amistio reject");
    await say("alice", "/amistio retry");
    await say("alice", "/amistio revise smaller steps");
    await say("alice", "/amistio cancel");
    await say("alice", "/amistio deploy");
    await say("alice", "/amistio help");
    await say("alice", "/amistio status");
    await say("alice", "/amistio approve looks good");
    await say("alice", "/amistio revise");
    await say("alice", "/amistio plan\n/amistio approve");
    await say("alice", "/amistio approve");
    await say("dave", "/amistio approve");
    await say("bob", "/amistio approve v9");
    await say("bob", "/amistio approve v1");
    await say("bob", "/amistio approve");
    await say("alice", "/amistio revise split the cache step in two");
    await say("carol", "/amistio approve v1");
    await say("alice", "/amistio status");
    await say("carol", "/amistio reject too big");
    await say("bob", "/amistio approve");
    await say("alice", "/amistio reject");
    await say("alice", "/amistio retry");
    await say("dave", "/amistio cancel");
    expect(conversation()).toMatchSnapshot();
  });

  it("runs an approved plan, refuses a second run, cancels it, and starts it again", async () => {
    await start({ env: { AMISTIO_PUBLIC_URL: PUBLIC_URL }, dispatches: true });
    await say("alice", "/amistio plan");
    await say("bob", "/amistio approve");
    await say("carol", "/amistio approve");
    await say("alice", "/amistio retry");
    const cancelAnswer = (reply: [number, unknown]) => {
      github.state.refuse = (method, path) => (method === "POST" && path.endsWith("/cancel") ? reply : undefined);
    };
    cancelAnswer([409, { message: "Cannot cancel a workflow run that is completed." }]);
    await say("alice", "/amistio cancel");
    cancelAnswer([403, { message: "Resource not accessible by integration" }]);
    await say("alice", "/amistio cancel");
    cancelAnswer([202, {}]);
    await say("alice", "/amistio cancel");
    await say("bob", "/amistio retry");
    await say("dave", "/amistio status");
    expect(conversation()).toMatchSnapshot();
  });

  it("says why a run could not be dispatched: no public address, then no workflow", async () => {
    await start();
    await say("alice", "/amistio plan");
    await say("bob", "/amistio approve");
    expect(conversation()).toMatchSnapshot();
    await amistio.close();
    github.stop();
    await start({ env: { AMISTIO_PUBLIC_URL: PUBLIC_URL } });
    await say("alice", "/amistio plan");
    await say("bob", "/amistio approve");
    expect(conversation()).toMatchSnapshot();
  });

  it("answers an approver who is not on the list, and an invalid settings file", async () => {
    await start({ settings: "approvals:\n  users: [carol]\n" });
    await say("alice", "/amistio plan");
    await say("bob", "/amistio approve");
    expect(conversation()).toMatchSnapshot();
    await amistio.close();
    github.stop();
    await start({ settings: "approvals:\n  required: 0\n  quorum: 2\n" });
    await say("alice", "/amistio plan");
    expect(conversation()).toMatchSnapshot();
  });

  // Runs last (vitest runs a file's tests in order): the codes every conversation above showed.
  it("shows the code of every refusal a command can meet", (context) => {
    // Only meaningful after every conversation above (a filtered run skips it).
    if (conversations < 6) return context.skip();
    const reachable = Object.keys(REFUSALS).filter(
      (code) =>
        /^(command|settings|approval|reject|retry|cancel|dispatch)\./.test(code) || code === "plan.no_plan_to_revise",
    );
    // Not reachable by a comment: bots are ignored before any approval is weighed; code owners need a
    // CODEOWNERS file the fake repository does not serve; a lapsed approval, a plan comment GitHub refused or
    // that was changed, and GitHub's own dispatch failures are shown with runs (test/integration/runs).
    const elsewhere = [
      "approval.bot",
      "approval.not_code_owner",
      "approval.not_posted",
      "approval.comment_deleted",
      "approval.comment_changed",
      "dispatch.forbidden",
      "dispatch.no_access",
      "dispatch.rejected",
      "dispatch.unavailable",
    ];
    expect(reachable.filter((code) => !codesShown.has(code as RefusalCode) && !elsewhere.includes(code))).toEqual([]);
  });
});

/** A plan comment after the first conversation: its heading is enough (the plan's text is snapshot there). */
function planHeading(body: string): string {
  if (!body.startsWith("<!-- amistio:plan")) return body;
  return `${body.split("\n").slice(0, 2).join("\n")}\n\n(the plan, as in the first conversation)`;
}

function normalise(body: string): string {
  return body
    .replace(/task=\w+/g, "task=<id>")
    .replace(/<!-- amistio:key ([\w-]+):[^ ]+ -->/g, "<!-- amistio:key $1:<id> -->");
}
