import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyAuditChain } from "../../../src/audit/verify-audit-chain.ts";
import { forgeSessionCookie, signedInCookie } from "../../e2e/support/forge-session.ts";
import { type GithubStandIn, type StandInUser, startGithubStandIn } from "../../e2e/support/github-stand-in.ts";
import { WebClient } from "../../e2e/support/web-client.ts";
import { startTestAmistio, type TestAmistio } from "../../helpers/test-amistio.ts";

const SESSION_SECRET = "an-integration-test-session-secret-of-enough-length";

const alice: StandInUser = {
  id: 5001,
  login: "alice",
  name: "Alice",
  email: "alice@example.org",
  installations: [
    { id: 91, account: { id: 5001, login: "alice", type: "User" } },
    { id: 92, account: { id: 7001, login: "acme", type: "Organization" } },
  ],
  adminOf: ["acme"],
};
const bob: StandInUser = {
  id: 5002,
  login: "bob",
  name: null,
  installations: [{ id: 93, account: { id: 5002, login: "bob", type: "User" } }],
};

let github: GithubStandIn;
let amistio: TestAmistio;

beforeAll(async () => {
  github = await startGithubStandIn();
  amistio = await startTestAmistio({
    env: {
      ...github.env,
      SESSION_SECRET,
    },
  });
});

afterAll(async () => {
  await amistio?.close();
  await github?.close();
});

const db = () => amistio.database.db;

describe("sign-in with GitHub", () => {
  it("uses state and PKCE, starts a fresh session with strict cookie flags, and records memberships", async () => {
    const client = new WebClient(amistio.url);
    const started = await client.get("/auth/github");
    expect(started.status).toBe(302);
    const authorize = new URL(started.headers.get("location")!);
    expect(authorize.origin).toBe(github.url);
    expect(authorize.pathname).toBe("/login/oauth/authorize");
    expect(authorize.searchParams.get("code_challenge_method")).toBe("S256");
    expect(authorize.searchParams.get("state")).toMatch(/^[\w-]{20,}$/);
    expect(authorize.searchParams.get("redirect_uri")).toBe(`${amistio.url}/auth/github/callback`);
    const pendingCookie = client.cookies.get("amistio_session");

    github.signInAs(alice);
    const back = new URL((await fetch(authorize, { redirect: "manual" })).headers.get("location")!);
    const done = await client.get(`${back.pathname}${back.search}`);
    expect(done.status).toBe(303);
    expect(done.headers.get("location")).toBe("/workspaces");
    // A new session at sign-in: the cookie from before is not the one after.
    expect(client.cookies.get("amistio_session")).not.toBe(pendingCookie);
    const cookie = client.setCookies.at(-1)!;
    expect(cookie.name).toBe("amistio_session");
    expect(cookie.attributes.has("httponly")).toBe(true);
    expect(cookie.attributes.get("samesite")?.toLowerCase()).toBe("lax");
    expect(cookie.attributes.get("path")).toBe("/");
    expect(cookie.attributes.has("secure")).toBe(false); // plain http here; see the HTTPS test below

    const user = await db().user.findUniqueOrThrow({
      where: { githubId: 5001n },
      include: { memberships: { include: { workspace: true } }, identities: true },
    });
    expect(user.login).toBe("alice");
    const roles = Object.fromEntries(user.memberships.map((m) => [m.workspace.accountLogin, m.role]));
    expect(roles).toEqual({ alice: "admin", acme: "admin" });
    // Tokens are stored sealed, never as GitHub issued them.
    const [identity] = user.identities;
    expect(identity!.accessToken).not.toMatch(/^ghu_/);
    expect(github.liveTokens(5001)).not.toContain(identity!.accessToken);

    const workspaces = await client.page("/workspaces");
    expect(workspaces.status).toBe(200);
    expect(workspaces.html).toContain(">acme</a>");
    const actions = await db().auditEvent.findMany({
      where: { actorId: user.auditPseudonym },
      select: { action: true },
    });
    expect(actions.map((a) => a.action)).toEqual(["account.created", "session.signed_in"]);
  });

  it("refuses a replayed callback and leaves the session as it was", async () => {
    const client = new WebClient(amistio.url);
    const { response, callbackUrl } = await client.githubSignIn(github, bob);
    expect(response.status).toBe(303);
    const callback = new URL(callbackUrl);
    const replay = await client.get(`${callback.pathname}${callback.search}`);
    expect(replay.status).toBe(400);
    expect(await replay.text()).toContain("already used");
    expect((await client.get("/account")).status).toBe(200);
    // Another browser presenting the same answer has no matching sign-in at all.
    const stranger = new WebClient(amistio.url);
    expect((await stranger.get(`${callback.pathname}${callback.search}`)).status).toBe(400);
    expect(stranger.cookies.size).toBe(0);
  });

  it("shows the provider's error and changes nothing when the person declines", async () => {
    const users = await db().user.count();
    const client = new WebClient(amistio.url);
    github.failNext("access_denied");
    const started = await client.get("/auth/github");
    const back = new URL(
      (await fetch(started.headers.get("location")!, { redirect: "manual" })).headers.get("location")!,
    );
    const response = await client.get(`${back.pathname}${back.search}`);
    expect(response.status).toBe(403);
    expect(await response.text()).toContain("The user has denied your application access.");
    expect(await db().user.count()).toBe(users);
    expect((await client.get("/account")).status).toBe(401);
  });

  it("refuses a code whose PKCE verifier does not match, as GitHub does", async () => {
    const client = new WebClient(amistio.url);
    github.signInAs(alice);
    const started = await client.get("/auth/github");
    const authorize = new URL(started.headers.get("location")!);
    authorize.searchParams.set("code_challenge", "A".repeat(43)); // as if an attacker swapped the challenge
    const back = new URL((await fetch(authorize, { redirect: "manual" })).headers.get("location")!);
    const response = await client.get(`${back.pathname}${back.search}`);
    expect(response.status).toBe(502);
    expect(await response.text()).toContain("bad_verification_code");
    expect((await client.get("/account")).status).toBe(401);
  });

  it("goes back only to local paths after sign-in", async () => {
    for (const [returnTo, expected] of [
      ["/privacy/requests", "/privacy/requests"],
      ["https://evil.example/steal", "/workspaces"],
      ["//evil.example", "/workspaces"],
      ["/\\evil.example", "/workspaces"],
      ["/auth/github/callback", "/workspaces"],
    ]) {
      const client = new WebClient(amistio.url);
      const { response } = await client.githubSignIn(
        github,
        bob,
        `/auth/github?returnTo=${encodeURIComponent(returnTo!)}`,
      );
      expect(response.headers.get("location"), returnTo).toBe(expected);
    }
  });

  it("signs in a person whose provider name is 10 KB of astral characters, keeping a bounded, unbroken name", async () => {
    const zed: StandInUser = { id: 5009, login: "zed", name: "𝒵🚀".repeat(2600), installations: [] };
    const client = new WebClient(amistio.url);
    const { response } = await client.githubSignIn(github, zed);
    expect(response.status).toBe(303);
    const user = await db().user.findUniqueOrThrow({ where: { githubId: 5009n } });
    expect(Array.from(user.name!)).toHaveLength(200);
    expect(user.name).toBe("𝒵🚀".repeat(100));
    const page = await client.page("/account");
    expect(page.status).toBe(200);
    expect(page.html).toContain("𝒵🚀".repeat(100));
  });

  it("refuses to link an identity that belongs to someone else, changing nothing", async () => {
    const bobClient = new WebClient(amistio.url);
    await bobClient.githubSignIn(github, bob);
    const before = await db().identity.findMany({ orderBy: { id: "asc" } });
    const { response } = await bobClient.githubSignIn(github, alice, "/auth/github?link=1");
    expect(response.status).toBe(409);
    expect(await response.text()).toContain("already linked to another Amistio account");
    expect(await db().identity.findMany({ orderBy: { id: "asc" } })).toEqual(before);
    expect((await bobClient.get("/account")).status).toBe(200);
  });

  it("rate-limits the sign-in endpoints", async () => {
    const client = new WebClient(amistio.url);
    const statuses: number[] = [];
    for (let i = 0; i < 35; i++) statuses.push((await client.get("/auth/oidc")).status);
    expect(statuses.slice(0, 30).every((status) => status === 404)).toBe(true); // OIDC is not configured here
    const limited = await client.get("/auth/oidc");
    expect(limited.status).toBe(429);
    expect(await limited.text()).toContain("Too many sign-in attempts");
  });
});

describe("sessions", () => {
  it("treats a tampered cookie as no session and says so", async () => {
    const client = new WebClient(amistio.url);
    await client.githubSignIn(github, bob);
    const value = client.cookies.get("amistio_session")!;
    const flipped = `${value[0] === "A" ? "B" : "A"}${value.slice(1)}`;
    client.cookies.set("amistio_session", flipped);
    const response = await client.get("/account");
    expect(response.status).toBe(401);
    expect(await response.text()).toContain("could not be read");
    // The bad cookie is cleared.
    expect(client.cookies.has("amistio_session")).toBe(false);
  });

  it("ends a session 24 hours after sign-in", async () => {
    const bobId = (await db().user.findUniqueOrThrow({ where: { githubId: 5002n } })).id;
    const client = new WebClient(amistio.url);
    const old = await signedInCookie(db(), SESSION_SECRET, bobId, {
      createdAt: new Date(Date.now() - 25 * 60 * 60 * 1000),
    });
    client.cookies.set("amistio_session", old.cookie);
    const response = await client.get("/workspaces");
    expect(response.status).toBe(401);
    expect(await response.text()).toContain("Your session expired");
    // The expired row is gone with it.
    expect(await db().webSession.count({ where: { id: old.sessionId } })).toBe(0);

    const fresh = await signedInCookie(db(), SESSION_SECRET, bobId);
    client.cookies.set("amistio_session", fresh.cookie);
    expect((await client.get("/workspaces")).status).toBe(200);
  });

  it("refuses a cookie of the old kind, which named a user instead of a session", async () => {
    const bobId = (await db().user.findUniqueOrThrow({ where: { githubId: 5002n } })).id;
    const client = new WebClient(amistio.url);
    client.cookies.set(
      "amistio_session",
      await forgeSessionCookie(SESSION_SECRET, { userId: bobId, signedInAt: Date.now() }),
    );
    const response = await client.get("/account");
    expect(response.status).toBe(401);
    expect(client.cookies.has("amistio_session")).toBe(false);
  });

  it("refuses forms without a valid CSRF token and changes nothing", async () => {
    const client = new WebClient(amistio.url);
    await client.githubSignIn(github, bob);
    const before = await db().user.findUniqueOrThrow({ where: { githubId: 5002n } });
    const missing = await client.post("/account/profile", { name: "Mallory" });
    expect(missing.status).toBe(403);
    expect(await missing.text()).toContain("Form expired");
    const wrong = await client.post("/account/profile", { name: "Mallory", _csrf: "not-a-token" });
    expect(wrong.status).toBe(403);
    const deletion = await client.post("/account/delete", { confirm: "bob" });
    expect(deletion.status).toBe(403);
    const after = await db().user.findUniqueOrThrow({ where: { githubId: 5002n } });
    expect(after).toEqual(before);
  });

  it("signs out, and the old cookie no longer works after the account is gone", async () => {
    const client = new WebClient(amistio.url);
    await client.githubSignIn(github, bob);
    const signedOut = await client.submit("/account", "/auth/sign-out", {});
    expect(signedOut.status).toBe(303);
    expect(client.cookies.has("amistio_session")).toBe(false);
    expect((await client.get("/account")).status).toBe(401);
  });

  it("sends strict security headers on pages", async () => {
    const response = await fetch(`${amistio.url}/`);
    const csp = response.headers.get("content-security-policy")!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("form-action 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain("unsafe-inline");
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    expect(response.headers.get("referrer-policy")).toBe("no-referrer");
    // Plain http here: no HSTS.
    expect(response.headers.get("strict-transport-security")).toBeNull();
    // The webhook intake and health checks are not pages and keep their own answers.
    expect((await fetch(`${amistio.url}/healthz`)).headers.get("content-security-policy")).toBeNull();
  });
});

describe("workspaces", () => {
  it("lets no one open a workspace they cannot reach", async () => {
    const acme = await db().workspace.findUniqueOrThrow({ where: { installationId: 92n } });
    const client = new WebClient(amistio.url);
    await client.githubSignIn(github, bob);
    for (const path of [`/workspaces/${acme.id}`, `/workspaces/${acme.id}/audit`, "/workspaces/does-not-exist"]) {
      const response = await client.get(path);
      expect(response.status, path).toBe(404);
      expect(await response.text()).not.toContain("acme");
    }
    const aliceClient = new WebClient(amistio.url);
    await aliceClient.githubSignIn(github, alice);
    expect((await aliceClient.get(`/workspaces/${acme.id}`)).status).toBe(200);
    expect((await aliceClient.get(`/workspaces/${acme.id}?after=garbage`)).status).toBe(400);
  });

  it("refreshes an expired GitHub token (single use) before asking for installations again", async () => {
    const client = new WebClient(amistio.url);
    await client.githubSignIn(github, bob);
    const bobUser = await db().user.findUniqueOrThrow({ where: { githubId: 5002n } });
    await db().identity.updateMany({ where: { userId: bobUser.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    github.signInAs({
      ...bob,
      installations: [...bob.installations, { id: 94, account: { id: 7002, login: "globex", type: "Organization" } }],
    });
    const refreshesBefore = github.refreshes;
    const response = await client.submit("/workspaces", "/workspaces/refresh", {});
    expect(response.status).toBe(303);
    expect(github.refreshes).toBe(refreshesBefore + 1);
    const identity = await db().identity.findFirstOrThrow({ where: { userId: bobUser.id } });
    expect(identity.expiresAt!.getTime()).toBeGreaterThan(Date.now());
    const memberships = await db().membership.findMany({ where: { userId: bobUser.id }, include: { workspace: true } });
    expect(memberships.map((m) => [m.workspace.accountLogin, m.role]).sort()).toEqual([
      ["bob", "admin"],
      ["globex", "member"],
    ]);
    const audit = await db().auditEvent.findFirst({
      where: { actorId: bobUser.auditPseudonym, action: "memberships.refreshed" },
    });
    expect(audit).not.toBeNull();
    github.signInAs(bob);
  });
});

describe("account data", () => {
  it("keeps a unicode name intact, escapes it, and refuses a 10 KB name without changing anything", async () => {
    const client = new WebClient(amistio.url);
    await client.githubSignIn(github, bob);
    const name = "Zoë Ñandú 🚀 <b>&amp;</b> 名前";
    expect((await client.submit("/account", "/account/profile", { name, email: "bob@example.org" })).status).toBe(303);
    const page = await client.page("/account");
    expect(page.html).toContain("Zoë Ñandú 🚀 &lt;b&gt;&amp;amp;&lt;/b&gt; 名前");
    expect(page.html).not.toContain("<b>&amp;</b>");

    const tooLong = await client.submit("/account", "/account/profile", { name: "x".repeat(10 * 1024), email: "" });
    expect(tooLong.status).toBe(400);
    expect(await tooLong.text()).toContain("longer than 200 characters");
    const user = await db().user.findUniqueOrThrow({ where: { githubId: 5002n } });
    expect(user.name).toBe(name);
    expect(user.email).toBe("bob@example.org");
    const audit = await db().auditEvent.findMany({
      where: { actorId: user.auditPseudonym, action: "account.updated" },
    });
    expect(audit).toHaveLength(1);
    expect(JSON.parse(audit[0]!.data)).toEqual({ fields: ["name", "email"] });
  });

  it("exports everything held about the person, without tokens", async () => {
    const client = new WebClient(amistio.url);
    await client.githubSignIn(github, alice);
    const aliceUser = await db().user.findUniqueOrThrow({ where: { githubId: 5001n } });
    const workspace = await db().workspace.findUniqueOrThrow({ where: { installationId: 92n } });
    const repository = await db().repository.create({
      data: { workspaceId: workspace.id, githubId: 880001n, fullName: "acme/rocket" },
    });
    const task = await db().task.create({
      data: {
        workspaceId: workspace.id,
        repositoryId: repository.id,
        number: 7,
        title: "Add a launch checklist",
        requesterId: aliceUser.id,
      },
    });
    const plan = await db().planVersion.create({
      data: { taskId: task.id, version: 1, contentHash: "a".repeat(64), content: {}, source: "offline" },
    });
    await db().approval.create({
      data: { planVersionId: plan.id, approverId: aliceUser.id, contentHash: plan.contentHash, permission: "admin" },
    });
    await client.submit("/privacy/requests", "/privacy/requests", { kind: "access", details: "What do you hold?" });

    const response = await client.submit("/account", "/account/export", {});
    expect(response.status).toBe(200);
    expect(response.headers.get("content-disposition")).toMatch(
      /^attachment; filename="amistio-data-\d{4}-\d\d-\d\d\.json"$/,
    );
    const text = await response.text();
    const data = JSON.parse(text);
    expect(data.profile).toMatchObject({
      id: aliceUser.id,
      login: "alice",
      githubId: "5001",
      email: "alice@example.org",
    });
    expect(data.identities).toEqual([
      { provider: "github", subject: "5001", email: "alice@example.org", createdAt: expect.any(String) },
    ]);
    expect(data.workspaces.map((w: { account: string }) => w.account).sort()).toEqual(["acme", "alice"]);
    expect(data.tasksRequested).toMatchObject([
      { id: task.id, repository: "acme/rocket", number: 7, title: "Add a launch checklist" },
    ]);
    expect(data.approvalsGiven).toMatchObject([{ taskId: task.id, version: 1, permission: "admin" }]);
    expect(data.privacyRequests).toMatchObject([{ kind: "access", details: "What do you hold?", status: "open" }]);
    expect(data.auditEvents.map((e: { action: string }) => e.action)).toContain("privacy_request.created");
    // No token, sealed or not, in the file.
    expect(text).not.toMatch(/accessToken|refreshToken|ghu_|ghr_/);
    const identity = await db().identity.findFirstOrThrow({ where: { userId: aliceUser.id } });
    expect(text).not.toContain(identity.accessToken!);
    expect(
      await db().auditEvent.count({ where: { actorId: aliceUser.auditPseudonym, action: "account.exported" } }),
    ).toBe(1);
  });

  it("deletes the account when the login is typed, revokes the grant, keeps the audit chain, and a new sign-in starts empty", async () => {
    const client = new WebClient(amistio.url);
    await client.githubSignIn(github, alice);
    const aliceUser = await db().user.findUniqueOrThrow({ where: { githubId: 5001n } });

    const wrong = await client.submit("/account", "/account/delete", { confirm: "ALICE" });
    expect(wrong.status).toBe(400);
    expect(await wrong.text()).toContain("Nothing was deleted");
    expect(await db().user.count({ where: { id: aliceUser.id } })).toBe(1);

    const deleted = await client.submit("/account", "/account/delete", { confirm: "alice" });
    expect(deleted.status).toBe(200);
    expect(await deleted.text()).toContain("Your account was deleted");
    expect(client.cookies.has("amistio_session")).toBe(false);
    expect(github.revokedGrants).toContain(5001);
    expect(github.liveTokens(5001)).toEqual([]);
    expect(await db().user.count({ where: { id: aliceUser.id } })).toBe(0);
    expect(await db().identity.count({ where: { userId: aliceUser.id } })).toBe(0);
    expect(await db().membership.count({ where: { userId: aliceUser.id } })).toBe(0);
    expect(await db().privacyRequest.count({ where: { userId: aliceUser.id } })).toBe(0);
    const task = await db().task.findFirstOrThrow({ where: { number: 7 } });
    expect(task.requesterId).toBeNull();
    expect(await db().approval.count({ where: { approverId: null } })).toBe(1);
    const last = await db().auditEvent.findFirstOrThrow({ orderBy: { seq: "desc" } });
    expect(last).toMatchObject({ action: "account.deleted", actorId: aliceUser.auditPseudonym, target: null });
    expect(last.data).not.toContain("alice");
    // Nothing left maps the pseudonym back to her, and no event names her internal id.
    expect(await db().user.count({ where: { auditPseudonym: aliceUser.auditPseudonym } })).toBe(0);
    const trail = JSON.stringify(await db().auditEvent.findMany());
    expect(trail).not.toContain(aliceUser.id);
    expect(await verifyAuditChain(db())).toMatchObject({ ok: true });

    const again = new WebClient(amistio.url);
    await again.githubSignIn(github, alice);
    const fresh = await db().user.findUniqueOrThrow({ where: { githubId: 5001n } });
    expect(fresh.id).not.toBe(aliceUser.id);
    const exported = JSON.parse(await (await again.submit("/account", "/account/export", {})).text());
    expect(exported.tasksRequested).toEqual([]);
    expect(exported.approvalsGiven).toEqual([]);
    expect(exported.privacyRequests).toEqual([]);
    expect(exported.auditEvents.map((e: { action: string }) => e.action)).toEqual([
      "account.created",
      "session.signed_in",
    ]);
  });
});

describe("behind HTTPS", () => {
  it("marks the cookie Secure, sends HSTS and builds callbacks from AMISTIO_PUBLIC_URL", async () => {
    const secure = await startTestAmistio({
      env: {
        ...github.env,
        SESSION_SECRET,
        AMISTIO_PUBLIC_URL: "https://amistio.example",
      },
    });
    try {
      const client = new WebClient(secure.url);
      const started = await client.get("/auth/github?returnTo=/account");
      expect(new URL(started.headers.get("location")!).searchParams.get("redirect_uri")).toBe(
        "https://amistio.example/auth/github/callback",
      );
      const cookie = client.setCookies.at(-1)!;
      expect(cookie.attributes.has("secure")).toBe(true);
      expect(cookie.attributes.has("httponly")).toBe(true);
      expect(cookie.attributes.get("samesite")?.toLowerCase()).toBe("lax");
      const home = await fetch(`${secure.url}/`);
      expect(home.headers.get("strict-transport-security")).toContain("max-age=31536000");
      expect(home.headers.get("content-security-policy")).toContain("upgrade-insecure-requests");
    } finally {
      await secure.close();
    }
  });
});
