import { randomBytes } from "node:crypto";
import secureSession from "@fastify/secure-session";
import Fastify from "fastify";
import { loadWebKeys } from "../../../src/auth/load-web-keys.ts";
import type { Db } from "../../../src/db/create-database.ts";

/**
 * A session cookie as Amistio would make it with this SESSION_SECRET, but with whatever contents a
 * test needs (an old-style cookie naming a user, a session id with no row), encoded by the session
 * library itself. The value is ready for a Cookie header (URI-encoded).
 */
export async function forgeSessionCookie(secret: string, data: Record<string, unknown>): Promise<string> {
  const app = Fastify();
  await app.register(secureSession, { key: loadWebKeys({ secret, dataDir: "/nonexistent" }).session });
  await app.ready();
  const cookie = app.encodeSecureSession(app.createSecureSession(data));
  await app.close();
  return encodeURIComponent(cookie);
}

/**
 * Signs `userId` in without going through a provider: a WebSession row (by default from now for 24
 * hours) and the cookie that names it.
 */
export async function signedInCookie(
  db: Db,
  secret: string,
  userId: string,
  times: { createdAt?: Date; expiresAt?: Date } = {},
): Promise<{ cookie: string; sessionId: string }> {
  const sessionId = randomBytes(32).toString("base64url");
  const createdAt = times.createdAt ?? new Date();
  await db.webSession.create({
    data: {
      id: sessionId,
      userId,
      createdAt,
      lastSeenAt: createdAt,
      expiresAt: times.expiresAt ?? new Date(createdAt.getTime() + 24 * 60 * 60 * 1000),
    },
  });
  return { cookie: await forgeSessionCookie(secret, { sid: sessionId }), sessionId };
}
