import csrfProtection from "@fastify/csrf-protection";
import formbody from "@fastify/formbody";
import helmet from "@fastify/helmet";
import rateLimit from "@fastify/rate-limit";
import secureSession from "@fastify/secure-session";
import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { createGithubSignIn } from "../auth/github-sign-in.ts";
import { identityTokens } from "../auth/identity-tokens.ts";
import type { WebKeys } from "../auth/load-web-keys.ts";
import { createOidcSignIn } from "../auth/oidc-sign-in.ts";
import { createTokenVault } from "../auth/token-vault.ts";
import { listenOrigin, type WebSettings } from "../config/read-web-settings.ts";
import type { Db } from "../db/create-database.ts";
import { accountRoutes } from "./account-routes.ts";
import { createAuditChainMonitor } from "./audit-chain-monitor.ts";
import { authRoutes } from "./auth-routes.ts";
import { GITHUB_AVATAR_ORIGIN, layout } from "./layout.ts";
import { createMembershipCheck } from "./membership-check.ts";
import { homePage } from "./pages/home-page.ts";
import { messagePage } from "./pages/message-page.ts";
import { privacyPolicyPage } from "./pages/privacy-policy-page.ts";
import { privacyRequestRoutes } from "./privacy-request-routes.ts";
import type { Viewer } from "./viewer.ts";
import { webAssets } from "./web-assets.ts";
import type { WebContext } from "./web-context.ts";
import { SESSION_COOKIE, SESSION_HOURS, SESSION_MS, SESSION_SEEN_INTERVAL_MS, webSession } from "./web-session.ts";
import { workspaceRoutes } from "./workspace-routes.ts";

declare module "fastify" {
  interface FastifyRequest {
    viewer: Viewer | null;
    /** Why a session that came with the request no longer counts. */
    sessionEnded: "expired" | "invalid" | "ended" | undefined;
  }
}

export interface WebAppOptions {
  db: Db;
  logger: Logger;
  settings: WebSettings;
  keys: WebKeys;
  /** Outgoing HTTP for sign-in and GitHub's API. */
  fetch?: typeof fetch;
  now?: () => Date;
  /** How long a workspace page waits for GitHub to confirm a membership (MEMBERSHIP_CHECK_TIMEOUT_MS). */
  membershipCheckTimeoutMs?: number;
}

// Forms carry a few fields; nothing legitimate comes near this.
const FORM_BODY_LIMIT = 64 * 1024;

/**
 * The web pages: server-rendered, usable without JavaScript, behind strict security headers, with
 * encrypted cookie sessions, CSRF tokens on every form and rate-limited sign-in. Registered as its own
 * plugin so none of it touches the webhook route or the health checks.
 */
export async function webApp(app: FastifyInstance, options: WebAppOptions): Promise<void> {
  const { db, settings } = options;
  const now = options.now ?? (() => new Date());

  for (const asset of Object.values(webAssets)) {
    app.get(asset.route, (_request, reply) =>
      reply
        .header("content-type", asset.type)
        .header("cache-control", "public, max-age=31536000, immutable")
        .send(asset.body),
    );
  }

  await app.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        // People's own GitHub avatars, next to their login; nothing else from another site.
        imgSrc: ["'self'", GITHUB_AVATAR_ORIGIN],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
        ...(settings.secureCookies ? { upgradeInsecureRequests: [] } : {}),
      },
    },
    // HSTS only means something over HTTPS, and would break a plain-http development setup.
    strictTransportSecurity: settings.secureCookies ? { maxAge: 31_536_000, includeSubDomains: true } : false,
    // Nothing of a page's address (workspace ids, cursors) leaks to GitHub or the sign-in provider.
    referrerPolicy: { policy: "no-referrer" },
  });
  await app.register(rateLimit, { global: false });
  await app.register(formbody, { bodyLimit: FORM_BODY_LIMIT });
  await app.register(secureSession, {
    key: options.keys.session,
    cookieName: SESSION_COOKIE,
    expiry: SESSION_MS / 1000,
    cookie: {
      path: "/",
      httpOnly: true,
      sameSite: "lax",
      secure: settings.secureCookies,
      maxAge: SESSION_MS / 1000,
    },
  });
  await app.register(csrfProtection, { sessionPlugin: "@fastify/secure-session" });

  const boundPort = () => {
    const address = app.server.address();
    return typeof address === "object" && address !== null ? address.port : undefined;
  };
  if (!settings.publicUrl) {
    const base = listenOrigin(settings.listen, undefined);
    options.logger.warn(
      { base: settings.listen.port === 0 ? `${base}:<the port it listens on>` : base },
      "AMISTIO_PUBLIC_URL is not set: sign-in callback URLs use the address this server listens on (HOST, PORT), never a request's Host header. Set AMISTIO_PUBLIC_URL to the address people use.",
    );
  }

  const github = settings.github
    ? createGithubSignIn({ settings: settings.github, fetch: options.fetch, now })
    : undefined;
  const oidc = settings.oidc ? createOidcSignIn({ settings: settings.oidc, fetch: options.fetch, now }) : undefined;
  const vault = createTokenVault(options.keys.tokens);
  const tokens = identityTokens({ db, vault, github, oidc, logger: options.logger, now });
  const ctx: WebContext = {
    db,
    logger: options.logger,
    settings,
    now,
    github,
    oidc,
    vault,
    tokens,
    chain: createAuditChainMonitor({ db, logger: options.logger, now }),
    memberships: createMembershipCheck({ db, github, tokens, now, timeoutMs: options.membershipCheckTimeoutMs }),
    page(request, reply, page) {
      const csrfToken = request.viewer ? reply.generateCsrf() : undefined;
      const ended =
        request.sessionEnded && !request.viewer ? "Your previous session ended; sign in again to continue." : undefined;
      return reply
        .code(page.status ?? 200)
        .header("content-type", "text/html; charset=utf-8")
        .header("cache-control", "no-store")
        .send(
          layout({
            title: page.title,
            path: request.url.split("?")[0]!,
            viewer: request.viewer,
            csrfToken,
            notice: page.notice ?? ended,
            body: page.body,
          }).text,
        );
    },
    refuse(request, reply, { area, status, refused, next, details = {} }) {
      const heading = refused.summary;
      request.log[status >= 500 ? "warn" : "info"](
        { status, reason: heading, code: refused.code, ...details },
        `refused: ${area}`,
      );
      return ctx.page(request, reply, {
        status,
        title: heading,
        body: messagePage({ heading, text: refused.text, next, code: refused.code }),
      });
    },
    refusesIn: (area, next) => (request, reply, status, refused, details) =>
      ctx.refuse(request, reply, { area, status, refused, details, next: next(request) }),
    origin: () => settings.publicUrl?.origin ?? listenOrigin(settings.listen, boundPort()),
  };

  app.decorateRequest("viewer", null);
  app.decorateRequest("sessionEnded", undefined);
  app.addHook("onRequest", async (request) => {
    const sessionId = webSession.id(request);
    if (sessionId === undefined) {
      // A cookie that came but decoded to nothing was tampered with, made with another key, or too
      // old; one that names a user instead of a session row predates revocable sessions.
      const data = request.session.data() as Record<string, unknown> | undefined;
      const empty = !data || Object.keys(data).length === 0;
      if (request.cookies[SESSION_COOKIE] !== undefined && (empty || data.userId !== undefined)) {
        request.sessionEnded = "invalid";
        request.session.delete();
      }
      return;
    }
    const at = now();
    const session = await db.webSession.findUnique({
      where: { id: sessionId },
      select: {
        expiresAt: true,
        lastSeenAt: true,
        user: {
          select: {
            id: true,
            auditPseudonym: true,
            login: true,
            name: true,
            email: true,
            githubId: true,
            avatarUrl: true,
          },
        },
      },
    });
    if (!session) {
      // Signed out (here or everywhere), or the account was deleted (its rows went with it).
      request.sessionEnded = "ended";
      request.session.delete();
      return;
    }
    if (session.expiresAt.getTime() <= at.getTime()) {
      request.sessionEnded = "expired";
      await db.webSession.deleteMany({ where: { id: sessionId } });
      request.session.delete();
      return;
    }
    // At most one write a minute per session, however many requests it makes.
    if (at.getTime() - session.lastSeenAt.getTime() >= SESSION_SEEN_INTERVAL_MS) {
      await db.webSession.updateMany({ where: { id: sessionId }, data: { lastSeenAt: at } });
    }
    const { user } = session;
    // Only a login that came from GitHub (the account has a GitHub id) can make someone an operator.
    const isAdmin = user.githubId !== null && user.login !== null && settings.admins.has(user.login.toLowerCase());
    request.viewer = { ...user, sessionId, isAdmin };
  });

  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, request, reply) => {
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500;
    if (status >= 500) request.log.error({ err: error, url: request.url }, "page failed");
    else request.log.warn({ status, code: error.code, url: request.url }, error.message);
    const [heading, text] =
      error.code === "FST_CSRF_INVALID_TOKEN" || error.code === "FST_CSRF_MISSING_SECRET"
        ? [
            "Form expired",
            "This form was not sent from an Amistio page open in this browser, or the page is too old. Nothing was changed: reload the page and try again.",
          ]
        : status === 429
          ? ["Too many attempts", "Too many sign-in attempts from your address. Wait a minute and try again."]
          : status === 413
            ? ["Too much data", "What you sent is larger than Amistio accepts. Nothing was changed."]
            : status < 500
              ? ["Request not understood", "Amistio could not read that request. Nothing was changed."]
              : [
                  "Something went wrong",
                  "Amistio could not finish this request. Try again; if it keeps happening, tell the operator.",
                ];
    return ctx.page(request, reply, { status, title: heading, body: messagePage({ heading, text }) });
  });

  app.setNotFoundHandler((request, reply) =>
    ctx.page(request, reply, {
      status: 404,
      title: "Not found",
      body: messagePage({ heading: "Page not found", text: "There is no page at this address." }),
    }),
  );

  const choices = () => ({ github: Boolean(github), oidcName: settings.oidc?.name });
  app.get("/", (request, reply) =>
    ctx.page(request, reply, { title: "Home", body: homePage(request.viewer, choices()) }),
  );
  app.get("/privacy", (request, reply) =>
    ctx.page(request, reply, {
      title: "Privacy policy",
      body: privacyPolicyPage({
        contact: settings.privacyContact,
        retentionDays: settings.retentionDays,
        oidcName: settings.oidc?.name,
        sessionCookie: SESSION_COOKIE,
        sessionHours: SESSION_HOURS,
      }),
    }),
  );

  await app.register(authRoutes, { ctx });
  await app.register(accountRoutes, { ctx });
  await app.register(privacyRequestRoutes, { ctx });
  await app.register(workspaceRoutes, { ctx });
}
