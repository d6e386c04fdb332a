/**
 * Page tokens are opaque to clients (Google's are); inside they carry the name of the last
 * item of the page, and the next page starts after it. Both transports use these.
 */
export const encodePageToken = (after: string): string => Buffer.from(after).toString('base64url');

export function decodePageToken(token: string | undefined): string | undefined {
  return token ? Buffer.from(token, 'base64url').toString('utf8') : undefined;
}
