import {
  isPrivacyRequestStatus,
  MAX_RESOLUTION_NOTE,
  PRIVACY_REQUEST_TRANSITIONS,
} from "../../privacy/privacy-requests.ts";
import { html, type SafeHtml } from "../html.ts";
import { type PrivacyRequestRow, STATUS_LABELS } from "./privacy-requests-page.ts";

export interface ManagedRequest extends PrivacyRequestRow {
  requester: { id: string; login: string | null; name: string | null; email: string | null } | null;
}

/** The operator's view: every request, with the moves its state allows. */
export function manageRequestsPage(requests: ManagedRequest[], csrfToken: string): SafeHtml {
  return html`<h1>Manage privacy requests</h1>
<p>You see this page because your GitHub login is listed in <code>AMISTIO_ADMINS</code>. Each change is recorded in
the audit trail. Requests move from open to in progress, then to completed or rejected.</p>
${
  requests.length === 0
    ? html`<p>There are no privacy requests.</p>`
    : requests.map((request) => {
        const next = isPrivacyRequestStatus(request.status) ? PRIVACY_REQUEST_TRANSITIONS[request.status] : [];
        const who = request.requester
          ? [request.requester.login, request.requester.name, request.requester.email].filter(Boolean).join(" · ")
          : "";
        return html`<section class="card" aria-labelledby="request-${request.id}">
<h2 id="request-${request.id}">${request.kind} request from ${who || "an unnamed account"}</h2>
<p class="muted">Filed ${request.createdAt.toUTCString()} · account <span class="mono">${request.requester?.id ?? "deleted"}</span> ·
status <strong>${STATUS_LABELS[request.status] ?? request.status}</strong></p>
<p>${request.details}</p>
${request.resolutionNote ? html`<p><strong>Note:</strong> ${request.resolutionNote}</p>` : ""}
${
  next.length > 0
    ? html`<form method="post" action="/privacy/requests/${request.id}/status">
<input type="hidden" name="_csrf" value="${csrfToken}">
<label for="status-${request.id}">New status</label>
<select id="status-${request.id}" name="status">
${next.map((status) => html`<option value="${status}">${STATUS_LABELS[status]}</option>`)}
</select>
<label for="note-${request.id}">Note to the person (optional)</label>
<textarea id="note-${request.id}" name="note" maxlength="${MAX_RESOLUTION_NOTE}"></textarea>
<button type="submit">Update request</button>
</form>`
    : ""
}
</section>`;
      })
}`;
}
