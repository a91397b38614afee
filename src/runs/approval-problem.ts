import { planContentHash } from "@amistio/contract/plan-hash";
import type { Plan } from "@amistio/contract/plan-schema";
import { countingApprovals } from "../approvals/counting-approvals.ts";
import type { Db } from "../db/create-database.ts";
import { type Refusal, refusal } from "../refusals/refusals.ts";

interface VersionToRun {
  id: string;
  version: number;
  status: string;
  contentHash: string;
  content: unknown;
}

/**
 * Why this plan version may not run now, or null when it may: it must still be approved, its
 * stored content must still hash to the approved hash (and to the run's, when there is a run), and
 * the approvals bound to that hash must still meet the required count.
 */
export async function approvalProblem(
  db: Db,
  version: VersionToRun,
  settings: { required: number; prefix: string },
  runContentHash?: string,
): Promise<Refusal | null> {
  const { prefix } = settings;
  if (version.status !== "approved") {
    return refusal("run.plan_not_approved", { version: version.version, status: version.status, prefix });
  }
  if (runContentHash !== undefined && runContentHash !== version.contentHash) {
    return refusal("run.plan_changed", { version: version.version, prefix });
  }
  if (planContentHash(version.content as Plan) !== version.contentHash) {
    return refusal("run.hash_mismatch", { version: version.version, prefix });
  }
  const approvals = await countingApprovals(db, version);
  if (approvals.length < settings.required) {
    return refusal("run.approvals_lapsed", {
      version: version.version,
      have: approvals.length,
      need: settings.required,
      prefix,
    });
  }
  return null;
}
