import { html, type SafeHtml } from "../html.ts";
import type { SignInChoices } from "./sign-in-links.ts";

export interface AccountView {
  user: {
    login: string | null;
    name: string | null;
    email: string | null;
    createdAt: Date;
  };
  identities: { provider: string; label: string; subject: string; createdAt: Date }[];
  choices: SignInChoices & { oidcIssuer: string | undefined };
  /** What to type to confirm deletion. */
  confirmation: string;
  csrfToken: string;
  sessionHours: number;
}

export const MAX_NAME_LENGTH = 200;
export const MAX_EMAIL_LENGTH = 320;

export function accountPage(view: AccountView): SafeHtml {
  const { user, csrfToken } = view;
  const linked = new Set(view.identities.map((identity) => identity.provider));
  const canLinkGithub = view.choices.github && !linked.has("github");
  const canLinkOidc = view.choices.oidcIssuer !== undefined && !linked.has(view.choices.oidcIssuer);
  const csrf = html`<input type="hidden" name="_csrf" value="${csrfToken}">`;
  return html`<h1>Your account</h1>

<h2 id="profile">Profile</h2>
<table>
<caption>What Amistio holds about you</caption>
<tbody>
<tr><th scope="row">Name</th><td>${user.name ?? html`<span class="muted">not set</span>`}</td></tr>
<tr><th scope="row">Email</th><td>${user.email ?? html`<span class="muted">not set</span>`}</td></tr>
<tr><th scope="row">GitHub login</th><td>${user.login ?? html`<span class="muted">no GitHub account linked</span>`}</td></tr>
<tr><th scope="row">Account created</th><td><time datetime="${user.createdAt.toISOString()}">${user.createdAt.toUTCString()}</time></td></tr>
</tbody>
</table>

<h3 id="correct">Correct your details</h3>
<form method="post" action="/account/profile">
${csrf}
<label for="name">Name</label>
<input type="text" id="name" name="name" value="${user.name ?? ""}" maxlength="${MAX_NAME_LENGTH}" autocomplete="name">
<label for="email">Email</label>
<input type="email" id="email" name="email" value="${user.email ?? ""}" maxlength="${MAX_EMAIL_LENGTH}" autocomplete="email">
<p class="hint">Leave a field empty to remove it. Your GitHub login comes from GitHub and cannot be changed here.</p>
<button type="submit">Save details</button>
</form>

<h2 id="identities">Sign-in identities</h2>
<table>
<caption>Accounts you can sign in with</caption>
<thead><tr><th scope="col">Provider</th><th scope="col">Account id</th><th scope="col">Linked</th></tr></thead>
<tbody>
${view.identities.map(
  (identity) =>
    html`<tr><td>${identity.label}</td><td class="mono">${identity.subject}</td><td><time datetime="${identity.createdAt.toISOString()}">${identity.createdAt.toUTCString()}</time></td></tr>`,
)}
</tbody>
</table>
${
  canLinkGithub || canLinkOidc
    ? html`<p>Link another identity to this account:
${canLinkGithub ? html`<a class="button secondary" href="/auth/github?link=1">Link GitHub</a>` : ""}
${canLinkOidc ? html`<a class="button secondary" href="/auth/oidc?link=1">Link ${view.choices.oidcName}</a>` : ""}</p>`
    : ""
}

<h2 id="sessions">Sessions</h2>
<p>A session lasts ${view.sessionHours} hours from sign-in. Signing out ends the session of this browser only. If you
signed in somewhere you no longer control, or think someone copied your session, end every session of your account at once:
each browser, this one included, must sign in again.</p>
<form method="post" action="/account/sign-out-everywhere">
${csrf}
<button type="submit" class="secondary">Sign out everywhere</button>
</form>

<h2 id="export">Export your data</h2>
<p>Download one JSON file with everything Amistio holds about you: profile, identities (without tokens), workspaces,
the tasks you requested, the approvals you gave, the audit events you are the actor of, and your privacy requests.</p>
<form method="post" action="/account/export">
${csrf}
<button type="submit">Download my data</button>
</form>

<h2 id="delete">Delete your account</h2>
<p>Deleting your account revokes the tokens Amistio holds, then erases your account, identities, workspace memberships
and privacy requests. It cannot be undone. Tasks and approvals you took part in stay in their workspaces without your name;
the audit trail keeps only a pseudonym that nothing maps to you any more.</p>
<p><strong>Revoking Amistio's access in your GitHub${view.choices.oidcName ? html` or ${view.choices.oidcName}` : ""} settings does not delete your account by itself.</strong></p>
<form method="post" action="/account/delete">
${csrf}
<label for="confirm">Type <strong class="mono">${view.confirmation}</strong> to confirm</label>
<input type="text" id="confirm" name="confirm" autocomplete="off" required aria-describedby="confirm-hint">
<p class="hint" id="confirm-hint">This is your ${view.user.login ? "GitHub login" : view.user.email ? "email address" : "confirmation word"}.</p>
<button type="submit" class="danger">Delete my account</button>
</form>`;
}
