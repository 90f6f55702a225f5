// The portal's only way to the service: POST /graphql with the pasted bearer token.
// Documents come typed from codegen (src/generated/), so results and variables are
// checked against schema/schema.graphql at build time.
import type { TypedDocumentString } from "./generated/graphql";

export interface GraphQLErrorEntry {
  message: string;
  extensions?: { code?: string; requestId?: string };
}

/** A top-level GraphQL error (or a transport failure), with the contract's error code. */
export class ApiError extends Error {
  readonly code: string;

  constructor(message: string, code: string) {
    super(message);
    this.code = code;
  }
}

/** Where the API lives: the page's own origin, since `credits serve` serves the portal. */
export const API_PATH = "/graphql";

export async function request<TResult, TVariables>(
  token: string,
  document: TypedDocumentString<TResult, TVariables>,
  variables?: TVariables,
): Promise<TResult> {
  let response: Response;
  try {
    response = await fetch(API_PATH, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: document.toString(), variables: variables ?? {} }),
    });
  } catch {
    throw new ApiError("The service cannot be reached.", "NETWORK");
  }
  let body: { data?: TResult | null; errors?: GraphQLErrorEntry[] };
  try {
    body = await response.json();
  } catch {
    throw new ApiError(`The service answered ${response.status}.`, "NETWORK");
  }
  const first = body.errors?.[0];
  if (first) {
    throw new ApiError(first.message, first.extensions?.code ?? "INTERNAL");
  }
  if (!body.data) {
    throw new ApiError("The service answered no data.", "INTERNAL");
  }
  return body.data;
}
