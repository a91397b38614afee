export const PRIVACY_REQUEST_KINDS = ["access", "correct", "restrict", "object", "delete"] as const;
export type PrivacyRequestKind = (typeof PRIVACY_REQUEST_KINDS)[number];

export const PRIVACY_REQUEST_KIND_LABELS: Record<PrivacyRequestKind, string> = {
  access: "Access: tell me what you hold about me",
  correct: "Correct: fix data about me that is wrong",
  restrict: "Restrict: stop using some of my data for now",
  object: "Object: stop a particular use of my data",
  delete: "Delete: erase data about me",
};

export type PrivacyRequestStatus = "open" | "in_progress" | "completed" | "rejected";

/** open → in_progress → completed | rejected; a request may also be settled straight from open. */
export const PRIVACY_REQUEST_TRANSITIONS: Record<PrivacyRequestStatus, readonly PrivacyRequestStatus[]> = {
  open: ["in_progress", "completed", "rejected"],
  in_progress: ["completed", "rejected"],
  completed: [],
  rejected: [],
};

/** What a privacy request shows its author, the operators and the author's export. */
export const PRIVACY_REQUEST_FIELDS = {
  id: true,
  kind: true,
  details: true,
  status: true,
  resolutionNote: true,
  createdAt: true,
  resolvedAt: true,
} as const;

export const MAX_PRIVACY_REQUEST_DETAILS = 5000;
export const MAX_RESOLUTION_NOTE = 2000;

export function isPrivacyRequestKind(value: unknown): value is PrivacyRequestKind {
  return typeof value === "string" && (PRIVACY_REQUEST_KINDS as readonly string[]).includes(value);
}

export function isPrivacyRequestStatus(value: unknown): value is PrivacyRequestStatus {
  return typeof value === "string" && Object.hasOwn(PRIVACY_REQUEST_TRANSITIONS, value);
}
