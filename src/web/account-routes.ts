import type { FastifyInstance } from "fastify";
import { appendAuditEvent } from "../audit/append-audit-event.ts";
import { deleteAccount } from "../privacy/delete-account.ts";
import { exportAccount } from "../privacy/export-account.ts";
import { refusal } from "../refusals/refusals.ts";
import { html } from "./html.ts";
import { accountPage, MAX_EMAIL_LENGTH, MAX_NAME_LENGTH } from "./pages/account-page.ts";
import { messagePage } from "./pages/message-page.ts";
import { requireViewer } from "./require-viewer.ts";
import { field, type WebContext } from "./web-context.ts";
import { SESSION_HOURS } from "./web-session.ts";

export interface AccountRoutesOptions {
  ctx: WebContext;
}

const EMAIL = /^[^\s@]+@[^\s@]+$/;

/** What a person types to confirm deleting their account. */
export function deletionConfirmation(user: { login: string | null; email: string | null }): string {
  return user.login ?? user.email ?? "delete my account";
}

/** The account page: profile and its correction, identities, export, deletion. */
export async function accountRoutes(app: FastifyInstance, { ctx }: AccountRoutesOptions): Promise<void> {
  const { db, now } = ctx;
  app.addHook("preHandler", requireViewer(ctx));
  const guarded = { preHandler: app.csrfProtection };
  const back = html`<p><a href="/account">Back to your account</a></p>`;

  app.get("/account", async (request, reply) => {
    const viewer = request.viewer!;
    const user = await db.user.findUniqueOrThrow({
      where: { id: viewer.id },
      select: {
        login: true,
        name: true,
        email: true,
        createdAt: true,
        identities: { orderBy: { createdAt: "asc" }, select: { provider: true, subject: true, createdAt: true } },
      },
    });
    const oidc = ctx.settings.oidc;
    return ctx.page(request, reply, {
      title: "Your account",
      body: accountPage({
        user,
        identities: user.identities.map((identity) => ({
          ...identity,
          label:
            identity.provider === "github"
              ? "GitHub"
              : identity.provider === oidc?.issuer.href
                ? oidc.name
                : identity.provider,
        })),
        choices: { github: Boolean(ctx.github), oidcName: oidc?.name, oidcIssuer: oidc?.issuer.href },
        confirmation: deletionConfirmation(user),
        csrfToken: reply.generateCsrf(),
        sessionHours: SESSION_HOURS,
      }),
    });
  });

  app.post("/account/profile", guarded, async (request, reply) => {
    const viewer = request.viewer!;
    const name = (field(request.body, "name") ?? "").trim();
    const email = (field(request.body, "email") ?? "").trim();
    const problems: string[] = [];
    if (Array.from(name).length > MAX_NAME_LENGTH)
      problems.push(`the name is longer than ${MAX_NAME_LENGTH} characters`);
    if (email.length > MAX_EMAIL_LENGTH)
      problems.push(`the email address is longer than ${MAX_EMAIL_LENGTH} characters`);
    else if (email !== "" && !EMAIL.test(email)) problems.push("the email address is not of the form name@example.org");
    if (problems.length > 0) {
      return ctx.refuse(request, reply, {
        area: "profile",
        status: 400,
        refused: refusal("web.profile_invalid", { problems }),
        next: back,
        details: { reason: "profile_invalid", problems: problems.length },
      });
    }
    const data = { name: name === "" ? null : name, email: email === "" ? null : email };
    const changed = Object.entries(data)
      .filter(([key, value]) => viewer[key as keyof typeof data] !== value)
      .map(([key]) => key);
    if (changed.length > 0) {
      await db.user.update({ where: { id: viewer.id }, data });
      // Which fields changed, never their values: the audit trail holds no personal data.
      await appendAuditEvent(
        db,
        { actorPseudonym: viewer.auditPseudonym, action: "account.updated", data: { fields: changed } },
        { now },
      );
    }
    return reply.redirect("/account", 303);
  });

  app.post("/account/export", guarded, async (request, reply) => {
    const viewer = request.viewer!;
    const at = now();
    const data = await exportAccount(db, viewer.id, at);
    if (!data) return reply.callNotFound();
    await appendAuditEvent(db, { actorPseudonym: viewer.auditPseudonym, action: "account.exported" }, { now });
    return reply
      .header("content-type", "application/json; charset=utf-8")
      .header("content-disposition", `attachment; filename="amistio-data-${at.toISOString().slice(0, 10)}.json"`)
      .header("cache-control", "no-store")
      .send(JSON.stringify(data, null, 2));
  });

  app.post("/account/sign-out-everywhere", guarded, async (request, reply) => {
    const viewer = request.viewer!;
    // Every browser's row, this one's included: their cookies, and any copies, open nothing after this.
    const { count } = await db.webSession.deleteMany({ where: { userId: viewer.id } });
    request.session.delete();
    request.viewer = null;
    await appendAuditEvent(
      db,
      { actorPseudonym: viewer.auditPseudonym, action: "session.signed_out_everywhere", data: { sessions: count } },
      { now },
    );
    request.log.info({ sessions: count }, "signed out everywhere");
    return ctx.page(request, reply, {
      title: "Signed out everywhere",
      body: messagePage({
        heading: "Signed out everywhere",
        text: `${count === 1 ? "1 session was" : `${count} sessions were`} ended, this one included. Every browser signed in to your account must sign in again.`,
        next: html`<p><a href="/">Back to the start page</a></p>`,
      }),
    });
  });

  app.post("/account/delete", guarded, async (request, reply) => {
    const viewer = request.viewer!;
    const expected = deletionConfirmation(viewer);
    if ((field(request.body, "confirm") ?? "").trim() !== expected) {
      return ctx.refuse(request, reply, {
        area: "account deletion",
        status: 400,
        refused: refusal("web.deletion_not_confirmed"),
        next: back,
        details: { reason: "confirmation_mismatch" },
      });
    }
    const result = await deleteAccount(db, { userId: viewer.id, revoke: ctx.tokens.revoke, now });
    request.session.delete();
    request.viewer = null;
    const failed = result && result.revocationFailed > 0;
    return ctx.page(request, reply, {
      title: "Account deleted",
      body: messagePage({
        heading: "Your account was deleted",
        text: failed
          ? "Your account and everything tied to it were erased, and the tokens Amistio held were deleted. A provider could not be reached to revoke its grant: you can also remove Amistio in that provider's settings."
          : "Your account and everything tied to it were erased, and the access Amistio held was revoked. Signing in again creates a new, empty account.",
      }),
    });
  });
}
