import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { MEMBERSHIP_MAX_UNCONFIRMED_MS, MEMBERSHIP_RECHECK_MS } from "../../../src/web/membership-check.ts";
import { type GithubStandIn, type StandInUser, startGithubStandIn } from "../../e2e/support/github-stand-in.ts";
import { WebClient } from "../../e2e/support/web-client.ts";
import { startWebHarness, type WebHarness } from "./web-harness.ts";

const lena: StandInUser = {
  id: 5501,
  login: "lena",
  name: "Lena",
  installations: [
    { id: 701, account: { id: 5501, login: "lena", type: "User" } },
    { id: 702, account: { id: 7702, login: "wayne", type: "Organization" } },
  ],
};

let github: GithubStandIn;
let web: WebHarness;
let client: WebClient;
let wayne: string;
let own: string;

const db = () => web.database.db;
const installationCalls = () => github.requests.filter((r) => r === "GET /api/v3/user/installations").length;

beforeAll(async () => {
  github = await startGithubStandIn();
  web = await startWebHarness({ env: github.env, membershipCheckTimeoutMs: 300 });
});

afterAll(async () => {
  await web?.close();
  await github?.close();
});

beforeEach(async () => {
  github.failInstallations(undefined);
  client = new WebClient(web.url);
  await client.githubSignIn(github, lena); // GitHub lists both installations; memberships confirmed now
  wayne = (await db().workspace.findUniqueOrThrow({ where: { installationId: 702n } })).id;
  own = (await db().workspace.findUniqueOrThrow({ where: { installationId: 701n } })).id;
});

describe("access removed on GitHub", () => {
  it(`ends access here once the membership is older than ${MEMBERSHIP_RECHECK_MS / 60_000} minutes`, async () => {
    expect((await client.get(`/workspaces/${wayne}`)).status).toBe(200);
    // Someone removes Lena from the organisation's installation on GitHub.
    github.signInAs({ ...lena, installations: [lena.installations[0]!] });

    // Within the interval the confirmed answer stands, without asking GitHub at every page.
    const calls = installationCalls();
    web.clock.advance(MEMBERSHIP_RECHECK_MS - 1000);
    expect((await client.get(`/workspaces/${wayne}`)).status).toBe(200);
    expect(installationCalls()).toBe(calls);

    web.clock.advance(2000);
    const gone = await client.get(`/workspaces/${wayne}`);
    expect(gone.status).toBe(404);
    const text = await gone.text();
    expect(text).toContain("Workspace not found");
    expect(text).not.toContain("wayne");
    expect(installationCalls()).toBe(calls + 1);
    const lenaUser = await db().user.findUniqueOrThrow({ where: { githubId: 5501n } });
    expect(await db().membership.count({ where: { userId: lenaUser.id, workspaceId: wayne } })).toBe(0);
    expect((await client.get(`/workspaces/${wayne}/audit`)).status).toBe(404);
    // The same 404 as for a workspace that does not exist.
    const never = await client.get("/workspaces/no-such-workspace");
    expect(never.status).toBe(404);
    const withoutToken = (page: string) => page.replace(/name="_csrf" value="[^"]+"/g, "");
    expect(withoutToken(await never.text())).toBe(withoutToken(text));

    // What GitHub still lists is confirmed again and stays open; the list no longer shows the other.
    expect((await client.get(`/workspaces/${own}`)).status).toBe(200);
    expect((await client.page("/workspaces")).html).not.toContain(">wayne</a>");

    const line = web.logs.find((entry) => entry.reason === "no_longer_listed_by_github");
    expect(line).toMatchObject({ status: 404, workspaceId: wayne, reqId: expect.any(String) });
    const audit = await db().auditEvent.findFirstOrThrow({
      where: { actorId: lenaUser.auditPseudonym, action: "memberships.rechecked" },
      orderBy: { seq: "desc" },
    });
    expect(JSON.parse(audit.data)).toEqual({ workspaces: 1, removed: 1 });
    github.signInAs(lena);
  });

  it("asks GitHub once for pages opened at the same moment", async () => {
    web.clock.advance(MEMBERSHIP_RECHECK_MS + 1000);
    const calls = installationCalls();
    const statuses = await Promise.all(
      [wayne, wayne, own, `${wayne}/audit`].map(async (path) => (await client.get(`/workspaces/${path}`)).status),
    );
    expect(statuses).toEqual([200, 200, 200, 200]);
    expect(installationCalls()).toBe(calls + 1);
  });
});

describe("when GitHub cannot be asked", () => {
  for (const failure of [502, "hang"] as const) {
    it(`keeps a recent answer, and closes the workspace once it is over an hour old (${failure})`, async () => {
      github.failInstallations(failure);
      web.clock.advance(MEMBERSHIP_RECHECK_MS + 1000);
      const kept = await client.get(`/workspaces/${wayne}`);
      expect(kept.status).toBe(200);
      expect(web.logs.at(-1)).toMatchObject({ reason: "github_unreachable", reqId: expect.any(String) });

      web.clock.advance(MEMBERSHIP_MAX_UNCONFIRMED_MS);
      const closed = await client.get(`/workspaces/${wayne}`);
      expect(closed.status).toBe(503);
      const text = await closed.text();
      expect(text).toContain("Access could not be confirmed");
      expect(text).toContain("cannot be asked right now");
      expect(web.logs.at(-1)).toMatchObject({ status: 503, reason: "github_unreachable", reqId: expect.any(String) });
      // Nothing is removed on a non-answer.
      const lenaUser = await db().user.findUniqueOrThrow({ where: { githubId: 5501n } });
      expect(await db().membership.count({ where: { userId: lenaUser.id } })).toBe(2);
      const list = await client.page("/workspaces");
      expect(list.html).not.toContain(">wayne</a>");
      expect(list.html).toContain("Some workspaces are hidden");

      // GitHub answers again: the workspace opens again.
      github.failInstallations(undefined);
      expect((await client.get(`/workspaces/${wayne}`)).status).toBe(200);
    });
  }

  it("closes an old membership when Amistio holds no usable GitHub token", async () => {
    const lenaUser = await db().user.findUniqueOrThrow({ where: { githubId: 5501n } });
    await db().identity.updateMany({
      where: { userId: lenaUser.id },
      data: { accessToken: null, refreshToken: null, expiresAt: null },
    });
    web.clock.advance(MEMBERSHIP_RECHECK_MS + 1000);
    expect((await client.get(`/workspaces/${wayne}`)).status).toBe(200);
    web.clock.advance(MEMBERSHIP_MAX_UNCONFIRMED_MS);
    const closed = await client.get(`/workspaces/${wayne}`);
    expect(closed.status).toBe(403);
    expect(await closed.text()).toContain("sign in with GitHub");
  });
});
