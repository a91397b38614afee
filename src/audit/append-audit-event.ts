import { setTimeout as sleep } from "node:timers/promises";
import canonicalize from "canonicalize";
import { type Db, providerOf } from "../db/create-database.ts";
import { isUniqueViolation } from "../db/is-unique-violation.ts";
import { GENESIS_HASH, hashAuditEvent } from "./hash-audit-event.ts";

export interface AuditEventInput {
  workspaceId?: string | null;
  /**
   * The person who acted, as their `User.auditPseudonym`, never their internal id: the pseudonym is
   * kept only on their User row, so deleting the account leaves nothing that maps it to them.
   */
  actorPseudonym?: string | null;
  /** Dotted lowercase, e.g. `installation.created`, `approval.granted`. */
  action: string;
  target?: string | null;
  /** Plain JSON. A bigint becomes its decimal string (GitHub ids are BigInt in our schema). */
  data?: Record<string, unknown>;
  deliveryId?: string | null;
}

export interface AppendAuditEventOptions {
  now?: () => Date;
}

/** Canonical `data` text larger than this is refused: the trail records decisions, not payloads. */
export const MAX_AUDIT_DATA_BYTES = 64 * 1024;

const ACTION_PATTERN = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/;
const MAX_ACTION_LENGTH = 100;

// Each lost race means another appender committed, so the chain moved on. Races are rare (see the
// lock below), so running out of attempts means something is wrong: fail loudly, do not spin.
const MAX_ATTEMPTS = 10;

// Any constant works as long as nothing else in the database takes it (the migrator uses 7357001).
const AUDIT_LOCK_KEY = 7357002;

export class AuditEventError extends Error {
  override name = "AuditEventError";
}

/**
 * Appends one event to the hash chain. The head is read, the event is hashed onto it and inserted
 * with seq = head + 1 and prevHash = head's hash; both are unique, so when another appender got
 * there first the insert fails and this one re-reads the head and tries again (at most
 * MAX_ATTEMPTS times, then an AuditEventError).
 */
export async function appendAuditEvent(
  db: Db,
  event: AuditEventInput,
  options: AppendAuditEventOptions = {},
): Promise<{ seq: number; hash: string }> {
  const now = options.now ?? (() => new Date());
  if (event.action.length > MAX_ACTION_LENGTH || !ACTION_PATTERN.test(event.action)) {
    throw new AuditEventError(
      `audit action "${event.action}" must be dotted lowercase words such as "approval.granted" (at most ${MAX_ACTION_LENGTH} characters)`,
    );
  }
  const data = canonicalData(event.data ?? {});
  const fields = {
    workspaceId: event.workspaceId ?? null,
    actorId: event.actorPseudonym ?? null,
    action: event.action,
    target: event.target ?? null,
    data,
    deliveryId: event.deliveryId ?? null,
  };

  // Appenders take turns, so a burst does not become a retry storm (each lost race costs a failed
  // insert). PostgreSQL: a transaction-scoped advisory lock, across every process. SQLite: every
  // transaction begins IMMEDIATE (db/immediate-transactions.ts), holding the file's write lock from
  // the start, so another process waits on busy_timeout instead of reading a head that goes stale.
  const postgres = providerOf(db) === "postgresql";

  for (let attempt = 1; ; attempt++) {
    try {
      return await db.$transaction(
        async (tx) => {
          if (postgres) await tx.$executeRawUnsafe(`SELECT pg_advisory_xact_lock(${AUDIT_LOCK_KEY})`);
          const head = await tx.auditEvent.findFirst({ orderBy: { seq: "desc" }, select: { seq: true, hash: true } });
          const createdAt = now();
          if (Number.isNaN(createdAt.getTime())) throw new AuditEventError("the audit clock returned an invalid date");
          const record = { ...fields, seq: (head?.seq ?? 0) + 1, createdAt, prevHash: head?.hash ?? GENESIS_HASH };
          const hash = hashAuditEvent(record);
          await tx.auditEvent.create({ data: { ...record, hash } });
          return { seq: record.seq, hash };
        },
        // Waiting in line for the lock or a pooled connection is normal under a burst.
        { maxWait: 30_000, timeout: 30_000 },
      );
    } catch (error) {
      // The unique seq and prevHash keep the chain linear even without the turn-taking (a writer
      // that skips the lock): the loser starts over on the new head.
      if (!isUniqueViolation(error)) throw error;
      if (attempt >= MAX_ATTEMPTS) {
        throw new AuditEventError(
          `could not append audit event "${event.action}": the chain head kept moving for ${MAX_ATTEMPTS} attempts`,
          { cause: error },
        );
      }
      // Random jitter spreads the appenders that lost together, so they do not collide again.
      await sleep(Math.random() * Math.min(100, 2 ** attempt));
    }
  }
}

function canonicalData(data: Record<string, unknown>): string {
  const value = toJson(data, "data", new Set());
  let text: string | undefined;
  try {
    text = canonicalize(value);
  } catch (error) {
    // e.g. a string holding a lone UTF-16 surrogate, which has no canonical form.
    throw new AuditEventError(`audit data is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  const bytes = Buffer.byteLength(text!, "utf8");
  if (bytes > MAX_AUDIT_DATA_BYTES) {
    throw new AuditEventError(`audit data is ${bytes} bytes as canonical JSON; the limit is ${MAX_AUDIT_DATA_BYTES}`);
  }
  return text!;
}

/**
 * Copies `value` as plain JSON, refusing what JSON cannot hold instead of letting it vanish or turn
 * into `{}` silently (functions, symbols, Maps, class instances, NaN, cycles).
 */
function toJson(value: unknown, path: string, ancestors: Set<object>): unknown {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "bigint":
      return value.toString();
    case "number":
      if (!Number.isFinite(value)) throw new AuditEventError(`audit ${path} is ${value}, which JSON cannot hold`);
      return value;
    case "object": {
      if (value === null) return null;
      if (value instanceof Date) {
        if (Number.isNaN(value.getTime())) throw new AuditEventError(`audit ${path} is an invalid Date`);
        return value.toISOString();
      }
      if (ancestors.has(value)) throw new AuditEventError(`audit ${path} refers back to itself`);
      ancestors.add(value);
      try {
        if (Array.isArray(value)) {
          return value.map((item, index) => {
            if (item === undefined) throw new AuditEventError(`audit ${path}[${index}] is undefined`);
            return toJson(item, `${path}[${index}]`, ancestors);
          });
        }
        const prototype = Object.getPrototypeOf(value);
        if (prototype !== Object.prototype && prototype !== null) {
          throw new AuditEventError(
            `audit ${path} is a ${value.constructor?.name ?? "non-plain object"}; only plain objects, arrays, strings, numbers, booleans, null, bigint and Date are allowed`,
          );
        }
        const copy: Record<string, unknown> = {};
        for (const [key, item] of Object.entries(value)) {
          // Like JSON.stringify: an undefined property is an absent one (handy for optional fields).
          if (item !== undefined) copy[key] = toJson(item, `${path}.${key}`, ancestors);
        }
        return copy;
      } finally {
        ancestors.delete(value);
      }
    }
    default:
      throw new AuditEventError(`audit ${path} is a ${typeof value}, which JSON cannot hold`);
  }
}
