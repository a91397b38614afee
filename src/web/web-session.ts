import { randomBytes } from "node:crypto";
import type { FastifyRequest } from "fastify";
import type { Db } from "../db/create-database.ts";

export const SESSION_COOKIE = "amistio_session";
/** A session lasts this long from sign-in, however active it is. */
export const SESSION_HOURS = 24;
export const SESSION_MS = SESSION_HOURS * 60 * 60 * 1000;
/** Time allowed between leaving for the provider and coming back. */
export const SIGN_IN_WINDOW_MS = 10 * 60 * 1000;
/** `WebSession.lastSeenAt` is written at most this often per session, not at every request. */
export const SESSION_SEEN_INTERVAL_MS = 60 * 1000;

declare module "@fastify/secure-session" {
  interface SessionData {
    /**
     * The id of this browser's WebSession row: the cookie names the session, the database decides
     * whether it still counts, so signing out (here or everywhere) ends it even for a copied cookie.
     */
    sid: string;
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

/** Typed access to the encrypted cookie session's fields, and the WebSession rows behind them. */
export const webSession = {
  id: (request: FastifyRequest) => stringField(request.session.get("sid")),
  pending: (request: FastifyRequest) => request.session.get("signIn") as PendingSignIn | undefined,
  setPending: (request: FastifyRequest, pending: PendingSignIn | undefined) => request.session.set("signIn", pending),
  /**
   * A fresh session for the person: a new WebSession row, and a cookie that carries only its id
   * (nothing from before sign-in, including the CSRF secret, carries over). Sessions that have
   * expired, anyone's, are removed on the way.
   */
  async signIn(request: FastifyRequest, db: Db, userId: string, now: Date): Promise<void> {
    const id = randomBytes(32).toString("base64url");
    await db.webSession.deleteMany({ where: { expiresAt: { lte: now } } });
    await db.webSession.create({
      data: { id, userId, createdAt: now, lastSeenAt: now, expiresAt: new Date(now.getTime() + SESSION_MS) },
    });
    request.session.regenerate();
    request.session.set("sid", id);
  },
  /** Ends this browser's session: its row is deleted, so a copy of the cookie opens nothing either. */
  async signOut(request: FastifyRequest, db: Db): Promise<void> {
    const id = webSession.id(request);
    if (id !== undefined) await db.webSession.deleteMany({ where: { id } });
    request.session.delete();
  },
};

function stringField(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}
