import type { FastifyRequest } from "fastify";

export const SESSION_COOKIE = "amistio_session";
/** A session lasts this long from sign-in, however active it is. */
export const SESSION_HOURS = 24;
export const SESSION_MS = SESSION_HOURS * 60 * 60 * 1000;
/** Time allowed between leaving for the provider and coming back. */
export const SIGN_IN_WINDOW_MS = 10 * 60 * 1000;

declare module "@fastify/secure-session" {
  interface SessionData {
    userId: string;
    /** Milliseconds since the epoch. */
    signedInAt: number;
    signIn: PendingSignIn;
  }
}

/** A sign-in in progress: what the provider's answer must match. */
export interface PendingSignIn {
  provider: "github" | "oidc";
  state: string;
  verifier: string;
  nonce?: string;
  /** Set when a signed-in person links another identity to their account. */
  linkUserId?: string;
  returnTo?: string;
  startedAt: number;
}

/** Typed access to the encrypted cookie session's fields. */
export const webSession = {
  userId: (request: FastifyRequest) => stringField(request.session.get("userId")),
  signedInAt: (request: FastifyRequest) => {
    const value = request.session.get("signedInAt");
    return typeof value === "number" ? value : undefined;
  },
  pending: (request: FastifyRequest) => request.session.get("signIn") as PendingSignIn | undefined,
  setPending: (request: FastifyRequest, pending: PendingSignIn | undefined) => request.session.set("signIn", pending),
  /** A fresh session for the person: nothing from before sign-in (including the CSRF secret) carries over. */
  signIn(request: FastifyRequest, userId: string, now: Date) {
    request.session.regenerate();
    request.session.set("userId", userId);
    request.session.set("signedInAt", now.getTime());
  },
};

function stringField(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}
