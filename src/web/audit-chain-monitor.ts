import type { Logger } from "pino";
import { verifyAuditChain } from "../audit/verify-audit-chain.ts";
import type { Db } from "../db/create-database.ts";
import type { ChainStatus } from "./pages/audit-log-page.ts";

export interface AuditChainMonitor {
  /** The latest verdict; starts a new check when it is older than allowed. */
  status(): Promise<ChainStatus>;
}

export interface CreateAuditChainMonitorOptions {
  db: Db;
  logger: Logger;
  now: () => Date;
  /** How old a verdict may be before a page view starts a new check. */
  maxAgeMs?: number;
  /** Chains up to this length are checked before the page answers; longer ones in the background. */
  inlineLimit?: number;
}

/**
 * Verifying the chain reads every event, which a page cannot afford on a long trail: the verdict is
 * kept, one check runs at a time, and pages show when it was made.
 */
export function createAuditChainMonitor(options: CreateAuditChainMonitorOptions): AuditChainMonitor {
  const maxAgeMs = options.maxAgeMs ?? 5 * 60 * 1000;
  const inlineLimit = options.inlineLimit ?? 2000;
  let verdict: ChainStatus["verdict"];
  let checkedAt: Date | undefined;
  let running: Promise<void> | undefined;

  const check = () => {
    running ??= verifyAuditChain(options.db)
      .then((result) => {
        verdict = result;
        checkedAt = options.now();
        if (!result.ok) options.logger.error({ ...result }, "the audit chain does not verify");
      })
      .catch((error: unknown) => options.logger.error({ err: error }, "audit chain check failed"))
      .finally(() => {
        running = undefined;
      });
    return running;
  };

  return {
    async status() {
      const stale = !checkedAt || options.now().getTime() - checkedAt.getTime() > maxAgeMs;
      if (stale) {
        const pending = check();
        const head = await options.db.auditEvent.findFirst({ orderBy: { seq: "desc" }, select: { seq: true } });
        if ((head?.seq ?? 0) <= inlineLimit) await pending;
      }
      return { verdict, checkedAt, checking: running !== undefined };
    },
  };
}
