/// <reference lib="dom" />
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appendAuditEvent } from "../../src/audit/append-audit-event.ts";
import { startTestAmistio, type TestAmistio } from "../helpers/test-amistio.ts";
import { type GithubStandIn, type StandInUser, startGithubStandIn } from "./support/github-stand-in.ts";
import { type OidcStandIn, startOidcStandIn } from "./support/oidc-stand-in.ts";

const SCREENSHOTS = "test-results/screenshots";
const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

const erin: StandInUser = {
  id: 8001,
  login: "erin",
  name: "Erin Ødegård",
  email: "erin@example.org",
  installations: [{ id: 501, account: { id: 9001, login: "umbrella", type: "Organization" } }],
  adminOf: ["umbrella"],
};

let github: GithubStandIn;
let oidc: OidcStandIn;
let amistio: TestAmistio;
let browser: Browser;
let erinContext: BrowserContext;
let erinPage: Page;
let workspaceId: string;

const db = () => amistio.database.db;

/** What webhooks would have stored before Erin ever signs in: her commands, approvals and runs. */
async function seedWorkspace() {
  const person = await db().user.create({ data: { githubId: 8001n, login: "erin" } });
  const approver = await db().user.create({ data: { githubId: 8003n, login: "grace" } });
  const workspace = await db().workspace.create({
    data: { installationId: 501n, accountLogin: "umbrella", accountType: "Organization", accountId: 9001n },
  });
  const repository = await db().repository.create({
    data: { workspaceId: workspace.id, githubId: 60001n, fullName: "umbrella/vaccine" },
  });
  for (let number = 1; number <= 3; number++) {
    const task = await db().task.create({
      data: {
        workspaceId: workspace.id,
        repositoryId: repository.id,
        number,
        title: `Issue ${number}: “quote” & <angle> ✓`,
        requesterId: person.id,
        state: number === 1 ? "done" : "awaiting_approval",
        createdAt: new Date(Date.UTC(2027, 0, number)),
      },
    });
    await db().planVersion.create({
      data: {
        taskId: task.id,
        version: 1,
        contentHash: "1".repeat(64),
        content: {},
        source: "offline",
        status: "superseded",
      },
    });
    const v2 = await db().planVersion.create({
      data: {
        taskId: task.id,
        version: 2,
        contentHash: `${number}`.repeat(64),
        content: {},
        source: "openai",
        status: "approved",
      },
    });
    await db().approval.create({
      data: { planVersionId: v2.id, approverId: approver.id, contentHash: v2.contentHash, permission: "write" },
    });
    await db().run.create({
      data: {
        taskId: task.id,
        planVersionId: v2.id,
        contentHash: v2.contentHash,
        status: "completed",
        conclusion: "success",
        runnerName: "runner-1",
        htmlUrl: "https://github.com/umbrella/vaccine/actions/runs/1",
        pullRequestUrl: "javascript:alert(1)", // never rendered as a link
      },
    });
    await appendAuditEvent(db(), {
      workspaceId: workspace.id,
      actorPseudonym: approver.auditPseudonym,
      action: "approval.granted",
      target: `task:${task.id}`,
    });
  }
  return workspace.id;
}

/** Walks the provider's development login and consent pages until the browser is back at Amistio. */
async function oidcLogin(page: Page, login: string) {
  for (let step = 0; step < 4 && !page.url().startsWith(amistio.url); step++) {
    const loginField = page.locator('input[name="login"]');
    if (await loginField.isVisible()) {
      await loginField.fill(login);
      await page.fill('input[name="password"]', "any password");
      await Promise.all([
        page.waitForURL((url) => !url.pathname.includes("/login")),
        page.click("button[type=submit]"),
      ]);
    } else {
      await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
    }
  }
  expect(page.url().startsWith(amistio.url)).toBe(true);
}

async function shoot(page: Page, name: string) {
  await page.screenshot({ path: `${SCREENSHOTS}/${name}.png`, fullPage: true });
}

async function axeViolations(page: Page): Promise<string[]> {
  // Evaluated through the DevTools protocol, so the page's CSP (no inline scripts) need not be loosened.
  await page.evaluate(axeSource);
  return page.evaluate(async () => {
    const axe = (
      window as unknown as { axe: { run(): Promise<{ violations: { id: string; nodes: { target: string[] }[] }[] }> } }
    ).axe;
    const result = await axe.run();
    return result.violations.map(
      (violation) => `${violation.id}: ${violation.nodes.map((node) => node.target.join(" ")).join(", ")}`,
    );
  });
}

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  github = await startGithubStandIn();
  oidc = await startOidcStandIn();
  amistio = await startTestAmistio({
    env: {
      // GitHub Enterprise Server's route: both the web URL and /api/v3 point at the stand-in.
      ...github.env,
      OIDC_ISSUER: oidc.issuer,
      OIDC_CLIENT_ID: oidc.clientId,
      OIDC_CLIENT_SECRET: oidc.clientSecret,
      OIDC_NAME: "Test ID",
      AMISTIO_PRIVACY_CONTACT: "privacy@amistio.example",
    },
  });
  oidc.configure(`${amistio.url}/auth/oidc/callback`);
  workspaceId = await seedWorkspace();
  // playwright-core starts Chromium with a fresh temporary user-data-dir of its own.
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
  erinContext = await browser.newContext({ acceptDownloads: true });
  erinPage = await erinContext.newPage();
});

afterAll(async () => {
  await browser?.close();
  await amistio?.close();
  await oidc?.close();
  await github?.close();
});

describe("the web, in a real browser", () => {
  it("signs in with GitHub, shows the workspace's tasks, plans, approvals, runs and verified audit log, and links OpenID Connect", async () => {
    const page = erinPage;
    await page.goto(amistio.url);
    await expect.poll(() => page.locator("h1").textContent()).toBe("Amistio");
    await shoot(page, "home");
    await page.goto(`${amistio.url}/privacy`);
    expect(await page.textContent("main")).toContain("privacy@amistio.example");
    await shoot(page, "privacy-policy");

    await page.goto(amistio.url);
    github.signInAs(erin);
    await Promise.all([page.waitForURL(`${amistio.url}/workspaces`), page.click("text=Sign in with GitHub")]);
    expect(await page.textContent("h1")).toBe("Your workspaces");
    await shoot(page, "workspaces");

    await Promise.all([page.waitForURL(`**/workspaces/${workspaceId}`), page.click("a:text('umbrella')")]);
    const main = (await page.textContent("main"))!;
    expect(main).toContain("umbrella/vaccine#3: Issue 3: “quote” & <angle> ✓");
    expect(main).toContain("requested by erin"); // the webhook-era user was adopted at sign-in
    expect(main).toContain("grace (write)");
    expect(main).toContain("completed (success)");
    expect(await page.locator('a[href^="javascript:"]').count()).toBe(0);
    await shoot(page, "workspace");

    await Promise.all([page.waitForURL("**/audit"), page.click("text=Audit log")]);
    expect(await page.textContent("#chain-status")).toContain("Verified: all");
    expect(await page.locator("tbody tr").count()).toBeGreaterThanOrEqual(3);
    await shoot(page, "audit-log");

    const cookies = await erinContext.cookies(amistio.url);
    expect(cookies.map((cookie) => cookie.name)).toEqual(["amistio_session"]);
    expect(cookies[0]).toMatchObject({ httpOnly: true, sameSite: "Lax", secure: false, path: "/" });

    await page.goto(`${amistio.url}/account`);
    await page.click("text=Link Test ID");
    await oidcLogin(page, "erin-oidc");
    await page.waitForURL(`${amistio.url}/account`);
    const identities = (await page.textContent("#identities + table"))!;
    expect(identities).toContain("GitHub");
    expect(identities).toContain("Test ID");
    expect(identities).toContain("erin-oidc");
    await shoot(page, "account");

    await page.goto(`${amistio.url}/privacy/requests`);
    await page.selectOption("#kind", "object");
    await page.fill("#details", "Please do not send my comments to an AI provider.");
    await Promise.all([page.waitForURL("**/privacy/requests"), page.click("text=Send request")]);
    expect(await page.textContent("main")).toContain("Please do not send my comments to an AI provider.");
    await shoot(page, "privacy-requests");
  });

  it("keeps the chosen theme across a reload, and local storage holds only the theme and onboarding state", async () => {
    const page = erinPage;
    await page.goto(`${amistio.url}/workspaces`);
    const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const light = await background();
    await page.click("#theme-toggle");
    expect(await page.getAttribute("html", "data-theme")).toBe("dark");
    const dark = await background();
    expect(dark).not.toBe(light);
    await page.click("#onboarding-dismiss");
    expect(await page.isVisible("#onboarding")).toBe(false);

    await page.reload();
    expect(await page.getAttribute("html", "data-theme")).toBe("dark");
    expect(await background()).toBe(dark);
    expect(await page.isVisible("#onboarding")).toBe(false);
    await page.goto(`${amistio.url}/workspaces/${workspaceId}`);
    await shoot(page, "workspace-dark");

    const storage = await page.evaluate(() => Object.keys(localStorage).sort());
    expect(storage).toEqual(["amistio.onboarding", "amistio.theme"]);
  });

  it("passes axe's accessibility checks on every main page in both themes", async () => {
    const page = erinPage;
    const paths = [
      "/",
      "/privacy",
      "/account",
      "/privacy/requests",
      "/workspaces",
      `/workspaces/${workspaceId}`,
      `/workspaces/${workspaceId}/audit`,
    ];
    for (const theme of ["dark", "light"]) {
      await page.evaluate((value) => localStorage.setItem("amistio.theme", value), theme);
      for (const path of paths) {
        await page.goto(`${amistio.url}${path}`);
        expect(await axeViolations(page), `${theme} ${path}`).toEqual([]);
      }
    }
  });

  it("refuses a form posted without its CSRF token, and changes nothing", async () => {
    const page = erinPage;
    await page.goto(`${amistio.url}/account`);
    await page.evaluate(() => document.querySelector('form[action="/account/profile"] input[name="_csrf"]')?.remove());
    await page.fill("#name", "Someone Else");
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith("/account/profile")),
      page.click("text=Save details"),
    ]);
    expect(response.status()).toBe(403);
    expect(await page.textContent("h1")).toBe("Form expired");
    expect((await db().user.findUniqueOrThrow({ where: { githubId: 8001n } })).name).toBe("Erin Ødegård");
  });

  it("shows who is signed in, and signing out ends the session even for a copy of the cookie", async () => {
    const context = await browser.newContext();
    const copy = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(amistio.url);
      github.signInAs(erin);
      await Promise.all([page.waitForURL(`${amistio.url}/workspaces`), page.click("text=Sign in with GitHub")]);
      expect(await page.textContent("#signed-in-as")).toBe("erin");
      const stolen = (await context.cookies(amistio.url)).filter((cookie) => cookie.name === "amistio_session");
      expect(stolen).toHaveLength(1);

      await Promise.all([page.waitForURL(`${amistio.url}/`), page.click("header >> text=Sign out")]);
      expect(await page.locator("#signed-in-as").count()).toBe(0);

      await copy.addCookies(stolen);
      const other = await copy.newPage();
      const response = await other.goto(`${amistio.url}/account`);
      expect(response!.status()).toBe(401);
      expect(await other.textContent("main")).toContain("Your session has ended");
      // Erin's first browser, signed in separately, is not affected.
      expect((await erinPage.goto(`${amistio.url}/account`))!.status()).toBe(200);
    } finally {
      await copy.close();
      await context.close();
    }
  });

  it("keeps other people out of the workspace and refuses to link an identity that is someone else's", async () => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(amistio.url);
      await page.click("text=Sign in with Test ID");
      await oidcLogin(page, "frank-oidc");
      await page.waitForURL(`${amistio.url}/workspaces`);
      expect(await page.textContent("main")).toContain("link your GitHub account");

      const denied = await page.goto(`${amistio.url}/workspaces/${workspaceId}`);
      expect(denied!.status()).toBe(404);
      expect(await page.textContent("main")).not.toContain("umbrella");
      const audit = await page.goto(`${amistio.url}/workspaces/${workspaceId}/audit`);
      expect(audit!.status()).toBe(404);

      // Frank tries to attach Erin's GitHub account to his own.
      github.signInAs(erin);
      await page.goto(`${amistio.url}/account`);
      const [response] = await Promise.all([
        page.waitForResponse((r) => r.url().includes("/auth/github/callback")),
        page.click("text=Link GitHub"),
      ]);
      expect(response.status()).toBe(409);
      expect(await page.textContent("main")).toContain("already linked to another Amistio account");
      const frankUser = await db().identity.findFirstOrThrow({ where: { subject: "frank-oidc" } });
      expect(await db().identity.count({ where: { userId: frankUser.userId } })).toBe(1);
    } finally {
      await context.close();
    }
  });

  it("exports the account's data, deletes the account, and a new sign-in starts a new, empty account", async () => {
    const page = erinPage;
    const erinUser = await db().user.findUniqueOrThrow({ where: { githubId: 8001n } });
    await page.goto(`${amistio.url}/account`);
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("text=Download my data")]);
    const exported = JSON.parse(readFileSync((await download.path())!, "utf8"));
    expect(exported.profile).toMatchObject({ id: erinUser.id, login: "erin", name: "Erin Ødegård", githubId: "8001" });
    expect(exported.identities.map((identity: { provider: string }) => identity.provider)).toEqual([
      "github",
      `${oidc.issuer}/`,
    ]);
    expect(exported.workspaces).toMatchObject([{ account: "umbrella", role: "admin" }]);
    expect(exported.tasksRequested).toHaveLength(3);
    expect(exported.privacyRequests).toMatchObject([{ kind: "object", status: "open" }]);
    expect(JSON.stringify(exported)).not.toMatch(/accessToken|refreshToken|ghu_|ghr_/);

    await page.fill("#confirm", "erin");
    await Promise.all([page.waitForURL(`${amistio.url}/account/delete`), page.click("text=Delete my account")]);
    expect(await page.textContent("h1")).toBe("Your account was deleted");
    await shoot(page, "account-deleted");
    expect(github.revokedGrants).toContain(8001);
    expect(oidc.revocations).toBeGreaterThanOrEqual(1);
    expect(await db().user.count({ where: { id: erinUser.id } })).toBe(0);
    // (The provider's own cookies share the host: cookies are not kept apart by port.)
    expect((await erinContext.cookies(amistio.url)).filter((cookie) => cookie.name === "amistio_session")).toEqual([]);

    await page.goto(amistio.url);
    await page.click("text=Sign in with Test ID");
    await oidcLogin(page, "erin-oidc");
    await page.waitForURL(`${amistio.url}/workspaces`);
    await page.goto(`${amistio.url}/account`);
    expect(await page.textContent("#identities + table")).not.toContain("GitHub");
    const [again] = await Promise.all([page.waitForEvent("download"), page.click("text=Download my data")]);
    const fresh = JSON.parse(readFileSync((await again.path())!, "utf8"));
    expect(fresh.profile.id).not.toBe(erinUser.id);
    expect(fresh).toMatchObject({ workspaces: [], tasksRequested: [], approvalsGiven: [], privacyRequests: [] });
  });
});
