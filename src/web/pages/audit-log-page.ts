import type { AuditChainVerdict } from "../../audit/verify-audit-chain.ts";
import { html, type SafeHtml } from "../html.ts";
import { personLabel } from "./workspace-page.ts";

export interface AuditRow {
  seq: number;
  createdAt: Date;
  actorId: string | null;
  action: string;
  target: string | null;
  data: string;
  hash: string;
}

export interface ChainStatus {
  verdict: AuditChainVerdict | undefined;
  checkedAt: Date | undefined;
  checking: boolean;
}

export interface AuditLogView {
  workspace: { id: string; accountLogin: string };
  events: AuditRow[];
  actors: Map<string, { login: string | null; name: string | null }>;
  chain: ChainStatus;
  next: number | undefined;
  paged: boolean;
}

const MAX_DATA_SHOWN = 300;

export function auditLogPage(view: AuditLogView): SafeHtml {
  const base = `/workspaces/${view.workspace.id}/audit`;
  return html`<h1>Audit log of ${view.workspace.accountLogin}</h1>
<p><a href="/workspaces/${view.workspace.id}">Back to the workspace</a></p>
<section class="card" aria-labelledby="chain-heading" id="chain-status">
<h2 id="chain-heading">Hash chain</h2>
${chainStatus(view.chain)}
</section>
<h2 id="events">Events</h2>
${
  view.events.length === 0
    ? html`<p>${view.paged ? "No older events." : "No events yet."}</p>`
    : html`<table>
<caption>Audit events, newest first</caption>
<thead><tr><th scope="col">#</th><th scope="col">Time</th><th scope="col">Actor</th><th scope="col">Action</th><th scope="col">Target</th><th scope="col">Data</th><th scope="col">Hash</th></tr></thead>
<tbody>
${view.events.map(
  (event) => html`<tr>
<td>${event.seq}</td>
<td><time datetime="${event.createdAt.toISOString()}">${event.createdAt.toUTCString()}</time></td>
<td>${event.actorId ? personLabel(view.actors.get(event.actorId) ?? null) : html`<span class="muted">Amistio</span>`}</td>
<td class="mono">${event.action}</td>
<td class="mono">${event.target ?? ""}</td>
<td class="mono">${event.data.length > MAX_DATA_SHOWN ? `${event.data.slice(0, MAX_DATA_SHOWN)}…` : event.data}</td>
<td class="mono">${event.hash.slice(0, 12)}</td>
</tr>`,
)}
</tbody>
</table>`
}
<nav class="pagination" aria-label="Audit pages">
${view.paged ? html`<a href="${base}">Newest events</a>` : ""}
${view.next !== undefined ? html`<a href="${base}?before=${view.next}">Older events</a>` : ""}
</nav>`;
}

function chainStatus(chain: ChainStatus): SafeHtml {
  const checked = chain.checkedAt ? html` (checked ${chain.checkedAt.toUTCString()})` : "";
  if (!chain.verdict) {
    return html`<p class="status-wait">Checking the whole chain now; reload in a moment to see the result.</p>`;
  }
  if (chain.verdict.ok) {
    return html`<p class="status-ok">Verified: all ${chain.verdict.length} events of the instance's chain link up and match their hashes${checked}.</p>
${chain.checking ? html`<p class="muted">A newer check is running.</p>` : ""}`;
  }
  return html`<p class="status-bad">Broken at event ${chain.verdict.firstBadSeq}: ${chain.verdict.reason}${checked}.</p>
<p>The ${chain.verdict.length} events before it verify. Tell the operator: the trail was altered after it was written
(they can run <code>npm run audit:verify</code>).</p>`;
}
