import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GithubStandIn, type StandInUser, startGithubStandIn } from "../../e2e/support/github-stand-in.ts";
import { WebClient } from "../../e2e/support/web-client.ts";
import { startWebHarness, type WebHarness } from "./web-harness.ts";

const hana: StandInUser = { id: 5401, login: "hana", name: "Hana", installations: [] };
const ivo: StandInUser = { id: 5402, login: "ivo", name: "Ivo", installations: [] };
const jun: StandInUser = { id: 5403, login: "jun", name: "Jun", installations: [] };

let github: GithubStandIn;
let web: WebHarness;

beforeAll(async () => {
  github = await startGithubStandIn();
  web = await startWebHarness({ env: github.env });
});

afterAll(async () => {
  await web?.close();
  await github?.close();
});

const db = () => web.database.db;
const userOf = (githubId: bigint) => db().user.findUniqueOrThrow({ where: { githubId } });

/** A second browser that was handed a copy of `client`'s cookie. */
function copyOf(client: WebClient): WebClient {
  const thief = new WebClient(web.url);
  for (const [name, value] of client.cookies) thief.cookies.set(name, value);
  return thief;
}

/** The one log line a refused request wrote: it names the request and the status. */
function refusalLogged(status: number, reason: string) {
  const line = web.logs.find((entry) => entry.status === status && entry.reason === reason);
  expect(line, `a log line with status ${status} and reason ${reason}`).toBeDefined();
  expect(line!.reqId).toEqual(expect.any(String));
}

describe("revocable sessions", () => {
  it("stores only a session id in the cookie, backed by a WebSession row that sign-out deletes", async () => {
    const client = new WebClient(web.url);
    const { response } = await client.githubSignIn(github, hana);
    expect(response.status).toBe(303);
    const hanaUser = await userOf(5401n);
    const rows = await db().webSession.findMany({ where: { userId: hanaUser.id } });
    expect(rows).toHaveLength(1);
    expect(rows[0]!.id).toMatch(/^[A-Za-z0-9_-]{43}$/); // 32 random bytes, base64url
    expect(rows[0]!.expiresAt.getTime() - rows[0]!.createdAt.getTime()).toBe(24 * 60 * 60 * 1000);

    const captured = copyOf(client);
    expect((await captured.get("/account")).status).toBe(200);
    const signedOut = await client.submit("/account", "/auth/sign-out", {});
    expect(signedOut.status).toBe(303);
    expect(await db().webSession.count({ where: { userId: hanaUser.id } })).toBe(0);

    // The cookie copied before sign-out opens nothing any more.
    const replayed = await captured.get("/account");
    expect(replayed.status).toBe(401);
    expect(await replayed.text()).toContain("Your session has ended");
    expect(captured.cookies.has("amistio_session")).toBe(false);
    refusalLogged(401, "ended");

    const audit = await db().auditEvent.findMany({
      where: { actorId: hanaUser.auditPseudonym, action: "session.signed_out" },
    });
    expect(audit).toHaveLength(1);
    expect(JSON.stringify(audit)).not.toContain(hanaUser.id);
  });

  it("signs out everywhere: every session of the person ends, others' stay, and the form needs its CSRF token", async () => {
    const laptop = new WebClient(web.url);
    await laptop.githubSignIn(github, ivo);
    const phone = new WebClient(web.url);
    await phone.githubSignIn(github, ivo);
    const stolen = copyOf(phone);
    const someoneElse = new WebClient(web.url);
    await someoneElse.githubSignIn(github, jun);
    const ivoUser = await userOf(5402n);
    expect(await db().webSession.count({ where: { userId: ivoUser.id } })).toBe(2);

    const forged = await phone.post("/account/sign-out-everywhere", { _csrf: "not-a-token" });
    expect(forged.status).toBe(403);
    expect(await db().webSession.count({ where: { userId: ivoUser.id } })).toBe(2);

    const page = await laptop.page("/account");
    expect(page.html).toContain('action="/account/sign-out-everywhere"');
    const done = await laptop.post("/account/sign-out-everywhere", { _csrf: page.csrf! });
    expect(done.status).toBe(200);
    expect(await done.text()).toContain("2 sessions were ended");
    expect(await db().webSession.count({ where: { userId: ivoUser.id } })).toBe(0);
    for (const browser of [laptop, phone, stolen]) {
      expect((await browser.get("/account")).status).toBe(401);
    }
    expect((await someoneElse.get("/account")).status).toBe(200);

    const audit = await db().auditEvent.findFirstOrThrow({
      where: { actorId: ivoUser.auditPseudonym, action: "session.signed_out_everywhere" },
    });
    expect(JSON.parse(audit.data)).toEqual({ sessions: 2 });
  });

  it("ends a copied cookie's access when the account is deleted", async () => {
    const client = new WebClient(web.url);
    await client.githubSignIn(github, jun);
    const captured = copyOf(client);
    const junUser = await userOf(5403n);
    const deleted = await client.submit("/account", "/account/delete", { confirm: "jun" });
    expect(deleted.status).toBe(200);
    expect(await db().webSession.count({ where: { userId: junUser.id } })).toBe(0);
    const replayed = await captured.get("/account");
    expect(replayed.status).toBe(401);
    expect((await captured.get("/workspaces")).status).toBe(401);
  });

  it("writes lastSeenAt at most once a minute, and ends the session 24 hours after sign-in", async () => {
    const client = new WebClient(web.url);
    await client.githubSignIn(github, hana);
    const hanaUser = await userOf(5401n);
    const row = () => db().webSession.findFirstOrThrow({ where: { userId: hanaUser.id } });
    const signedInAt = (await row()).lastSeenAt.getTime();

    web.clock.advance(30_000);
    for (let i = 0; i < 3; i++) expect((await client.get("/account")).status).toBe(200);
    expect((await row()).lastSeenAt.getTime()).toBe(signedInAt);

    web.clock.advance(31_000);
    expect((await client.get("/account")).status).toBe(200);
    expect((await row()).lastSeenAt.getTime()).toBe(signedInAt + 61_000);
    web.clock.advance(1_000);
    expect((await client.get("/account")).status).toBe(200);
    expect((await row()).lastSeenAt.getTime()).toBe(signedInAt + 61_000);

    // Being active does not stretch it: 24 hours after sign-in it is over.
    web.clock.advance(24 * 60 * 60 * 1000 - 62_000);
    const expired = await client.get("/account");
    expect(expired.status).toBe(401);
    expect(await expired.text()).toContain("Your session expired");
    expect(await db().webSession.count({ where: { userId: hanaUser.id } })).toBe(0);
  });

  it("removes expired sessions, anyone's, when someone signs in", async () => {
    const ivoUser = await userOf(5402n);
    const at = web.clock.now().getTime();
    await db().webSession.create({
      data: { id: "expired-session-of-ivo", userId: ivoUser.id, expiresAt: new Date(at - 1000) },
    });
    await db().webSession.create({
      data: { id: "live-session-of-ivo", userId: ivoUser.id, expiresAt: new Date(at + 60_000) },
    });
    await new WebClient(web.url).githubSignIn(github, hana);
    expect(await db().webSession.count({ where: { id: "expired-session-of-ivo" } })).toBe(0);
    expect(await db().webSession.count({ where: { id: "live-session-of-ivo" } })).toBe(1);
  });
});

describe("refusals", () => {
  it("write exactly one log line each, naming the request and the status", async () => {
    const client = new WebClient(web.url);
    const cases: [string, number][] = [
      ["/auth/github/callback?state=forged&code=forged", 400],
      ["/account", 401],
      ["/workspaces/someone-elses", 401],
    ];
    for (const [path, status] of cases) {
      const before = web.logs.length;
      expect((await client.get(path)).status, path).toBe(status);
      const lines = web.logs.slice(before).filter((line) => line.reqId !== undefined);
      expect(lines, path).toHaveLength(1);
      expect(lines[0], path).toMatchObject({ status, reqId: expect.any(String) });
    }
    await client.githubSignIn(github, hana);
    const before = web.logs.length;
    expect((await client.get("/workspaces/someone-elses")).status).toBe(404);
    const lines = web.logs.slice(before).filter((line) => line.reqId !== undefined);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ status: 404, reason: "not_a_member", reqId: expect.any(String) });
  });
});

describe("who is signed in", () => {
  it("shows the login on every signed-in page, with an avatar only from GitHub's avatars host", async () => {
    const client = new WebClient(web.url);
    await client.githubSignIn(github, hana);
    const hanaUser = await userOf(5401n);
    const pages = ["/", "/account", "/workspaces", "/privacy/requests", "/privacy", "/no-such-page"];

    // The stand-in's avatar is on another host: the login stands alone.
    for (const path of pages) {
      const page = await client.page(path);
      expect(page.html, path).toContain('Signed in as <strong id="signed-in-as">hana</strong>');
      expect(page.html, path).not.toContain("<img");
      expect(page.html.indexOf("signed-in-as"), path).toBeLessThan(page.html.indexOf('action="/auth/sign-out"'));
    }

    await db().user.update({
      where: { id: hanaUser.id },
      data: { avatarUrl: "https://avatars.githubusercontent.com/u/5401?v=4" },
    });
    const response = await client.get("/account");
    const html = await response.text();
    expect(html).toContain(
      '<img class="avatar" src="https://avatars.githubusercontent.com/u/5401?v=4&amp;s=48" alt="" width="24" height="24">',
    );
    expect(response.headers.get("content-security-policy")).toContain(
      "img-src 'self' https://avatars.githubusercontent.com;",
    );

    for (const avatarUrl of [
      "https://avatars.githubusercontent.com.evil.example/u/1",
      "https://user:pass@avatars.githubusercontent.com/u/1",
      "http://avatars.githubusercontent.com/u/1",
      "https://avatars.githubusercontent.com:8443/u/1",
      'javascript:alert(1)//"><script>',
      "https://lh3.googleusercontent.com/a/photo",
    ]) {
      await db().user.update({ where: { id: hanaUser.id }, data: { avatarUrl } });
      const page = await client.page("/account");
      expect(page.html, avatarUrl).not.toContain("<img");
      expect(page.html, avatarUrl).toContain('<strong id="signed-in-as">hana</strong>');
    }
  });

  it("names someone without a GitHub account by their name, escaped", async () => {
    const kim = await db().user.create({ data: { name: "<Kim & co>", email: "kim@example.org" } });
    const { signedInCookie } = await import("../../e2e/support/forge-session.ts");
    const client = new WebClient(web.url);
    const { cookie } = await signedInCookie(db(), "web-harness-session-secret-0123456789abcdef", kim.id, {
      createdAt: web.clock.now(),
    });
    client.cookies.set("amistio_session", cookie);
    const page = await client.page("/account");
    expect(page.status).toBe(200);
    expect(page.html).toContain('<strong id="signed-in-as">&lt;Kim &amp; co&gt;</strong>');
  });
});
