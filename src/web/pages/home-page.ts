import { html, type SafeHtml } from "../html.ts";
import { displayName, type Viewer } from "../viewer.ts";
import { type SignInChoices, signInLinks } from "./sign-in-links.ts";

export function homePage(viewer: Viewer | null, choices: SignInChoices): SafeHtml {
  return html`<h1>Amistio</h1>
<p>Amistio is a GitHub App that turns issues into planned, approved and audited work for coding agents
that run on your own GitHub Actions runners.</p>
<ol>
<li>Comment <code>/amistio plan</code> on an issue: Amistio writes a plan, with secrets redacted before any AI provider sees the text.</li>
<li>People with write access approve that exact plan version with <code>/amistio approve</code>.</li>
<li>The approved plan runs on your runners; Amistio follows the run and opens the pull request.</li>
<li>Every step is recorded in a hash-chained audit log that anyone in the workspace can verify.</li>
</ol>
<h2>${viewer ? "You are signed in" : "Sign in"}</h2>
${
  viewer
    ? html`<p>Welcome back, ${displayName(viewer)}. <a href="/workspaces">Go to your workspaces</a>.</p>`
    : html`<p>Sign in to see the workspaces you can reach, their tasks, plans, approvals, runs and audit log.
Amistio never sees or stores a password.</p>${signInLinks(choices)}`
}
<p><a href="/privacy">How Amistio handles your data</a></p>`;
}
