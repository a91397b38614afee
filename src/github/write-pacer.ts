import type { Redis } from "ioredis";

/**
 * A limit on one installation's writes: at most `count` per `perMs`, as a GCRA (generic cell rate
 * algorithm): writes may come in a burst of up to `burst` (default `count`), then one every
 * `perMs / count`. A burst of 1 spaces every write evenly.
 */
export interface WriteLimit {
  count: number;
  perMs: number;
  burst?: number;
}

/**
 * GitHub documents, for content-creating requests, at most 80 a minute and 500 an hour, and asks
 * that mutating requests be at least a second apart.
 */
export const GITHUB_WRITE_LIMITS: readonly WriteLimit[] = Object.freeze([
  { count: 1, perMs: 1_000, burst: 1 },
  { count: 80, perMs: 60_000 },
  { count: 500, perMs: 3_600_000 },
]);

export interface Reservation {
  /** How long to wait before sending; 0 to send now. */
  waitMs: number;
  /** False when the slot was further off than allowed: nothing was reserved. */
  reserved: boolean;
}

/**
 * Paces writes to GitHub per installation, and remembers installations GitHub said were rate
 * limited, so that nothing is sent for them before the limit lifts. One in-process instance
 * without Redis; with Redis, every process that shares it is paced jointly.
 */
export interface WritePacer {
  /** Takes the next write slot of `key`, if it is at most `maxWaitMs` away. */
  reserve(key: string, maxWaitMs: number): Promise<Reservation>;
  /** GitHub said `key` is limited until then: a later `until` wins, an earlier one is ignored. */
  block(key: string, until: Date): Promise<void>;
  /** The end of a known limit of `key` still in force, or null. */
  blockedUntil(key: string): Promise<Date | null>;
  close(): Promise<void>;
}

interface Cell {
  intervalMs: number;
  toleranceMs: number;
}

function cellsOf(limits: readonly WriteLimit[]): Cell[] {
  return limits.map((limit) => {
    if (!(limit.count >= 1 && limit.perMs > 0)) throw new Error("a write limit needs count ≥ 1 and perMs > 0");
    const intervalMs = limit.perMs / limit.count;
    const burst = Math.max(1, Math.min(limit.burst ?? limit.count, limit.count));
    return { intervalMs, toleranceMs: (burst - 1) * intervalMs };
  });
}

/** The same algorithm as the Lua script below, for one process. */
export function createMemoryPacer(options: { limits?: readonly WriteLimit[]; now?: () => number } = {}): WritePacer {
  const cells = cellsOf(options.limits ?? GITHUB_WRITE_LIMITS);
  const now = options.now ?? Date.now;
  const tats = new Map<string, number[]>();
  const blocks = new Map<string, number>();
  return {
    async reserve(key, maxWaitMs) {
      const at = now();
      const stored = tats.get(key) ?? [];
      const current = cells.map((_, index) => Math.max(stored[index] ?? at, at));
      const start = Math.max(at, ...cells.map((cell, index) => current[index]! - cell.toleranceMs));
      const waitMs = start - at;
      if (waitMs > maxWaitMs) return { waitMs, reserved: false };
      tats.set(
        key,
        cells.map((cell, index) => Math.max(current[index]!, start) + cell.intervalMs),
      );
      return { waitMs, reserved: true };
    },
    async block(key, until) {
      blocks.set(key, Math.max(blocks.get(key) ?? 0, until.getTime()));
    },
    async blockedUntil(key) {
      const until = blocks.get(key);
      if (until === undefined) return null;
      if (until <= now()) {
        blocks.delete(key);
        return null;
      }
      return new Date(until);
    },
    async close() {},
  };
}

// KEYS[1]: the installation's hash of theoretical arrival times, one field per limit.
// ARGV[1]: the longest wait to reserve; then an interval and a tolerance per limit (ms).
// Returns {1 reserved / 0 not, wait ms}. Redis's own clock, so processes on several machines agree.
const RESERVE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = (#ARGV - 1) / 2
local tats = {}
local start = now
for i = 1, n do
  local tat = tonumber(redis.call('HGET', KEYS[1], tostring(i)) or now)
  if tat < now then tat = now end
  tats[i] = tat
  local earliest = tat - tonumber(ARGV[2 * i + 1])
  if earliest > start then start = earliest end
end
local wait = start - now
if wait > tonumber(ARGV[1]) then return {0, math.ceil(wait)} end
local ttl = 1000
for i = 1, n do
  local tat = math.max(tats[i], start) + tonumber(ARGV[2 * i])
  redis.call('HSET', KEYS[1], tostring(i), string.format('%.0f', tat))
  if tat - now + 1000 > ttl then ttl = tat - now + 1000 end
end
redis.call('PEXPIRE', KEYS[1], math.ceil(ttl))
return {1, math.ceil(wait)}
`;

// KEYS[1]: the installation's block; ARGV[1]: until (epoch ms); ARGV[2]: its time to live (ms).
const BLOCK = `
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > current then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
return 1
`;

export interface RedisPacerOptions {
  /** A connection of the pacer's own; closed by `close()` when `ownsClient`. */
  client: Redis;
  ownsClient?: boolean;
  /** Prefix of its keys (default "amistio"): `<prefix>:github:pace:<installation>`, `…:limited:…`. */
  prefix?: string;
  limits?: readonly WriteLimit[];
}

/** The pacer shared through Redis: one script call per write, one GET per request while nothing is limited. */
export function createRedisPacer(options: RedisPacerOptions): WritePacer {
  const { client } = options;
  const prefix = options.prefix ?? "amistio";
  const cells = cellsOf(options.limits ?? GITHUB_WRITE_LIMITS);
  const cellArgs = cells.flatMap((cell) => [String(cell.intervalMs), String(cell.toleranceMs)]);
  const paceKey = (key: string) => `${prefix}:github:pace:${key}`;
  const blockKey = (key: string) => `${prefix}:github:limited:${key}`;
  return {
    async reserve(key, maxWaitMs) {
      const [reserved, waitMs] = (await client.eval(RESERVE, 1, paceKey(key), String(maxWaitMs), ...cellArgs)) as [
        number,
        number,
      ];
      return { waitMs: Math.max(0, waitMs), reserved: reserved === 1 };
    },
    async block(key, until) {
      const ttl = until.getTime() - Date.now();
      if (ttl <= 0) return;
      await client.eval(BLOCK, 1, blockKey(key), String(until.getTime()), String(Math.ceil(ttl)));
    },
    async blockedUntil(key) {
      const value = await client.get(blockKey(key));
      const until = Number(value);
      return value !== null && until > Date.now() ? new Date(until) : null;
    },
    async close() {
      if (!options.ownsClient) return;
      try {
        await client.quit();
      } catch {
        client.disconnect();
      }
    },
  };
}

/** Redis when `REDIS_URL` is set (ioredis loaded only then), otherwise in-process. */
export async function createWritePacer(options: {
  redisUrl?: string;
  prefix?: string;
  limits?: readonly WriteLimit[];
}): Promise<WritePacer> {
  if (!options.redisUrl) return createMemoryPacer({ limits: options.limits });
  const { Redis } = await import("ioredis");
  // One retry per command: while Redis is down a write fails soon (and its job is retried) rather than hangs.
  const client = new Redis(options.redisUrl, { maxRetriesPerRequest: 1 });
  return createRedisPacer({ client, ownsClient: true, prefix: options.prefix, limits: options.limits });
}
