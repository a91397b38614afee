import { appendAuditEvent } from "../audit/append-audit-event.ts";
import type { Db } from "../db/create-database.ts";
import type { PrivacyRequestKind } from "./privacy-requests.ts";

export interface CreatePrivacyRequestInput {
  person: { id: string; auditPseudonym: string };
  kind: PrivacyRequestKind;
  details: string;
}

/** Files a request for the operator, and records that it was filed. */
export async function createPrivacyRequest(
  db: Db,
  input: CreatePrivacyRequestInput,
  now: () => Date,
): Promise<{ id: string }> {
  const request = await db.privacyRequest.create({
    data: { userId: input.person.id, kind: input.kind, details: input.details },
    select: { id: true },
  });
  // The details are personal; the audit trail records only that a request of this kind exists.
  await appendAuditEvent(
    db,
    {
      actorPseudonym: input.person.auditPseudonym,
      action: "privacy_request.created",
      target: `privacy_request:${request.id}`,
      data: { kind: input.kind },
    },
    { now },
  );
  return request;
}
