import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GithubStandIn, type StandInUser, startGithubStandIn } from "../../e2e/support/github-stand-in.ts";
import { WebClient } from "../../e2e/support/web-client.ts";
import { startTestAmistio, type TestAmistio } from "../../helpers/test-amistio.ts";

const carol: StandInUser = { id: 6001, login: "carol", name: "Carol", installations: [] };
const operator: StandInUser = { id: 6002, login: "Privacy-Op", name: "Op", installations: [] };

let github: GithubStandIn;
let amistio: TestAmistio;

beforeAll(async () => {
  github = await startGithubStandIn();
  amistio = await startTestAmistio({
    env: {
      ...github.env,
      SESSION_SECRET: "privacy-requests-test-secret-0123456789abcdef",
      AMISTIO_ADMINS: "someone-else, privacy-op",
      AMISTIO_PRIVACY_CONTACT: "privacy@amistio.example",
      AMISTIO_RETENTION_DAYS: "30",
    },
  });
});

afterAll(async () => {
  await amistio?.close();
  await github?.close();
});

const db = () => amistio.database.db;

describe("privacy requests", () => {
  it("are filed by the signed-in person, validated, and tracked to completion by an operator", async () => {
    const person = new WebClient(amistio.url);
    await person.githubSignIn(github, carol);
    const carolUser = await db().user.findUniqueOrThrow({ where: { githubId: 6001n } });

    const badKind = await person.submit("/privacy/requests", "/privacy/requests", { kind: "sell", details: "x" });
    expect(badKind.status).toBe(400);
    const empty = await person.submit("/privacy/requests", "/privacy/requests", { kind: "correct", details: "   " });
    expect(empty.status).toBe(400);
    const huge = await person.submit("/privacy/requests", "/privacy/requests", {
      kind: "correct",
      details: "é".repeat(5001),
    });
    expect(huge.status).toBe(400);
    expect(await db().privacyRequest.count()).toBe(0);

    const filed = await person.submit("/privacy/requests", "/privacy/requests", {
      kind: "restrict",
      details: "Stop using my email — Ünïcödé ✓",
    });
    expect(filed.status).toBe(303);
    const mine = await person.page("/privacy/requests");
    expect(mine.html).toContain("Stop using my email — Ünïcödé ✓");
    expect(mine.html).toContain("Open");

    // Not an operator: no operator view, no status changes.
    expect((await person.get("/privacy/requests/manage")).status).toBe(403);
    const request = await db().privacyRequest.findFirstOrThrow();
    const sneaky = await person.submit("/privacy/requests", `/privacy/requests/${request.id}/status`, {
      status: "completed",
    });
    expect(sneaky.status).toBe(403);

    const op = new WebClient(amistio.url);
    await op.githubSignIn(github, operator);
    const manage = await op.page("/privacy/requests/manage");
    expect(manage.status).toBe(200);
    expect(manage.html).toContain("restrict request from carol");
    const move = (status: string, note = "") =>
      op.submit("/privacy/requests/manage", `/privacy/requests/${request.id}/status`, { status, note });
    expect((await move("in_progress")).status).toBe(303);
    expect((await move("open")).status).toBe(409);
    expect((await move("completed", "Email no longer used for anything but sign-in.")).status).toBe(303);
    expect((await move("rejected")).status).toBe(409);
    expect(
      (await op.submit("/privacy/requests/manage", "/privacy/requests/nope/status", { status: "completed" })).status,
    ).toBe(404);

    const done = await db().privacyRequest.findUniqueOrThrow({ where: { id: request.id } });
    expect(done).toMatchObject({
      status: "completed",
      resolutionNote: "Email no longer used for anything but sign-in.",
    });
    expect(done.resolvedAt).not.toBeNull();
    expect((await person.page("/privacy/requests")).html).toContain("Email no longer used for anything but sign-in.");

    const audit = await db().auditEvent.findMany({
      where: { target: `privacy_request:${request.id}` },
      orderBy: { seq: "asc" },
    });
    expect(audit.map((event) => [event.action, event.actorId, JSON.parse(event.data)])).toEqual([
      ["privacy_request.created", carolUser.auditPseudonym, { kind: "restrict" }],
      ["privacy_request.status_changed", expect.any(String), { from: "open", to: "in_progress" }],
      ["privacy_request.status_changed", expect.any(String), { from: "in_progress", to: "completed" }],
    ]);
    // Personal text stays out of the chained fields.
    expect(audit.some((event) => event.data.includes("email"))).toBe(false);
  });

  it("shows the operator's contact and the configured retention on the privacy policy", async () => {
    const response = await fetch(`${amistio.url}/privacy`);
    const html = await response.text();
    expect(response.status).toBe(200);
    expect(html).toContain('<a href="mailto:privacy@amistio.example">privacy@amistio.example</a>');
    expect(html).toContain("30 days after they were made");
    expect(html).toContain("amistio.theme");
    expect(html).toContain("does not delete your account by itself");
  });
});
