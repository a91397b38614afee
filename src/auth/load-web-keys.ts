import { hkdfSync, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface WebKeys {
  /** 32 bytes for @fastify/secure-session (libsodium secretbox). */
  session: Buffer;
  /** 32 bytes for sealing stored OAuth tokens (A256GCM). */
  tokens: Uint8Array;
}

export interface LoadWebKeysOptions {
  /** SESSION_SECRET; when absent a random root key is generated once and kept in `dataDir`. */
  secret: string | undefined;
  dataDir: string;
}

export const GENERATED_KEY_FILE = "session.key";

/**
 * Derives separate keys for cookies and stored tokens from one root secret, so neither use can
 * weaken the other. The root is SESSION_SECRET, or a generated file, so that `npm start` on a fresh
 * clone needs no configuration yet sessions survive a restart.
 */
export function loadWebKeys(options: LoadWebKeysOptions): WebKeys {
  const root = options.secret ? Buffer.from(options.secret, "utf8") : generatedRoot(options.dataDir);
  const derive = (purpose: string) => Buffer.from(hkdfSync("sha256", root, "amistio", purpose, 32));
  return { session: derive("session cookie"), tokens: derive("stored oauth tokens") };
}

function generatedRoot(dataDir: string): Buffer {
  const file = join(dataDir, GENERATED_KEY_FILE);
  mkdirSync(dataDir, { recursive: true });
  try {
    // "wx": when two processes start together, one writes and the other reads what it wrote.
    writeFileSync(file, randomBytes(32).toString("base64"), { flag: "wx", mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  const key = Buffer.from(readFileSync(file, "utf8").trim(), "base64");
  if (key.length !== 32) {
    throw new Error(`${file} is not a 32-byte base64 key: delete it to generate a new one (everyone signs in again)`);
  }
  return key;
}
