import secureSession from "@fastify/secure-session";
import Fastify from "fastify";
import { loadWebKeys } from "../../../src/auth/load-web-keys.ts";

/**
 * A session cookie as Amistio would make it with this SESSION_SECRET, but with whatever contents a
 * test needs (an old sign-in time, a timestamp past expiry), encoded by the session library itself.
 */
export async function forgeSessionCookie(secret: string, data: Record<string, unknown>): Promise<string> {
  const app = Fastify();
  await app.register(secureSession, { key: loadWebKeys({ secret, dataDir: "/nonexistent" }).session });
  await app.ready();
  const cookie = app.encodeSecureSession(app.createSecureSession(data));
  await app.close();
  return cookie;
}
