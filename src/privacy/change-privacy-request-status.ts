import { appendAuditEvent } from "../audit/append-audit-event.ts";
import type { Db } from "../db/create-database.ts";
import { isPrivacyRequestStatus, PRIVACY_REQUEST_TRANSITIONS, type PrivacyRequestStatus } from "./privacy-requests.ts";

export interface ChangePrivacyRequestStatusInput {
  requestId: string;
  /** The operator making the change, by audit pseudonym. */
  actorPseudonym: string;
  to: PrivacyRequestStatus;
  note: string | null;
}

export type ChangePrivacyRequestStatusResult =
  | { ok: true; from: PrivacyRequestStatus }
  | { ok: false; reason: "not_found" }
  | { ok: false; reason: "not_allowed"; from: string };

/**
 * Moves a request along open → in_progress → completed | rejected. The update is conditional on
 * the status read, so two operators acting at once cannot both move it from the same state.
 */
export async function changePrivacyRequestStatus(
  db: Db,
  input: ChangePrivacyRequestStatusInput,
  now: () => Date,
): Promise<ChangePrivacyRequestStatusResult> {
  const request = await db.privacyRequest.findUnique({ where: { id: input.requestId }, select: { status: true } });
  if (!request) return { ok: false, reason: "not_found" };
  const from = request.status;
  if (!isPrivacyRequestStatus(from) || !PRIVACY_REQUEST_TRANSITIONS[from].includes(input.to)) {
    return { ok: false, reason: "not_allowed", from };
  }
  const final = input.to === "completed" || input.to === "rejected";
  const updated = await db.privacyRequest.updateMany({
    where: { id: input.requestId, status: from },
    data: {
      status: input.to,
      ...(input.note !== null ? { resolutionNote: input.note } : {}),
      resolvedAt: final ? now() : null,
    },
  });
  if (updated.count === 0) return { ok: false, reason: "not_allowed", from };
  await appendAuditEvent(
    db,
    {
      actorPseudonym: input.actorPseudonym,
      action: "privacy_request.status_changed",
      target: `privacy_request:${input.requestId}`,
      data: { from, to: input.to },
    },
    { now },
  );
  return { ok: true, from };
}
