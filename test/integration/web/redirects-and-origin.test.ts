import { request as httpRequest } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GithubStandIn, type StandInUser, startGithubStandIn } from "../../e2e/support/github-stand-in.ts";
import { WebClient } from "../../e2e/support/web-client.ts";
import { startTestAmistio, type TestAmistio } from "../../helpers/test-amistio.ts";

// Its own instance: the sign-in endpoints are rate-limited per address, and these tests sign in often.
const dora: StandInUser = { id: 5301, login: "dora", name: "Dora", installations: [] };

let github: GithubStandIn;
let amistio: TestAmistio;

beforeAll(async () => {
  github = await startGithubStandIn();
  amistio = await startTestAmistio({
    env: { ...github.env, SESSION_SECRET: "redirects-and-origin-test-secret-0123456789" },
  });
});

afterAll(async () => {
  await amistio?.close();
  await github?.close();
});

/** A GET with whatever Host header a test wants (fetch does not let one set it). */
function rawGet(
  base: string,
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; location: string | undefined }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const request = httpRequest({ host: hostname, port, path, method: "GET", headers }, (response) => {
      response.resume();
      response.on("end", () => resolve({ status: response.statusCode!, location: response.headers.location }));
    });
    request.on("error", reject);
    request.end();
  });
}

describe("where sign-in sends the browser back to", () => {
  it("goes back only to a same-site path after normalisation, and sends the normalised path", async () => {
    for (const [returnTo, expected] of [
      // Dot segments that normalise to a protocol-relative `//host` (issue 12, item 3).
      ["/.//evil.com", "/workspaces"],
      ["/%2e//evil.com", "/workspaces"],
      ["/%2E%2E//evil.com", "/workspaces"],
      ["/a/..//evil.com", "/workspaces"],
      ["/..//evil.com", "/workspaces"],
      ["/a/b/../..//evil.com/x?y=1", "/workspaces"],
      ["/./\\evil.com", "/workspaces"],
      ["/\tevil.com", "/workspaces"],
      ["/.//auth/github", "/workspaces"],
      ["/%2e/auth/github/callback", "/workspaces"],
      // Percent-encoded slashes stay encoded: a path on this site.
      ["/%5C%5Cevil.com", "/%5C%5Cevil.com"],
      ["/%2F%2Fevil.com", "/%2F%2Fevil.com"],
      ["/./account?tab=1", "/account?tab=1"],
      ["/a/../privacy", "/privacy"],
      ["/%2e%2e/%2e%2e/account", "/account"],
    ]) {
      const client = new WebClient(amistio.url);
      const { response } = await client.githubSignIn(
        github,
        dora,
        `/auth/github?returnTo=${encodeURIComponent(returnTo!)}`,
      );
      expect(response.status, returnTo).toBe(303);
      const location = response.headers.get("location")!;
      expect(location, returnTo).toBe(expected);
      // Whatever a browser makes of it, it stays on this site.
      expect(new URL(location, amistio.url).origin, returnTo).toBe(amistio.url);
    }
  });

  it("does not bounce a signed-in person off-site from the sign-in start either", async () => {
    const client = new WebClient(amistio.url);
    await client.githubSignIn(github, dora);
    for (const returnTo of ["/.//evil.com", "/%2e//evil.com", "/a/..//evil.com", "/..//evil.com", "//evil.com"]) {
      const response = await client.get(`/auth/github?returnTo=${encodeURIComponent(returnTo)}`);
      expect(response.status, returnTo).toBe(303);
      expect(response.headers.get("location"), returnTo).toBe("/workspaces");
    }
  });
});

describe("the OAuth redirect_uri without AMISTIO_PUBLIC_URL", () => {
  it("is built from the configured address, never from a forged Host header", async () => {
    for (const headers of [
      { host: "evil.example" },
      { host: "evil.example:8443", "x-forwarded-host": "evil.example", "x-forwarded-proto": "https" },
      { host: `127.0.0.1.evil.example:${new URL(amistio.url).port}` },
    ] as Record<string, string>[]) {
      const response = await rawGet(amistio.url, "/auth/github", headers);
      expect(response.status, headers.host).toBe(302);
      const authorize = new URL(response.location!);
      expect(authorize.searchParams.get("redirect_uri"), headers.host).toBe(`${amistio.url}/auth/github/callback`);
    }
  });

  it("completes a sign-in whose callback arrives with a forged Host header against the configured address", async () => {
    const client = new WebClient(amistio.url);
    github.signInAs(dora);
    const started = await client.get("/auth/github");
    const back = new URL(
      (await fetch(started.headers.get("location")!, { redirect: "manual" })).headers.get("location")!,
    );
    expect(back.origin).toBe(amistio.url);
    const cookie = [...client.cookies].map(([name, value]) => `${name}=${value}`).join("; ");
    const done = await rawGet(amistio.url, `${back.pathname}${back.search}`, { host: "evil.example", cookie });
    // The code was issued for the configured redirect_uri; the token exchange sends that same one.
    expect(done.status).toBe(303);
    expect(done.location).toBe("/workspaces");
  });
});
