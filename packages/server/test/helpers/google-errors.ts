/**
 * Google errors as a googleapis call sees them, and resource-name helpers, shared by the REST
 * end-to-end suites.
 */
export const topicIn = (project: string, id: string) => `${project}/topics/${id}`;
export const subIn = (project: string, id: string) => `${project}/subscriptions/${id}`;
export const idOf = (name: string) => name.slice(name.lastIndexOf('/') + 1);

/** A fresh project per call, e.g. `projects/adm-3-lq2x`, so lists hold only one test's items. */
export function projectNamer(prefix: string): () => string {
  let counter = 0;
  return () => `projects/${prefix}-${++counter}-${Date.now().toString(36)}`;
}

export interface GoogleFailure {
  code: number;
  status: string;
  message: string;
  envelopeCode: number;
}

/** The Google error a googleapis call rejected with: HTTP status and the `{"error":{...}}` envelope. */
export async function failure(call: Promise<unknown>): Promise<GoogleFailure> {
  try {
    await call;
  } catch (error: any) {
    const body = error.response?.data?.error;
    if (!body) throw error;
    return { code: error.response.status, status: body.status, message: body.message, envelopeCode: body.code };
  }
  throw new Error('the call succeeded; a Google error was expected');
}

/** Pub/Sub's production 404 for a missing resource. */
export const notFound = (name: string): GoogleFailure => ({
  code: 404,
  envelopeCode: 404,
  status: 'NOT_FOUND',
  message: `Resource not found (resource=${idOf(name)}).`,
});
