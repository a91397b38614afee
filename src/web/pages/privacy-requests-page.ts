import {
  MAX_PRIVACY_REQUEST_DETAILS,
  PRIVACY_REQUEST_KIND_LABELS,
  PRIVACY_REQUEST_KINDS,
} from "../../privacy/privacy-requests.ts";
import { html, type SafeHtml } from "../html.ts";

export interface PrivacyRequestRow {
  id: string;
  kind: string;
  details: string;
  status: string;
  resolutionNote: string | null;
  createdAt: Date;
  resolvedAt: Date | null;
}

export const STATUS_LABELS: Record<string, string> = {
  open: "Open",
  in_progress: "In progress",
  completed: "Completed",
  rejected: "Rejected",
};

export function privacyRequestsPage(requests: PrivacyRequestRow[], csrfToken: string): SafeHtml {
  return html`<h1>Privacy requests</h1>
<p>Ask the operator to give you access to, correct, restrict, stop (object to) or delete data about you. You can do
several of these yourself on <a href="/account">your account page</a>: export your data, correct your name and email,
or delete your account.</p>

<h2 id="new">File a request</h2>
<form method="post" action="/privacy/requests">
<input type="hidden" name="_csrf" value="${csrfToken}">
<label for="kind">What do you ask for?</label>
<select id="kind" name="kind" required>
${PRIVACY_REQUEST_KINDS.map((kind) => html`<option value="${kind}">${PRIVACY_REQUEST_KIND_LABELS[kind]}</option>`)}
</select>
<label for="details">Details</label>
<textarea id="details" name="details" required maxlength="${MAX_PRIVACY_REQUEST_DETAILS}" aria-describedby="details-hint"></textarea>
<p class="hint" id="details-hint">Which data, and what should happen to it (at most ${MAX_PRIVACY_REQUEST_DETAILS} characters).</p>
<button type="submit">Send request</button>
</form>

<h2 id="requests">Your requests</h2>
${
  requests.length === 0
    ? html`<p>You have not filed any privacy request.</p>`
    : html`<table>
<caption>Requests you filed, newest first</caption>
<thead><tr><th scope="col">Filed</th><th scope="col">Kind</th><th scope="col">Details</th><th scope="col">Status</th><th scope="col">Operator's note</th></tr></thead>
<tbody>
${requests.map(
  (request) => html`<tr>
<td><time datetime="${request.createdAt.toISOString()}">${request.createdAt.toUTCString()}</time></td>
<td>${request.kind}</td>
<td>${request.details}</td>
<td>${STATUS_LABELS[request.status] ?? request.status}${request.resolvedAt ? html`<br><span class="muted">${request.resolvedAt.toUTCString()}</span>` : ""}</td>
<td>${request.resolutionNote ?? ""}</td>
</tr>`,
)}
</tbody>
</table>`
}`;
}
