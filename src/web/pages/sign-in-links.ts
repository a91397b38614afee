import { html, type SafeHtml } from "../html.ts";

export interface SignInChoices {
  github: boolean;
  oidcName: string | undefined;
}

/** Sign-in is a plain link (GET) to the provider, so it works without JavaScript. */
export function signInLinks(choices: SignInChoices, returnTo?: string): SafeHtml {
  const query = returnTo ? `?returnTo=${encodeURIComponent(returnTo)}` : "";
  if (!choices.github && !choices.oidcName) {
    return html`<p>Sign-in is not configured on this instance yet: the operator sets
<code>GITHUB_CLIENT_ID</code> and <code>GITHUB_CLIENT_SECRET</code> (see docs/web.md).</p>`;
  }
  return html`<p>
${choices.github ? html`<a class="button" href="/auth/github${query}">Sign in with GitHub</a>` : ""}
${choices.oidcName ? html`<a class="button secondary" href="/auth/oidc${query}">Sign in with ${choices.oidcName}</a>` : ""}
</p>`;
}
