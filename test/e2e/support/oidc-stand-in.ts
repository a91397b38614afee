import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import Provider from "oidc-provider";

export interface OidcStandIn {
  /** The issuer URL Amistio discovers. */
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Registers Amistio as the client; called once Amistio's address is known. */
  configure(redirectUri: string): void;
  /** Tokens revoked through the revocation endpoint. */
  revocations: number;
  close(): Promise<void>;
}

/**
 * A real OpenID Connect provider (`oidc-provider`) on 127.0.0.1 with its development login and
 * consent pages: any login is accepted and becomes the subject; the email and name are derived from it.
 * It listens before it is configured, so the issuer URL can go into Amistio's environment first.
 */
export async function startOidcStandIn(): Promise<OidcStandIn> {
  const clientId = "amistio-e2e";
  const clientSecret = randomBytes(24).toString("hex");
  let handler: ((request: IncomingMessage, response: ServerResponse) => void) | undefined;
  let revocations = 0;
  const server = createServer((request, response) => {
    if (!handler) {
      response.writeHead(503).end();
      return;
    }
    if (request.url?.startsWith("/token/revocation")) revocations++;
    handler(request, response);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    issuer,
    clientId,
    clientSecret,
    configure(redirectUri) {
      const provider = new Provider(issuer, {
        clients: [
          {
            client_id: clientId,
            client_secret: clientSecret,
            redirect_uris: [redirectUri],
            response_types: ["code"],
            grant_types: ["authorization_code"],
            token_endpoint_auth_method: "client_secret_post",
          },
        ],
        async findAccount(_ctx, sub) {
          return {
            accountId: sub,
            async claims() {
              return { sub, email: `${sub}@oidc.example`, email_verified: true, name: `${sub} (OIDC)` };
            },
          };
        },
        claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
        features: { devInteractions: { enabled: true }, revocation: { enabled: true } },
        cookies: { keys: [randomBytes(16).toString("hex")] },
      });
      handler = provider.callback();
    },
    get revocations() {
      return revocations;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
