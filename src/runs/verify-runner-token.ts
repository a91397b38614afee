import { RUNNER_TOKEN_AUDIENCE } from "@amistio/contract/runner-contract";
import { createRemoteJWKSet, errors, type JWTPayload, jwtVerify } from "jose";

export const GITHUB_ACTIONS_ISSUER = "https://token.actions.githubusercontent.com";

/** The claims of a GitHub Actions OIDC token that Amistio relies on. */
export interface RunnerClaims {
  repository: string;
  repositoryId: string;
  runId: string;
  runAttempt: string | null;
  /** `owner/repo/.github/workflows/file.yml@refs/heads/main` */
  workflowRef: string;
  /** The ref the run is on, e.g. `refs/heads/main`; null when the issuer leaves it out. */
  ref: string | null;
  eventName: string;
  runnerEnvironment: string | null;
}

export class RunnerTokenError extends Error {
  override name = "RunnerTokenError";
  /** "unavailable" when the issuer's keys could not be fetched: Amistio's problem, not the token's. */
  readonly kind: "invalid" | "unavailable";
  constructor(message: string, kind: "invalid" | "unavailable" = "invalid", options?: ErrorOptions) {
    super(message, options);
    this.kind = kind;
  }
}

export interface RunnerTokenVerifierOptions {
  /** github.com's issuer by default; `https://<host>/_services/token` on Enterprise Server. */
  issuer: string;
  /** Where the signing keys are published; `<issuer>/.well-known/jwks` by default. */
  jwksUrl?: string;
  audience?: string;
}

/**
 * Verifies a GitHub Actions OIDC token: signature against the issuer's published keys (fetched
 * and cached by jose, refetched at most every 30 s when an unknown key id shows up), issuer,
 * audience and lifetime. What the token is allowed to do is decided by the caller from its claims.
 */
export function createRunnerTokenVerifier(options: RunnerTokenVerifierOptions) {
  const issuer = options.issuer.replace(/\/+$/, "");
  const keys = createRemoteJWKSet(new URL(options.jwksUrl ?? `${issuer}/.well-known/jwks`), {
    timeoutDuration: 5_000,
  });
  const audience = options.audience ?? RUNNER_TOKEN_AUDIENCE;

  return async function verifyRunnerToken(token: string): Promise<RunnerClaims> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys, { issuer, audience, algorithms: ["RS256"], clockTolerance: 30 }));
    } catch (error) {
      const unavailable = error instanceof errors.JWKSTimeout || !(error instanceof errors.JOSEError);
      throw new RunnerTokenError(
        unavailable ? "the issuer's signing keys could not be fetched" : describe(error),
        unavailable ? "unavailable" : "invalid",
        { cause: error },
      );
    }
    const text = (name: string) => (typeof payload[name] === "string" ? (payload[name] as string) : null);
    const repository = text("repository");
    const repositoryId = text("repository_id");
    const runId = text("run_id");
    const workflowRef = text("workflow_ref");
    const eventName = text("event_name");
    if (!repository || !repositoryId || !runId || !workflowRef || !eventName) {
      throw new RunnerTokenError("the token lacks the GitHub Actions claims (repository, run_id, workflow_ref)");
    }
    return {
      repository,
      repositoryId,
      runId,
      runAttempt: text("run_attempt"),
      workflowRef,
      ref: text("ref"),
      eventName,
      runnerEnvironment: text("runner_environment"),
    };
  };
}

export type RunnerTokenVerifier = ReturnType<typeof createRunnerTokenVerifier>;

function describe(error: unknown): string {
  if (error instanceof errors.JWTExpired) return "the token has expired: ask GitHub for a new one";
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === "aud")
      return `the token is not meant for Amistio (audience must be "${RUNNER_TOKEN_AUDIENCE}")`;
    if (error.claim === "iss") return "the token was not issued by the configured GitHub Actions issuer";
    return `the token's ${error.claim} claim is not acceptable`;
  }
  if (error instanceof errors.JWKSNoMatchingKey) return "the token is signed with a key the issuer does not publish";
  if (error instanceof errors.JWSSignatureVerificationFailed) return "the token's signature does not verify";
  return "the token is not a valid GitHub Actions OIDC token";
}
