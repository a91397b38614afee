import { createHash } from "node:crypto";
import canonicalize from "canonicalize";
import type { Plan } from "./plan-schema.ts";

/**
 * SHA-256 (hex) of the plan's canonical JSON (RFC 8785), so the same content always has the same
 * hash whatever its key order. Approvals are bound to this value.
 */
export function planContentHash(plan: Plan): string {
  const canonical = canonicalize(plan);
  if (canonical === undefined) throw new TypeError("a plan must be a JSON object");
  return createHash("sha256").update(canonical, "utf8").digest("hex");
}
