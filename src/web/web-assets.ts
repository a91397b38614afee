import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";

export interface WebAsset {
  /** The route that serves it. */
  route: string;
  /** The URL pages link to: the content hash makes a long cache safe. */
  href: string;
  type: string;
  body: Buffer;
}

function asset(name: string, type: string): WebAsset {
  const body = readFileSync(new URL(`./assets/${name}`, import.meta.url));
  const version = createHash("sha256").update(body).digest("hex").slice(0, 12);
  return { route: `/assets/${name}`, href: `/assets/${name}?v=${version}`, type, body };
}

/** The stylesheet and the one script, served from this server so the CSP can stay 'self'. */
export const webAssets = {
  style: asset("style.css", "text/css; charset=utf-8"),
  script: asset("preferences.js", "text/javascript; charset=utf-8"),
} as const;
