import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { changePrivacyRequestStatus } from "../privacy/change-privacy-request-status.ts";
import { createPrivacyRequest } from "../privacy/create-privacy-request.ts";
import {
  isPrivacyRequestKind,
  isPrivacyRequestStatus,
  MAX_PRIVACY_REQUEST_DETAILS,
  MAX_RESOLUTION_NOTE,
  PRIVACY_REQUEST_FIELDS,
} from "../privacy/privacy-requests.ts";
import { type Refusal, refusal } from "../refusals/refusals.ts";
import { html } from "./html.ts";
import { manageRequestsPage } from "./pages/manage-requests-page.ts";
import { privacyRequestsPage } from "./pages/privacy-requests-page.ts";
import { requireViewer } from "./require-viewer.ts";
import { field, type WebContext } from "./web-context.ts";

export interface PrivacyRequestRoutesOptions {
  ctx: WebContext;
}

// The operator's list shows the newest requests; older settled ones stay in the database and in exports.
const MANAGE_LIMIT = 200;

/** Filing and following privacy requests, and the operator's view for the admins in AMISTIO_ADMINS. */
export async function privacyRequestRoutes(app: FastifyInstance, { ctx }: PrivacyRequestRoutesOptions): Promise<void> {
  const { db, now } = ctx;
  app.addHook("preHandler", requireViewer(ctx));
  const refuse = (request: FastifyRequest, reply: FastifyReply, status: number, refused: Refusal, back: string) => {
    ctx.refuse(request, reply, {
      area: "privacy request",
      status,
      refused,
      next: html`<p><a href="${back}">Go back</a></p>`,
    });
  };
  const adminOnly = async (request: FastifyRequest, reply: FastifyReply) => {
    if (!request.viewer?.isAdmin) {
      return refuse(request, reply, 403, refusal("web.operators_only"), "/privacy/requests");
    }
  };

  app.get("/privacy/requests", async (request, reply) => {
    const requests = await db.privacyRequest.findMany({
      where: { userId: request.viewer!.id },
      orderBy: { createdAt: "desc" },
      select: PRIVACY_REQUEST_FIELDS,
    });
    return ctx.page(request, reply, {
      title: "Privacy requests",
      body: privacyRequestsPage(requests, reply.generateCsrf()),
    });
  });

  app.post("/privacy/requests", { preHandler: app.csrfProtection }, async (request, reply) => {
    const kind = field(request.body, "kind");
    const details = (field(request.body, "details") ?? "").trim();
    if (!isPrivacyRequestKind(kind)) {
      return refuse(request, reply, 400, refusal("web.privacy_request_kind"), "/privacy/requests");
    }
    if (details === "" || details.length > MAX_PRIVACY_REQUEST_DETAILS) {
      const refused = refusal("web.privacy_request_details", { max: MAX_PRIVACY_REQUEST_DETAILS });
      return refuse(request, reply, 400, refused, "/privacy/requests");
    }
    await createPrivacyRequest(db, { person: request.viewer!, kind, details }, now);
    return reply.redirect("/privacy/requests#requests", 303);
  });

  app.get("/privacy/requests/manage", { preHandler: adminOnly }, async (request, reply) => {
    const requests = await db.privacyRequest.findMany({
      orderBy: { createdAt: "desc" },
      take: MANAGE_LIMIT,
      select: { ...PRIVACY_REQUEST_FIELDS, user: { select: { id: true, login: true, name: true, email: true } } },
    });
    return ctx.page(request, reply, {
      title: "Manage privacy requests",
      body: manageRequestsPage(
        requests.map(({ user, ...rest }) => ({ ...rest, requester: user })),
        reply.generateCsrf(),
      ),
    });
  });

  app.post<{ Params: { id: string } }>(
    "/privacy/requests/:id/status",
    { preHandler: [adminOnly, app.csrfProtection] },
    async (request, reply) => {
      const to = field(request.body, "status");
      const note = (field(request.body, "note") ?? "").trim();
      const back = "/privacy/requests/manage";
      if (!isPrivacyRequestStatus(to)) return refuse(request, reply, 400, refusal("web.privacy_status_missing"), back);
      if (note.length > MAX_RESOLUTION_NOTE) {
        return refuse(request, reply, 400, refusal("web.privacy_note_too_long", { max: MAX_RESOLUTION_NOTE }), back);
      }
      const result = await changePrivacyRequestStatus(
        db,
        {
          requestId: request.params.id,
          actorPseudonym: request.viewer!.auditPseudonym,
          to,
          note: note === "" ? null : note,
        },
        now,
      );
      if (!result.ok && result.reason === "not_found") {
        return refuse(request, reply, 404, refusal("web.privacy_request_not_found"), back);
      }
      if (!result.ok) {
        return refuse(request, reply, 409, refusal("web.privacy_status_change", { from: result.from, to }), back);
      }
      return reply.redirect(back, 303);
    },
  );
}
