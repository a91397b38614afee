import { createHash, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface StandInInstallation {
  id: number;
  account: { id: number; login: string; type: "User" | "Organization" };
}

export interface StandInUser {
  id: number;
  login: string;
  name?: string | null;
  email?: string | null;
  installations: StandInInstallation[];
  /** Organisations this person administers. */
  adminOf?: string[];
}

interface Grant {
  user: StandInUser;
  revoked: boolean;
}

export interface GithubStandIn {
  /** http://127.0.0.1:<port>, the value of the web URL; the API is under /api/v3. */
  url: string;
  clientId: string;
  clientSecret: string;
  /** The settings that point Amistio's GitHub sign-in and API at this stand-in (GitHub Enterprise Server's route). */
  env: { GHE_HOST: string; GHE_PROTOCOL: "http"; GITHUB_CLIENT_ID: string; GITHUB_CLIENT_SECRET: string };
  /**
   * Who the next authorisation approves as (GitHub's own sign-in page is not played); also what
   * GitHub now says about that person to tokens already issued (e.g. a new installation).
   */
  signInAs(user: StandInUser): void;
  /** The next authorisation answers with this error instead of a code (e.g. access_denied). */
  failNext(error: string): void;
  /**
   * Until called again with undefined, `GET /user/installations` answers with this HTTP status, or
   * never answers ("hang"), as when GitHub is down or unreachable.
   */
  failInstallations(mode: number | "hang" | undefined): void;
  /** Access tokens currently valid, per user id. */
  liveTokens(userId: number): string[];
  /** Grants revoked through DELETE /applications/{client_id}/grant, by user id. */
  revokedGrants: number[];
  refreshes: number;
  /** Every request, as "METHOD path". */
  requests: string[];
  close(): Promise<void>;
}

const TOKEN_LIFETIME_S = 8 * 60 * 60;

/**
 * A local server playing the parts of GitHub that Amistio's sign-in uses: the App's user
 * authorisation (with PKCE S256 checked), the token endpoint (codes, single-use refresh tokens),
 * GET /user, /user/installations, /user/memberships/orgs/{org} and the grant deletion. It answers
 * errors the way GitHub does (HTTP 200 with an `error` field from the token endpoint).
 */
export async function startGithubStandIn(): Promise<GithubStandIn> {
  const clientId = "Iv1.standin0000000001";
  const clientSecret = randomBytes(20).toString("hex");
  let nextUser: StandInUser | undefined;
  let nextError: string | undefined;
  let installationsFailure: number | "hang" | undefined;
  const codes = new Map<string, { grant: Grant; challenge: string; redirectUri: string; used: boolean }>();
  const accessTokens = new Map<string, Grant>();
  const refreshTokens = new Map<string, { grant: Grant; used: boolean }>();
  const grants = new Map<number, Grant>();
  const requests: string[] = [];
  const revokedGrants: number[] = [];
  let refreshes = 0;

  const issue = (grant: Grant) => {
    const access = `ghu_${randomBytes(18).toString("hex")}`;
    const refresh = `ghr_${randomBytes(30).toString("hex")}`;
    accessTokens.set(access, grant);
    refreshTokens.set(refresh, { grant, used: false });
    return {
      access_token: access,
      expires_in: TOKEN_LIFETIME_S,
      refresh_token: refresh,
      refresh_token_expires_in: 15_897_600,
      scope: "",
      token_type: "bearer",
    };
  };
  const json = (response: ServerResponse, status: number, body: unknown) => {
    response.writeHead(status, { "content-type": "application/json; charset=utf-8" });
    response.end(JSON.stringify(body));
  };
  const userOf = (request: IncomingMessage) => {
    const token = /^(?:Bearer|token) (\S+)$/i.exec(request.headers.authorization ?? "")?.[1];
    const grant = token ? accessTokens.get(token) : undefined;
    return grant && !grant.revoked ? grant.user : undefined;
  };

  async function handle(request: IncomingMessage, response: ServerResponse) {
    const url = new URL(request.url ?? "/", "http://stand-in");
    requests.push(`${request.method} ${url.pathname}`);
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");

    if (request.method === "GET" && url.pathname === "/login/oauth/authorize") {
      const query = url.searchParams;
      const redirectUri = query.get("redirect_uri");
      if (query.get("client_id") !== clientId || !redirectUri) return json(response, 400, { error: "bad client" });
      const back = new URL(redirectUri);
      back.searchParams.set("state", query.get("state") ?? "");
      if (nextError) {
        back.searchParams.set("error", nextError);
        back.searchParams.set("error_description", "The user has denied your application access.");
        nextError = undefined;
      } else {
        // Amistio must use PKCE with S256: anything else is refused here.
        if (query.get("code_challenge_method") !== "S256" || !query.get("code_challenge") || !query.get("state")) {
          return json(response, 400, { error: "PKCE S256 and state are required by this stand-in" });
        }
        if (!nextUser) return json(response, 500, { error: "the test did not say who signs in" });
        const grant = grants.get(nextUser.id) ?? { user: nextUser, revoked: false };
        grant.user = nextUser;
        grant.revoked = false;
        grants.set(nextUser.id, grant);
        const code = randomBytes(10).toString("hex");
        codes.set(code, { grant, challenge: query.get("code_challenge")!, redirectUri, used: false });
        back.searchParams.set("code", code);
      }
      response.writeHead(302, { location: back.href });
      return response.end();
    }

    if (request.method === "POST" && url.pathname === "/login/oauth/access_token") {
      const form = new URLSearchParams(body);
      if (form.get("client_id") !== clientId || form.get("client_secret") !== clientSecret) {
        return json(response, 200, { error: "incorrect_client_credentials" });
      }
      if (form.get("grant_type") === "refresh_token") {
        const entry = refreshTokens.get(form.get("refresh_token") ?? "");
        if (!entry || entry.used || entry.grant.revoked) return json(response, 200, { error: "bad_refresh_token" });
        entry.used = true;
        refreshes++;
        return json(response, 200, issue(entry.grant));
      }
      const entry = codes.get(form.get("code") ?? "");
      const verifier = form.get("code_verifier") ?? "";
      const challenge = createHash("sha256").update(verifier).digest("base64url");
      if (!entry || entry.used || entry.redirectUri !== form.get("redirect_uri") || challenge !== entry.challenge) {
        return json(response, 200, {
          error: "bad_verification_code",
          error_description: "The code passed is incorrect or expired.",
        });
      }
      entry.used = true;
      return json(response, 200, issue(entry.grant));
    }

    if (url.pathname.startsWith("/api/v3/applications/") && request.method === "DELETE") {
      const expected = `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString("base64")}`;
      if (request.headers.authorization !== expected) return json(response, 401, { message: "Bad credentials" });
      const token = (JSON.parse(body || "{}") as { access_token?: string }).access_token ?? "";
      const grant = accessTokens.get(token);
      if (!grant || grant.revoked) return json(response, 404, { message: "Not Found" });
      grant.revoked = true;
      revokedGrants.push(grant.user.id);
      response.writeHead(204);
      return response.end();
    }

    const user = userOf(request);
    if (!user) return json(response, 401, { message: "Bad credentials" });
    if (request.method === "GET" && url.pathname === "/api/v3/user") {
      return json(response, 200, {
        id: user.id,
        login: user.login,
        name: user.name ?? null,
        email: user.email ?? null,
        avatar_url: `https://avatars.example.invalid/u/${user.id}`,
        type: "User",
      });
    }
    if (request.method === "GET" && url.pathname === "/api/v3/user/installations") {
      // Left open: the server's close() ends it.
      if (installationsFailure === "hang") return;
      if (installationsFailure !== undefined) return json(response, installationsFailure, { message: "Server Error" });
      const perPage = Number(url.searchParams.get("per_page") ?? 30);
      const page = Number(url.searchParams.get("page") ?? 1);
      const slice = user.installations.slice((page - 1) * perPage, page * perPage);
      return json(response, 200, {
        total_count: user.installations.length,
        installations: slice.map((installation) => ({ ...installation, suspended_at: null })),
      });
    }
    const org = /^\/api\/v3\/user\/memberships\/orgs\/([^/]+)$/.exec(url.pathname)?.[1];
    if (request.method === "GET" && org) {
      const admin = user.adminOf?.includes(decodeURIComponent(org));
      return json(response, 200, { state: "active", role: admin ? "admin" : "member" });
    }
    return json(response, 404, { message: "Not Found" });
  }

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => json(response, 500, { message: String(error) }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    clientId,
    clientSecret,
    env: {
      GHE_HOST: `127.0.0.1:${port}`,
      GHE_PROTOCOL: "http",
      GITHUB_CLIENT_ID: clientId,
      GITHUB_CLIENT_SECRET: clientSecret,
    },
    signInAs(user) {
      nextUser = user;
      const grant = grants.get(user.id);
      if (grant) grant.user = user;
    },
    failNext(error) {
      nextError = error;
    },
    failInstallations(mode) {
      installationsFailure = mode;
    },
    liveTokens(userId) {
      return [...accessTokens.entries()]
        .filter(([, grant]) => grant.user.id === userId && !grant.revoked)
        .map(([token]) => token);
    },
    revokedGrants,
    get refreshes() {
      return refreshes;
    },
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
