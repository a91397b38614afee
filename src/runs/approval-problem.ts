import { planContentHash } from "@amistio/contract/plan-hash";
import type { Plan } from "@amistio/contract/plan-schema";
import { countingApprovals } from "../approvals/counting-approvals.ts";
import type { Db } from "../db/create-database.ts";

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
  required: number,
  runContentHash?: string,
): Promise<string | null> {
  if (version.status !== "approved") {
    return `plan v${version.version} is ${version.status.replaceAll("_", " ")}, not approved.`;
  }
  if (runContentHash !== undefined && runContentHash !== version.contentHash) {
    return `plan v${version.version} changed after this run was approved.`;
  }
  if (planContentHash(version.content as Plan) !== version.contentHash) {
    return `the stored plan v${version.version} no longer matches the content that was approved.`;
  }
  const approvals = await countingApprovals(db, version);
  if (approvals.length < required) {
    return `only ${approvals.length} of the ${required} required approvals of v${version.version} still count.`;
  }
  return null;
}
