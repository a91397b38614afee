import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { ResponseBodyError } from "openid-client";
import { appendAuditEvent } from "../audit/append-audit-event.ts";
import { refreshMemberships } from "../auth/refresh-memberships.ts";
import { resolveSignIn, type VerifiedIdentity } from "../auth/resolve-sign-in.ts";
import { refusal } from "../refusals/refusals.ts";
import { html } from "./html.ts";
import { safeReturnTo } from "./return-to.ts";
import { field, type WebContext } from "./web-context.ts";
import { type PendingSignIn, SIGN_IN_WINDOW_MS, webSession } from "./web-session.ts";

export interface AuthRoutesOptions {
  ctx: WebContext;
}

type Provider = PendingSignIn["provider"];

/** Per address and route: enough for people, too few for guessing or hammering the providers. */
const SIGN_IN_RATE_LIMIT = { max: 30, timeWindow: "1 minute" };

/** Sign-in with GitHub and OpenID Connect (state, PKCE S256, nonce), linking, and sign-out. */
export async function authRoutes(app: FastifyInstance, { ctx }: AuthRoutesOptions): Promise<void> {
  const { db, now } = ctx;
  const label = (provider: Provider) =>
    provider === "github" ? "GitHub" : (ctx.settings.oidc?.name ?? "OpenID Connect");
  const callbackPath = (provider: Provider) => `/auth/${provider}/callback`;
  const fail = ctx.refusesIn(
    "sign-in",
    (request) =>
      html`<p><a href="/">Back to the start page</a>${request.viewer ? html` · <a href="/account">Your account</a>` : ""}</p>`,
  );

  const notConfigured = (request: FastifyRequest, reply: FastifyReply, provider: Provider) =>
    fail(request, reply, 404, refusal("web.sign_in_not_configured", { provider: label(provider) }));

  async function start(request: FastifyRequest, reply: FastifyReply, provider: Provider) {
    const client = provider === "github" ? ctx.github : ctx.oidc;
    if (!client) {
      return notConfigured(request, reply, provider);
    }
    const asked = field(request.query, "returnTo");
    const returnTo = safeReturnTo(asked);
    if (asked !== undefined && returnTo === undefined) {
      // Not worth refusing the sign-in over: it goes on, and lands on the default page.
      request.log.info(
        { provider, status: "returnTo_refused" },
        "returnTo is not a local path; using the default page",
      );
    }
    const link = field(request.query, "link") === "1";
    if (link && !request.viewer) {
      return fail(request, reply, 401, refusal("web.sign_in_first", { provider: label(provider) }));
    }
    if (!link && request.viewer) return reply.redirect(returnTo ?? "/workspaces", 303);
    let started: Awaited<ReturnType<typeof client.start>>;
    try {
      started = await client.start(`${ctx.origin()}${callbackPath(provider)}`);
    } catch (error) {
      return fail(request, reply, 502, refusal("web.provider_unreachable", { provider: label(provider) }), {
        err: error,
        provider,
      });
    }
    webSession.setPending(request, {
      provider,
      state: started.state,
      verifier: started.verifier,
      ...(started.nonce ? { nonce: started.nonce } : {}),
      ...(link ? { linkUserId: request.viewer!.id } : {}),
      ...(returnTo ? { returnTo } : {}),
      startedAt: now().getTime(),
    });
    return reply.redirect(started.url.href, 302);
  }

  /** The identity, its tokens sealed for storage, and the GitHub access token in the clear for this request's own calls. */
  async function verify(
    provider: Provider,
    callbackUrl: URL,
    pending: PendingSignIn,
  ): Promise<{ identity: VerifiedIdentity; githubToken?: string }> {
    const seal = async (token: string | undefined) => (token ? ctx.vault.seal(token) : null);
    if (provider === "github") {
      const tokens = await ctx.github!.finish(callbackUrl, pending);
      const profile = await ctx.github!.profile(tokens.accessToken);
      const identity: VerifiedIdentity = {
        provider: "github",
        subject: String(profile.id),
        email: profile.email,
        accessToken: await seal(tokens.accessToken),
        refreshToken: await seal(tokens.refreshToken),
        expiresAt: tokens.expiresAt ?? null,
        profile: {
          githubId: BigInt(profile.id),
          login: profile.login,
          name: profile.name,
          email: profile.email,
          avatarUrl: profile.avatarUrl,
        },
      };
      return { identity, githubToken: tokens.accessToken };
    }
    const verified = await ctx.oidc!.finish(callbackUrl, { ...pending, nonce: pending.nonce ?? "" });
    return {
      identity: {
        provider: ctx.oidc!.issuer,
        subject: verified.subject,
        email: verified.email,
        accessToken: await seal(verified.tokens.accessToken),
        refreshToken: await seal(verified.tokens.refreshToken),
        expiresAt: verified.tokens.expiresAt ?? null,
        profile: { name: verified.name, email: verified.email, avatarUrl: verified.picture },
      },
    };
  }

  async function callback(request: FastifyRequest, reply: FastifyReply, provider: Provider) {
    if (!(provider === "github" ? ctx.github : ctx.oidc)) {
      return notConfigured(request, reply, provider);
    }
    const pending = webSession.pending(request);
    // One answer per start: whatever happens next, this one cannot be replayed.
    if (pending) webSession.setPending(request, undefined);
    const state = field(request.query, "state");
    if (!pending || pending.provider !== provider || !state || state !== pending.state) {
      return fail(request, reply, 400, refusal("web.sign_in_state_mismatch"));
    }
    if (now().getTime() - pending.startedAt > SIGN_IN_WINDOW_MS) {
      return fail(request, reply, 400, refusal("web.sign_in_expired"));
    }
    const error = field(request.query, "error");
    if (error) {
      const description = field(request.query, "error_description") ?? error;
      return fail(
        request,
        reply,
        error === "access_denied" ? 403 : 400,
        refusal("web.sign_in_cancelled", { provider: label(provider), description }),
      );
    }
    if (pending.linkUserId && request.viewer?.id !== pending.linkUserId) {
      return fail(request, reply, 401, refusal("web.link_session_ended"));
    }

    let verified: Awaited<ReturnType<typeof verify>>;
    try {
      verified = await verify(provider, new URL(request.url, ctx.origin()), pending);
    } catch (failure) {
      const detail = failure instanceof ResponseBodyError ? failure.error : null;
      return fail(request, reply, 502, refusal("web.sign_in_not_confirmed", { provider: label(provider), detail }), {
        err: failure,
        provider,
      });
    }

    const { identity, githubToken } = verified;
    const outcome = await resolveSignIn(db, identity, pending.linkUserId);
    if (!outcome.ok) {
      const refused = {
        identity_taken: () => refusal("web.identity_taken", { provider: label(provider) }),
        github_account_taken: () =>
          refusal("web.github_account_taken", { otherSignIn: ctx.settings.oidc?.name ?? "your other sign-in" }),
        other_github_linked: () => refusal("web.other_github_linked"),
      }[outcome.reason]();
      return fail(request, reply, 409, refused);
    }
    const { userId } = outcome;
    if (!pending.linkUserId) await webSession.signIn(request, db, userId, now());

    let workspaces: number | undefined;
    if (githubToken && identity.profile.githubId !== undefined) {
      try {
        workspaces = await refreshMemberships({
          db,
          github: ctx.github!,
          accessToken: githubToken,
          userId,
          githubUserId: identity.profile.githubId,
          now: now(),
        });
      } catch (failure) {
        // Signing in still works; the workspace list stays as it was until the next refresh.
        request.log.warn({ err: failure }, "could not list the person's installations");
      }
    }
    const { auditPseudonym } = await db.user.findUniqueOrThrow({
      where: { id: userId },
      select: { auditPseudonym: true },
    });
    const audit = (action: string, data: Record<string, unknown>) =>
      appendAuditEvent(db, { actorPseudonym: auditPseudonym, action, data }, { now });
    if (outcome.created) await audit("account.created", { provider });
    if (outcome.linked) await audit("account.identity_linked", { provider });
    if (!pending.linkUserId) await audit("session.signed_in", { provider, workspaces });
    // Checked again on the way out: the cookie is authenticated, but the rule lives here.
    return reply.redirect(safeReturnTo(pending.returnTo) ?? (pending.linkUserId ? "/account" : "/workspaces"), 303);
  }

  for (const provider of ["github", "oidc"] as const) {
    app.get(`/auth/${provider}`, { config: { rateLimit: SIGN_IN_RATE_LIMIT } }, (request, reply) =>
      start(request, reply, provider),
    );
    app.get(callbackPath(provider), { config: { rateLimit: SIGN_IN_RATE_LIMIT } }, (request, reply) =>
      callback(request, reply, provider),
    );
  }

  app.post("/auth/sign-out", { preHandler: app.csrfProtection }, async (request, reply) => {
    const viewer = request.viewer;
    // The row goes first: once it is gone, this cookie and any copy of it open nothing.
    await webSession.signOut(request, db);
    if (viewer) {
      await appendAuditEvent(db, { actorPseudonym: viewer.auditPseudonym, action: "session.signed_out" }, { now });
    }
    request.log.info({ signedIn: viewer !== null }, "signed out");
    return reply.redirect("/", 303);
  });
}
