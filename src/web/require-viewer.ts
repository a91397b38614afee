import type { FastifyReply, FastifyRequest } from "fastify";
import { refusal } from "../refusals/refusals.ts";
import { html } from "./html.ts";
import { signInLinks } from "./pages/sign-in-links.ts";
import type { WebContext } from "./web-context.ts";

const ENDED = {
  expired: "Your session expired. Sign in again to continue.",
  invalid: "Your session could not be read (it expired, or the cookie was changed). Sign in again to continue.",
  ended:
    "Your session has ended: you signed out (in this browser, or everywhere from your account page), or the account was deleted. Sign in again to continue.",
} as const;

/** preHandler for pages that need a signed-in person: anyone else gets a 401 page with the ways in. */
export function requireViewer(ctx: WebContext) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    if (request.viewer) return;
    const returnTo = request.method === "GET" ? request.url : undefined;
    const reason = request.sessionEnded ? ENDED[request.sessionEnded] : "This page is only for signed-in people.";
    return ctx.refuse(request, reply, {
      area: "sign-in required",
      status: 401,
      refused: refusal("web.sign_in_required", { reason }),
      next: html`${signInLinks({ github: Boolean(ctx.github), oidcName: ctx.settings.oidc?.name }, returnTo)}
<p><a href="/">Back to the start page</a></p>`,
      details: { reason: request.sessionEnded ?? "not_signed_in", url: request.url },
    });
  };
}
